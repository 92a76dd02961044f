package netfilter_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// BenchmarkNFTablesForwarding: iperf3 host → Internet4 through the router
// (offloads off, 4 s after 1 s omitted, 1 and 4 TCP streams; conntrack on,
// as fw4 has it), interleaved
// rounds (TRANSFEROMETER_BENCH_ROUNDS, default 3) of: no tables; the static
// sets (the form a kernel without dynamic sets gets) with 254 hosts given
// by Sync; the dynamic sets with 253 hosts given by Sync and the iperf
// host counted from its packets alone; both forms in the forward and the
// netdev placement. Reports the median Gbit/s of each and its ratio to no
// accounting. Run with -benchtime=1x (b.N does not scale the work).
func BenchmarkNFTablesForwarding(b *testing.B) {
	testlan.RequireTools(b, "iperf3")
	rounds := 3
	if v := os.Getenv("TRANSFEROMETER_BENCH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n%2 == 0 {
			b.Fatalf("TRANSFEROMETER_BENCH_ROUNDS=%q: want an odd number", v)
		}
		rounds = n
	}
	lan := testlan.New(b, testlan.Options{NumHosts: 1})
	h := lan.Hosts[0]
	ns := routerNS(b, lan)
	// A stand-in for fw4, in every configuration: conntrack on every
	// forwarded packet, as on any OpenWrt router (the forward placement's
	// `ct state` test would otherwise turn it on for itself alone).
	lan.Run(b, lan.Router, "nft", "add", "table", "inet", "fwbench")
	lan.Run(b, lan.Router, "nft", "add", "chain", "inet", "fwbench", "forward", "{", "type", "filter", "hook", "forward", "priority", "0", ";", "}")
	lan.Run(b, lan.Router, "nft", "add", "rule", "inet", "fwbench", "forward", "ct", "state", "established,related", "accept")
	ctx, cancel := context.WithCancel(context.Background())
	srv := lan.Exec(ctx, lan.WAN, "iperf3", "-s", "-B", lan.Internet4.String(), "-p", "5201")
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); _ = srv.Wait() })

	var synth []netip.Addr
	for i := 0; i < 253; i++ {
		synth = append(synth, netip.AddrFrom4([4]byte{10, 77, 0, byte(100 + i%150)}))
		if i >= 150 {
			synth[i] = netip.AddrFrom16([16]byte{0xfd, 0x77, 15: byte(i)})
		}
	}
	prefixes := func() ([]netip.Prefix, error) { return []netip.Prefix{lan.LAN4, lan.LAN6}, nil }
	backend := func(netdev, refuse bool) *netfilter.NFTables {
		o := netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: true, NetNS: ns}
		if netdev {
			o.Netdev = &netfilter.NetdevOptions{LANDevice: testlan.Bridge, Prefixes: prefixes}
		} else {
			o.Prefixes = prefixes
		}
		be, err := netfilter.NewNFTables(o)
		if err != nil {
			b.Fatal(err)
		}
		if refuse {
			netfilter.RefuseDynamic(be)
		}
		return be
	}
	sync := func(be netfilter.Backend, hosts []netip.Addr) {
		snap, err := be.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := be.Sync(context.Background(), snap, hosts); err != nil {
			b.Fatal(err)
		}
	}
	var active netfilter.Backend
	use := func(be *netfilter.NFTables, hosts []netip.Addr) func() {
		return func() {
			if active != nil {
				if err := active.Teardown(context.Background()); err != nil {
					b.Fatal(err)
				}
				active = nil
			}
			if be != nil {
				sync(be, hosts)
				active = be
			}
		}
	}
	withH := append(append([]netip.Addr(nil), synth...), h.IP4)
	configs := []struct {
		name  string
		setup func()
		runs  map[int][]float64
	}{
		{name: "accounting=off", setup: use(nil, nil)},
		{name: "static/hosts=254", setup: use(backend(false, true), withH)},
		{name: "dynamic/hosts=254", setup: use(backend(false, false), synth)},
		{name: "netdev-static/hosts=254", setup: use(backend(true, true), withH)},
		{name: "netdev-dynamic/hosts=254", setup: use(backend(true, false), synth)},
	}
	for round := 0; round < rounds; round++ {
		for i := range configs {
			c := &configs[i]
			c.setup()
			if c.runs == nil {
				c.runs = map[int][]float64{}
			}
			for _, p := range []int{1, 4} {
				c.runs[p] = append(c.runs[p], iperf(b, lan, h.NS, p))
			}
		}
	}
	use(nil, nil)()
	for _, p := range []int{1, 4} {
		off := median(configs[0].runs[p])
		for _, c := range configs {
			c, p := c, p
			b.Run(fmt.Sprintf("streams=%d/%s", p, c.name), func(b *testing.B) {
				m := median(c.runs[p])
				b.Logf("runs %.2f Gbit/s; median %.2f, ratio to no accounting %.2f", c.runs[p], m, m/off)
				b.ReportMetric(m, "Gbit/s")
				b.ReportMetric(m/off, "ratio")
			})
		}
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// iperf runs one iperf3 client (testlan.IperfGbps).
func iperf(b *testing.B, lan *testlan.LAN, ns string, streams int) float64 {
	b.Helper()
	return lan.IperfGbps(b, ns, streams)
}
