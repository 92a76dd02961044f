package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// BenchmarkQuotaForwarding: iperf3 host → Internet4 through the router
// with the nftables backend accounting 254 hosts, without quotas and with
// every one of them under quota (allowances no run reaches): one quota
// per device (254 kernel quota objects, one map lookup per packet and
// direction, then the device's own chain) and one quota shared by all 254.
// 1 and 4 TCP streams, median of 3 interleaved rounds
// (TRANSFEROMETER_BENCH_ROUNDS). Run with -benchtime=1x.
func BenchmarkQuotaForwarding(b *testing.B) { quotaForwarding(b, "nftables") }

// BenchmarkQuotaForwardingNetdev is BenchmarkQuotaForwarding in the
// netdev placement: counting and quotas on br-lan's port (no flowtable:
// this kernel has none).
func BenchmarkQuotaForwardingNetdev(b *testing.B) { quotaForwarding(b, "netdev") }

func quotaForwarding(b *testing.B, variant string) {
	testlan.RequireTools(b, "iperf3")
	br := newBenchRig(b, variant, 1)
	h := br.lan.Hosts[0]
	persist := filepath.Join(b.TempDir(), "persist")
	stop := startIperfServer(b, br.lan.WAN, br.lan.Internet4.String())
	defer stop()
	with := func(quota string) func(b *testing.B) {
		return func(b *testing.B) {
			br.writeConfig(b, "\tlist subnet '"+benchSubnet+"'\n\toption persist_dir '"+persist+"'\n\n"+quota)
			br.populated = -1
			br.populateAny(b, 253)
			br.launch(b, br.env(), "arp-add", h.MAC.String(), h.IP4.String())
			if got := br.hostRuleCount(b); got != 254 {
				b.Fatalf("%d hosts, want 254", got)
			}
			objs := strings.Count(br.lan.Run(b, br.lan.Router, "nft", "list", "quotas"), "quota q_")
			want := 254
			switch {
			case quota == "":
				want = 0
			case strings.Contains(quota, "list group"):
				want = 1
			}
			if objs != want {
				b.Fatalf("%d quota objects, want %d", objs, want)
			}
		}
	}
	// Every synthetic host and the iperf host in one group.
	var group strings.Builder
	group.WriteString("config quota 'all'\n\tlist group 'bench'\n\toption limit '1TB'\n\n")
	for i := 0; i < 253; i++ {
		_, mac := synthHost(i)
		fmt.Fprintf(&group, "config host\n\toption mac '%s'\n\toption group 'bench'\n\n", mac)
	}
	fmt.Fprintf(&group, "config host\n\toption mac '%s'\n\toption group 'bench'\n\n", h.MAC)
	forwardingRounds(b, br, h.NS, []forwardingConfig{
		{name: variant + "/hosts=254/quotas=none", setup: with("")},
		{name: variant + "/hosts=254/quotas=per-device", setup: with("config quota 'each'\n\toption limit '1TB'\n")},
		{name: variant + "/hosts=254/quotas=one-shared", setup: with(group.String())},
	})
}

// BenchmarkQuotaArpAdd: arp-add latency of a new host with 254 accounted
// by the nftables backend, without quotas and with a quota per device
// (the event's locked cycle also reads the quota table and adds the new
// device's object, chain and map elements).
func BenchmarkQuotaArpAdd(b *testing.B) {
	br := newBenchRig(b, "nftables", 1)
	persist := filepath.Join(b.TempDir(), "persist")
	for _, q := range []struct{ name, cfg string }{
		{"quotas=none", ""},
		{"quotas=per-device", "config quota 'each'\n\toption limit '1TB'\n"},
	} {
		q := q
		b.Run("nftables/hosts=254/"+q.name, func(b *testing.B) {
			br.writeConfig(b, "\tlist subnet '"+benchSubnet+"'\n\toption persist_dir '"+persist+"'\n\n"+q.cfg)
			br.populated = -1
			br.populateAny(b, 254)
			durs := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				ip, mac := br.newHost()
				durs = append(durs, br.timed(b, "arp-add", mac, ip))
				br.launch(b, br.env(), "arp-del", mac, ip)
			}
			reportLatency(b, durs)
		})
	}
}
