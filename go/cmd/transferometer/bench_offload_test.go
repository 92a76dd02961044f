package main

import (
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// BenchmarkOffload: forwarding throughput with an fw4-style flowtable
// offloading the flow, without accounting and with the netdev placement
// counting 254 hosts (the iperf host among them) on the LAN port. Goal:
// ratio ≥ 0.90. It needs a flowtable, so it runs in the guest kernel:
//
//	make bench-offload
//
// As BenchmarkForwarding: one TCP stream host → Internet4, offloads off,
// median of 7 runs, the configurations in interleaved rounds; -benchtime=1x.
func BenchmarkOffload(b *testing.B) {
	testlan.RequireTools(b, "iperf3")
	br := newBenchRig(b, "netdev", 1)
	requireFlowtable(b, br.rig)
	h := br.lan.Hosts[0]
	fw4Flowtable(b, br.rig, "lan1", h)
	stop := startIperfServer(b, br.lan.WAN, br.lan.Internet4.String())
	defer stop()

	type config struct {
		name  string
		setup func(b *testing.B)
		runs  []float64
	}
	netdevTable := func() string { return br.nftTable(b, "netdev") }
	configs := []*config{
		{name: "flowtable/accounting=off", setup: func(b *testing.B) {
			br.launch(b, br.env(), "teardown")
			br.populated = -1
			if netdevTable() != "" {
				b.Fatal("netdev table left after teardown")
			}
		}},
		{name: "flowtable/netdev,hosts=254", setup: func(b *testing.B) {
			br.populate(b, 253)
			br.launch(b, br.env(), "arp-add", h.MAC.String(), h.IP4.String())
			br.populated = -1
			if !strings.Contains(netdevTable(), "chain in_lan1 {") {
				b.Fatalf("not counting on lan1:\n%s", netdevTable())
			}
		}},
	}
	before := nftCounters(b, br.rig, br.lan.Router, "inet", "fw4")["audit"]
	// Emulation (TCG) makes single runs noisy: seven interleaved rounds.
	for round := 0; round < 7; round++ {
		for _, c := range configs {
			c.setup(b)
			c.runs = append(c.runs, iperfRun(b, br, h.NS))
		}
	}
	// The flowtable carried the streams: the forward hook saw a sliver.
	after := nftCounters(b, br.rig, br.lan.Router, "inet", "fw4")["audit"]
	b.Logf("forward hook saw %d packets of the iperf host over all runs", after[0]-before[0])
	for _, c := range configs {
		c := c
		b.Run(c.name, func(b *testing.B) {
			if b.N == 1 {
				b.Logf("runs: %.3f Gbit/s", c.runs)
			}
			reportGbps(b, c.runs)
		})
	}
}
