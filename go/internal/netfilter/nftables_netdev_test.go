package netfilter_test

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// netdevLAN builds a LAN and a netdev-placement backend in its router.
func netdevLAN(t *testing.T, hosts int) (*testlan.LAN, *netfilter.NFTables, *[]netip.Prefix) {
	t.Helper()
	lan := testlan.New(t, testlan.Options{NumHosts: hosts})
	ns := routerNS(t, lan)
	lanPrefixes := []netip.Prefix{lan.LAN4, lan.LAN6}
	prefixes := func() ([]netip.Prefix, error) { return lanPrefixes, nil }
	b, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: true, NetNS: ns,
		Netdev: &netfilter.NetdevOptions{LANDevice: testlan.Bridge, Prefixes: prefixes}})
	if err != nil {
		t.Fatal(err)
	}
	return lan, b, &lanPrefixes
}

// TestNetdevExactCounts: per-host counts on the bridge ports' ingress and
// egress are the IP-level bytes the forward placement sees, and traffic
// that does not cross the router (to the router itself, to another LAN
// host) is not counted.
func TestNetdevExactCounts(t *testing.T) {
	lan, b, prefixes := netdevLAN(t, 2)
	if b.Kind() != netfilter.KindNFTablesNetdev {
		t.Fatalf("kind %v", b.Kind())
	}
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	ch, _ := nftSync(t, b, h1.IP4, h1.IP6, h2.IP4)
	if ch.Batches == 0 || len(ch.Added) != 3 || len(ch.Notes) != 0 {
		t.Fatalf("first sync: %+v", ch)
	}
	if ch, _ := nftSync(t, b, h1.IP4, h1.IP6, h2.IP4); ch.Batches != 0 || ch.Structural != 0 {
		t.Fatalf("idle sync: %+v", ch)
	}
	out := lan.Run(t, lan.Router, "nft", "list", "table", "netdev", "transferometer")
	for _, dev := range []string{h1.RouterPort, h2.RouterPort} {
		for _, want := range []string{"chain in_" + dev, "chain out_" + dev, `devices = { "` + dev} {
			if !strings.Contains(out, want) && !strings.Contains(out, strings.Replace(want, `devices = { "`+dev, `device "`+dev, 1)) {
				t.Errorf("no %q in\n%s", want, out)
			}
		}
	}
	h1.Ping(t, lan.Internet4, 1000, 10)
	h1.Ping(t, lan.Internet6, 1000, 10)
	h2.Ping(t, lan.Internet4, 500, 7)
	// Not crossing the router: to the router's LAN and WAN addresses,
	// to another host, to the other host's link-local address.
	h1.Ping(t, lan.RouterLAN4, 800, 3)
	h1.Ping(t, lan.RouterWAN4, 800, 3)
	h1.Ping(t, lan.RouterWAN6, 800, 3)
	h1.Ping(t, h2.IP4, 800, 3)
	h1.Ping(t, h2.IP6, 800, 3)
	c := nftRead(t, b)
	want := map[counter.Key]counter.Counter{
		counter.HostKey(counter.Upload, h1.IP4):   {Packets: 10, Bytes: 10280},
		counter.HostKey(counter.Download, h1.IP4): {Packets: 10, Bytes: 10280},
		counter.HostKey(counter.Upload, h1.IP6):   {Packets: 10, Bytes: 10480},
		counter.HostKey(counter.Download, h1.IP6): {Packets: 10, Bytes: 10480},
		counter.HostKey(counter.Upload, h2.IP4):   {Packets: 7, Bytes: 3696},
		counter.HostKey(counter.Download, h2.IP4): {Packets: 7, Bytes: 3696},
	}
	wantCounters(t, c, want)
	// The router's own counters stay in the ip/ip6 tables.
	if r := c[counter.RouterKey(counter.RouterIn, netip.IPv4Unspecified())]; r.Packets < 6 {
		t.Errorf("router input = %+v, want the pings to the router", r)
	}

	// A port that goes away takes its chains with it; a new one is
	// attached at the next Sync; a port leaving the bridge is detached.
	h3 := lan.AddHost(t)
	ch, _ = nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h3.IP4)
	if !strings.Contains(lan.Run(t, lan.Router, "nft", "list", "table", "netdev", "transferometer"), "chain in_"+h3.RouterPort) {
		t.Fatalf("new port %s not attached: %+v", h3.RouterPort, ch)
	}
	h3.Ping(t, lan.Internet4, 1000, 2)
	lan.Run(t, lan.Router, "ip", "link", "set", h2.RouterPort, "nomaster")
	nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h3.IP4)
	out = lan.Run(t, lan.Router, "nft", "list", "table", "netdev", "transferometer")
	if strings.Contains(out, "in_"+h2.RouterPort) || strings.Contains(out, "out_"+h2.RouterPort) {
		t.Fatalf("former port %s still attached:\n%s", h2.RouterPort, out)
	}
	lan.Run(t, lan.Router, "ip", "link", "del", h3.RouterPort)
	c = nftRead(t, b)
	if got := c[counter.HostKey(counter.Upload, h3.IP4)]; got != (counter.Counter{Packets: 2, Bytes: 2056}) {
		t.Fatalf("h3 upload after its port vanished = %+v (the set keeps the count)", got)
	}
	// Kernels before 6.? delete a vanished device's single-device chains
	// themselves; newer ones keep them without a device: Sync removes
	// what is left either way.
	nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h3.IP4)
	if out := lan.Run(t, lan.Router, "nft", "list", "table", "netdev", "transferometer"); strings.Contains(out, "_"+h3.RouterPort+" ") {
		t.Fatalf("vanished port's chains left:\n%s", out)
	}
	if ch, _ := nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h3.IP4); ch.Structural != 0 || ch.Batches != 0 {
		t.Fatalf("idle sync after a port vanished: %+v", ch)
	}

	// A LAN prefix change rewrites the filter chains without touching
	// the hosts' counters (the router's own in/out counters may move
	// meanwhile: it sends IPv6 neighbour and MLD packets on its own).
	hostCounters := func() map[counter.Key]counter.Counter {
		out := map[counter.Key]counter.Counter{}
		for k, v := range nftRead(t, b) {
			if k.Kind == counter.Upload || k.Kind == counter.Download {
				out[k] = v
			}
		}
		return out
	}
	before := hostCounters()
	*prefixes = append(*prefixes, netip.MustParsePrefix("10.99.0.0/16"))
	if ch, _ := nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h3.IP4); ch.Structural == 0 || ch.Batches != 1 {
		t.Fatalf("prefix change: %+v", ch)
	}
	if out := lan.Run(t, lan.Router, "nft", "list", "chain", "netdev", "transferometer", "in_"+h1.RouterPort); !strings.Contains(out, "ip daddr 10.99.0.0/16 return") {
		t.Fatalf("new prefix not excluded:\n%s", out)
	}
	if after := hostCounters(); len(after) != 8 || !reflect.DeepEqual(before, after) {
		t.Fatalf("counters changed with the filter rules:\n%v\n%v", before, after)
	}
	if err := b.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"netdev", "ip", "ip6"} {
		if out := lan.Run(t, lan.Router, "nft", "list", "tables", fam); strings.Contains(out, "transferometer") {
			t.Errorf("teardown left %s table: %s", fam, out)
		}
	}
}

// TestNetdevMissingDevice: a LAN device that does not exist is a note, not
// an error, and nothing else changes.
func TestNetdevMissingDevice(t *testing.T) {
	lan := testlan.New(t, testlan.Options{NumHosts: 1})
	ns := routerNS(t, lan)
	b, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", NetNS: ns,
		Netdev: &netfilter.NetdevOptions{LANDevice: "br-nope"}})
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := nftSync(t, b, lan.Hosts[0].IP4)
	if len(ch.Notes) != 1 || !strings.Contains(ch.Notes[0].Message, "br-nope does not exist") || ch.Notes[0].Code != netfilter.NotePlacementDevice {
		t.Fatalf("notes = %q", ch.Notes)
	}
}

// TestNetdevTopologies: a plain LAN device (no bridge) is counted on
// itself; VLAN ports of br-lan on the device they tag on (where fw4
// puts its flowtable), with the same IP-level bytes.
func TestNetdevTopologies(t *testing.T) {
	for _, tc := range []struct{ topo, lanDev string }{{testlan.TopoPlain, "lan1"}, {testlan.TopoVLAN, testlan.Bridge}} {
		t.Run(tc.topo, func(t *testing.T) {
			lan := testlan.New(t, testlan.Options{NumHosts: 1, Topology: tc.topo})
			ns := routerNS(t, lan)
			prefixes := func() ([]netip.Prefix, error) { return []netip.Prefix{lan.LAN4, lan.LAN6}, nil }
			b, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: true, NetNS: ns,
				Netdev: &netfilter.NetdevOptions{LANDevice: tc.lanDev, Prefixes: prefixes}})
			if err != nil {
				t.Fatal(err)
			}
			h := lan.Hosts[0]
			if ch, _ := nftSync(t, b, h.IP4, h.IP6); len(ch.Notes) != 0 {
				t.Fatalf("notes: %q", ch.Notes)
			}
			out := lan.Run(t, lan.Router, "nft", "list", "table", "netdev", "transferometer")
			if !strings.Contains(out, "chain in_lan1 {") || strings.Contains(out, "in_lan1.") {
				t.Fatalf("want chains on lan1 only:\n%s", out)
			}
			h.Ping(t, lan.Internet4, 1000, 10)
			h.Ping(t, lan.Internet6, 1000, 10)
			h.Ping(t, lan.RouterLAN4, 1000, 3)
			c := nftRead(t, b)
			want := map[counter.Key]counter.Counter{
				counter.HostKey(counter.Upload, h.IP4):   {Packets: 10, Bytes: 10280},
				counter.HostKey(counter.Download, h.IP4): {Packets: 10, Bytes: 10280},
				counter.HostKey(counter.Upload, h.IP6):   {Packets: 10, Bytes: 10480},
				counter.HostKey(counter.Download, h.IP6): {Packets: 10, Bytes: 10480},
			}
			wantCounters(t, c, want)
		})
	}
}

// TestNFTablesManyHosts: one Sync adding 4096 hosts (8192 set elements in
// one batch) and one removing them, in both placements. The batch's
// acknowledgement once overflowed the netlink socket (ENOBUFS).
func TestNFTablesManyHosts(t *testing.T) {
	hosts := make([]netip.Addr, 0, 4096)
	for i := 0; i < 4096; i++ {
		hosts = append(hosts, netip.AddrFrom4([4]byte{10, 80, byte(i / 256), byte(i % 256)}))
	}
	check := func(t *testing.T, b netfilter.Backend) {
		ch, _ := nftSync(t, b, hosts...)
		if len(ch.Added) != len(hosts) {
			t.Fatalf("added %d", len(ch.Added))
		}
		c := nftRead(t, b)
		for _, ip := range hosts {
			for _, k := range []counter.Key{counter.HostKey(counter.Upload, ip), counter.HostKey(counter.Download, ip)} {
				if _, ok := c[k]; !ok {
					t.Fatalf("read %d counters; none for %v", len(c), k)
				}
			}
		}
		if ch, _ := nftSync(t, b); len(ch.Removed) != len(hosts) {
			t.Fatalf("removed %d", len(ch.Removed))
		}
	}
	t.Run("forward", func(t *testing.T) {
		_, b := nftLAN(t, false)
		check(t, b)
	})
	t.Run("netdev", func(t *testing.T) {
		_, b, _ := netdevLAN(t, 1)
		check(t, b)
	})
}

// wantCounters checks the counters of want (others may exist).
func wantCounters(t *testing.T, c, want map[counter.Key]counter.Counter) {
	t.Helper()
	for k, w := range want {
		if c[k] != w {
			t.Errorf("%v = %+v, want %+v", k, c[k], w)
		}
	}
}
