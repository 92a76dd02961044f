package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
)

// BenchmarkDaemonRSS: the resident daemon's memory at 1000 hosts, after a
// few collections (refresh_interval 1 s): VmRSS and its peak VmHWM, read
// from /proc (docs/benchmarks.md has the goal and the numbers). Run once:
// -benchtime=1x.
func BenchmarkDaemonRSS(b *testing.B) {
	for _, v := range []string{"nft", "nftables"} {
		b.Run(v, func(b *testing.B) {
			br := newBenchRig(b, v, 1)
			const n = 1000
			h := ledger.NewHosts()
			now := time.Now().Unix()
			for i := 0; i < n; i++ {
				ip, mac := synthHost(i)
				h.IPs[ip] = ledger.IPEntry{MAC: mac, FirstSeen: now, LastSeen: now}
				h.Devices[mac] = &ledger.DeviceInfo{Hostname: "bench-" + strconv.Itoa(i), FirstSeen: now, LastSeen: now}
			}
			if err := (ledger.Store{Dir: br.dbDir}).SaveHosts(h); err != nil {
				b.Fatal(err)
			}
			br.writeConfig(b, fmt.Sprintf("\tlist subnet '%s'\n\toption persist_dir '%s'\n\toption refresh_interval '1'\n\toption live_port '0'\n\toption live_tls_port '0'\n",
				benchSubnet, filepath.Join(b.TempDir(), "persist")))
			br.launch(b, br.env(), "collect")
			if hs := br.hosts(b); len(hs) != n {
				b.Fatalf("%d hosts, want %d", len(hs), n)
			}
			for i := 0; i < b.N; i++ {
				d := br.startDaemon(b)
				time.Sleep(6 * time.Second) // five collections or so
				rss, hwm := procMem(b, d.cmd.Process.Pid)
				d.stop(b)
				b.ReportMetric(rss, "RSS-MiB")
				b.ReportMetric(hwm, "HWM-MiB")
			}
		})
	}
}

// procMem reads VmRSS and VmHWM (MiB) of a process.
func procMem(b testing.TB, pid int) (rss, hwm float64) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	if rss == 0 {
		b.Fatalf("no VmRSS for pid %d", pid)
	}
	return rss, hwm
}
