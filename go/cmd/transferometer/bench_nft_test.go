package main

// Benchmarks of the nftables backend side by side with the
// iptables one (iptables-nft) and with no accounting, in one LAN and one
// run, so load drift on the shared machine hits them alike. Run with
// -benchtime=1x for BenchmarkNFTForwarding (b.N does not scale its work).

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/testlan"
)

// useBackend points the bench rig at a backend ("nft": iptables-nft,
// "nftables": native); the next run switches and removes the other's rules.
func (br *benchRig) useBackend(b testing.TB, v, persist string) {
	b.Helper()
	br.variant = v
	br.writeConfig(b, "\tlist subnet '"+benchSubnet+"'\n\toption persist_dir '"+persist+"'\n")
	br.populated = -1
}

// hostRuleCount counts the per-host upload rules (or set elements) of IPv4.
func (br *benchRig) hostRuleCount(b testing.TB) int {
	b.Helper()
	n := 0
	for _, l := range br.ruleLines(b) {
		// Host rules only: the LAN prefixes' catch-alls follow them.
		if strings.HasPrefix(l, "v4: -A TRANSFEROMETER_FORWARD -s ") && strings.Contains(l, "/32 ") {
			n++
		}
	}
	return n
}

// populateAny is populate for either backend: n synthetic hosts, one collect.
func (br *benchRig) populateAny(b testing.TB, n int) {
	b.Helper()
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
	br.launch(b, br.env(), "collect")
	if got := br.hostRuleCount(b); got != n {
		b.Fatalf("%d upload rules/elements, want %d", got, n)
	}
}

// BenchmarkNFTArpAdd: arp-add latency of a new host with 254 accounted,
// iptables-nft vs nftables (goal for nftables: ≤ 5 ms, no process launch
// besides our own).
func BenchmarkNFTArpAdd(b *testing.B) {
	br := newBenchRig(b, "nft", 1)
	persist := filepath.Join(b.TempDir(), "persist")
	for _, v := range []string{"nft", "nftables"} {
		v := v
		name := map[string]string{"nft": "iptables-nft", "nftables": "nftables"}[v]
		b.Run(name+"/hosts=254", func(b *testing.B) {
			br.useBackend(b, v, persist)
			br.populateAny(b, 254)
			durs := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				ip, mac := br.newHost()
				durs = append(durs, br.timed(b, "arp-add", mac, ip))
				br.launch(b, br.env(), "arp-del", mac, ip)
			}
			if got := br.hostRuleCount(b); got != 254 {
				b.Fatalf("%d hosts after the runs, want 254", got)
			}
			reportLatency(b, durs)
		})
	}
}

// BenchmarkNFTForwarding: iperf3 host → Internet4 through the router,
// offloads off, 1 and 4 TCP streams, 4 s after 1 s omitted, median of 3
// interleaved rounds (TRANSFEROMETER_BENCH_ROUNDS): no accounting, iptables-nft with 254 hosts (the
// iperf host's rules last: 506 rules walked), nftables with 254 hosts
// (two set lookups per packet).
func BenchmarkNFTForwarding(b *testing.B) {
	testlan.RequireTools(b, "iperf3")
	br := newBenchRig(b, "nft", 1)
	h := br.lan.Hosts[0]
	persist := filepath.Join(b.TempDir(), "persist")
	stop := startIperfServer(b, br.lan.WAN, br.lan.Internet4.String())
	defer stop()
	with := func(v string) func(b *testing.B) {
		return func(b *testing.B) {
			br.useBackend(b, v, persist)
			br.populateAny(b, 253)
			br.launch(b, br.env(), "arp-add", h.MAC.String(), h.IP4.String())
			if got := br.hostRuleCount(b); got != 254 {
				b.Fatalf("%d hosts, want 254", got)
			}
		}
	}
	forwardingRounds(b, br, h.NS, []forwardingConfig{
		{name: "accounting=off", setup: func(b *testing.B) {
			br.launch(b, br.env(), "teardown")
			if s := br.save(b); strings.Contains(s, "TRANSFEROMETER") {
				b.Fatalf("rules of ours present:\n%s", s)
			}
		}},
		{name: "iptables-nft/hosts=254", setup: with("nft")},
		{name: "nftables/hosts=254", setup: with("nftables")},
	})
}

// forwardingConfig is one setup a forwarding benchmark compares.
type forwardingConfig struct {
	name  string
	setup func(b *testing.B)
}

// forwardingRounds measures iperf3 from ns through the router with one
// and four streams under each config, the configs taken in turn round
// after round so that the machine's drift falls on all of them alike,
// and reports each config and stream count as its own sub-benchmark.
func forwardingRounds(b *testing.B, br *benchRig, ns string, configs []forwardingConfig) {
	streams := []int{1, 4}
	runs := make([]map[int][]float64, len(configs))
	load := loadavg()
	for round := 0; round < benchRounds(b); round++ {
		for i, c := range configs {
			c.setup(b)
			if runs[i] == nil {
				runs[i] = map[int][]float64{}
			}
			for _, p := range streams {
				runs[i][p] = append(runs[i][p], iperfStreams(b, br, ns, p))
			}
		}
	}
	loadEnd := loadavg()
	for _, p := range streams {
		for i, c := range configs {
			r := runs[i][p]
			b.Run(fmt.Sprintf("streams=%d/%s", p, c.name), func(b *testing.B) {
				b.Logf("runs: %.2f Gbit/s (load %s → %s)", r, load, loadEnd)
				reportGbps(b, r)
			})
		}
	}
}

// iperfStreams is iperfRun with -P streams.
func iperfStreams(b testing.TB, br *benchRig, ns string, streams int) float64 {
	b.Helper()
	return br.lan.IperfGbps(b, ns, streams)
}

// benchRounds is 3, or TRANSFEROMETER_BENCH_ROUNDS (odd, for a median) on a
// noisy machine.
func benchRounds(b *testing.B) int {
	v := os.Getenv("TRANSFEROMETER_BENCH_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n%2 == 0 {
		b.Fatalf("TRANSFEROMETER_BENCH_ROUNDS=%q: want an odd number", v)
	}
	return n
}
