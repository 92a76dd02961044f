package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/testlan"
)

// BenchmarkDaemonNeighbour: the resident daemon hearing of a neighbour —
// the time from the kernel learning it (a neighbour added over rtnetlink
// in the router namespace) to its address being in the ledger, after which
// the same locked run gives it its rules (iptables) or is its attribution
// (nftables). p50 and p99 over b.N new neighbours, with 254 hosts known.
func BenchmarkDaemonNeighbour(b *testing.B) {
	for _, v := range []string{"nft", "nftables"} {
		b.Run(v, func(b *testing.B) {
			br := newBenchRig(b, v, 1)
			br.populateAny(b, 253)
			br.writeConfig(b, fmt.Sprintf("\tlist subnet '%s'\n\toption persist_dir '%s'\n\toption refresh_interval '3600'\n\toption live_port '0'\n\toption live_tls_port '0'\n",
				benchSubnet, filepath.Join(b.TempDir(), "persist")))
			d := br.startDaemon(b)
			waitFor(b, 20*time.Second, "the daemon's start", func() bool { return strings.Contains(d.out.String(), "started") })
			f, err := os.Open(filepath.Join("/run/netns", br.lan.Router))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(f.Fd())})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			links, err := c.Link.List()
			if err != nil {
				b.Fatal(err)
			}
			idx := uint32(0)
			for _, l := range links {
				if l.Attributes != nil && l.Attributes.Name == testlan.Bridge {
					idx = l.Index
				}
			}
			if idx == 0 {
				b.Fatalf("no %s in the router namespace", testlan.Bridge)
			}
			store := ledger.Store{Dir: br.dbDir}
			durs := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ip := netip.AddrFrom4([4]byte{10, 80, 200 + byte(i/250), byte(1 + i%250)}) // in benchSubnet, past the synthetic hosts
				mac := net.HardwareAddr{0x02, 0x55, 0, 0, byte(i >> 8), byte(i)}
				t0 := time.Now()
				if err := c.Neigh.New(&rtnetlink.NeighMessage{Family: unix.AF_INET, Index: idx, State: unix.NUD_REACHABLE,
					Attributes: &rtnetlink.NeighAttributes{Address: ip.AsSlice(), LLAddress: mac}}); err != nil {
					b.Fatal(err)
				}
				for {
					h, _, err := store.Peek()
					if err == nil {
						if _, ok := h.IPs[ip]; ok {
							break
						}
					}
					if time.Since(t0) > 10*time.Second {
						b.Fatalf("neighbour %v never reached the ledger\n%s", ip, d.out.String())
					}
					time.Sleep(200 * time.Microsecond)
				}
				durs = append(durs, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
			b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
			d.stop(b)
		})
	}
}

// BenchmarkDoorsVsStart: the doors as processes against the floor every
// process pays, the binary's own start (--version), interleaved in one run
// on nftables with 254 hosts and the daemon running: a hook `arp-add` of a
// new host (its arp-del untimed after it) and ubus `usage` through the
// plugin. Reported as p50s and as ratios to the start's p50. Twice: with
// the ledger, lock and PID file on a tmpfs, as on a router (db_dir under
// /var, which is /tmp, a tmpfs), and where the rig puts them otherwise
// (t.TempDir(), on this machine's disk, where every fsync waits for it).
func BenchmarkDoorsVsStart(b *testing.B) {
	for _, ram := range []bool{true, false} {
		b.Run(map[bool]string{true: "db=tmpfs", false: "db=tempdir"}[ram], func(b *testing.B) {
			br := newBenchRig(b, "nftables", 1)
			if ram {
				ramLedger(b, br)
			}
			br.writeConfig(b, fmt.Sprintf("\tlist subnet '%s'\n\toption persist_dir '%s'\n\toption refresh_interval '30'\n\toption live_port '0'\n\toption live_tls_port '0'\n",
				benchSubnet, filepath.Join(b.TempDir(), "persist")))
			br.populateAny(b, 253)
			snap := filepath.Join(br.dbDir, "usage.snapshot")
			d := br.startDaemon(b)
			defer d.stop(b)
			waitFor(b, 20*time.Second, "the daemon's usage snapshot", func() bool { _, err := os.Stat(snap); return err == nil })
			plugin := rpcdPlugin(b, br.bin)
			env := br.env()
			var start, hook, usage []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := br.ns.run(br.bin, []string{"--version"}, env, nil)
				if r.code != 0 {
					b.Fatalf("--version: %s", r.stderr)
				}
				start = append(start, r.dur)
				ip, mac := synthHost(1000 + i)
				r = br.ns.run(br.bin, []string{"arp-add", mac.String(), ip.String()}, env, nil)
				if r.code != 0 || len(r.stderr) > 0 {
					b.Fatalf("arp-add: exit %d, %s", r.code, r.stderr)
				}
				hook = append(hook, r.dur)
				r = br.ns.run(plugin, []string{"call", "usage"}, env, []byte("{ }"))
				if r.code != 0 || !strings.Contains(string(r.stdout), `"hosts"`) {
					b.Fatalf("usage: %s %s", r.stdout, r.stderr)
				}
				usage = append(usage, r.dur)
				b.StopTimer()
				if r := br.ns.run(br.bin, []string{"arp-del", mac.String(), ip.String()}, env, nil); r.code != 0 {
					b.Fatalf("arp-del: %s", r.stderr)
				}
				b.StartTimer()
			}
			b.StopTimer()
			// The events handed to the daemon are applied, none left
			// waiting (a binary without the handoff has no spool).
			waitFor(b, 20*time.Second, "the handed-over events applied", func() bool {
				st, err := os.Stat(filepath.Join(br.dbDir, "handoff.spool"))
				return os.IsNotExist(err) || err == nil && st.Size() == 0
			})
			s, h, u := p50ms(start), p50ms(hook), p50ms(usage)
			b.ReportMetric(s, "start-p50-ms")
			b.ReportMetric(h, "hook-p50-ms")
			b.ReportMetric(u, "usage-p50-ms")
			b.ReportMetric(h/s, "hook/start")
			b.ReportMetric(u/s, "usage/start")
		})
	}
}

// ramLedger moves the rig's lock, PID file and ledger to a tmpfs: /run when
// newBenchRig found it one, else a tmpfs mounted for the benchmark (and
// unmounted after), strictly below /tmp as the settings want.
func ramLedger(b *testing.B, br *benchRig) {
	b.Helper()
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs(br.dbDir, &st); err == nil && st.Type == tmpfsMagic {
		return
	}
	dir := b.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		testlan.SkipOrFail(b, "mount a tmpfs for the ledger: %v", err)
	}
	b.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	br.lockDir, br.dbDir = filepath.Join(dir, "lock"), filepath.Join(dir, "db")
	if err := os.MkdirAll(br.dbDir, 0o755); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkChurn: `usage` (the CLI's, which collects) and a collection at
// 254 and 4096 hosts, before and after 3000 churning MACs (phones that
// randomise their MAC, or one client forging ARP) over 100 addresses. The
// churn's aftermath is written into the ledger as the events would leave
// it without a bound — 3000 devices with bytes, the last 100 holding the
// addresses — and the first collection applies the bound (max_devices at
// its default 1024, or just above the active hosts at 4096): the table,
// and the work of every later run, stays bounded.
func BenchmarkChurn(b *testing.B) {
	for _, n := range []int{254, 4096} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			br := newBenchRig(b, "nftables", 1)
			br.populateAny(b, n-1)
			env := br.env()
			measure := func() (float64, float64) {
				var coll, use []time.Duration
				for i := 0; i < 15; i++ {
					coll = append(coll, br.launch(b, env, "collect").dur)
					use = append(use, br.launch(b, env, "usage", "--json").dur)
				}
				return p50ms(coll), p50ms(use)
			}
			collBefore, useBefore := measure()

			store := ledger.Store{Dir: br.dbDir}
			h, tr, _, err := store.Load(time.Now())
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().Unix()
			for i := 0; i < 3000; i++ {
				mac := macaddr.MAC{0x02, 0x66, 0, 0, byte(i >> 8), byte(i)}
				h.Devices[mac] = &ledger.DeviceInfo{FirstSeen: now, LastSeen: now - int64(3000-i)}
				tr.Totals[mac] = ledger.Usage{DownloadBytes: uint64(1000 + i)}
				tr.Period.Usage[mac] = tr.Totals[mac]
				if i >= 2900 {
					h.IPs[netip.AddrFrom4([4]byte{10, 80, 250, byte(i - 2900)})] = ledger.IPEntry{MAC: mac, FirstSeen: now, LastSeen: now}
				}
			}
			if err := store.SaveHosts(h); err != nil {
				b.Fatal(err)
			}
			if err := store.SaveTransfer(tr); err != nil {
				b.Fatal(err)
			}
			// The bound the settings give a router: max_devices at its
			// default (1024) or, at 4096 active hosts, just above them.
			limit := 1024
			if n > limit {
				limit = n + 16
			}
			br.always = fmt.Sprintf("\toption max_devices '%d'\n", limit)
			br.writeConfig(b, "\tlist subnet '"+benchSubnet+"'\n\toption persist_dir '"+filepath.Join(b.TempDir(), "persist")+"'\n")
			br.launch(b, env, "collect") // the bound applies
			collAfter, useAfter := measure()
			var u struct {
				Hosts   []json.RawMessage `json:"hosts"`
				Expired struct {
					Devices int `json:"devices"`
				} `json:"expired"`
			}
			if err := json.Unmarshal(br.launch(b, env, "usage", "--json").stdout, &u); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(collBefore, "collect-before-ms")
			b.ReportMetric(collAfter, "collect-after-ms")
			b.ReportMetric(useBefore, "usage-before-ms")
			b.ReportMetric(useAfter, "usage-after-ms")
			b.ReportMetric(float64(len(u.Hosts)), "devices-after")
			b.ReportMetric(float64(u.Expired.Devices), "expired")
		})
	}
}
