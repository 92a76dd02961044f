package netfilter_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// routerNS opens the router namespace of lan for a backend to work in
// (closed at cleanup).
func routerNS(t testing.TB, lan *testlan.LAN) int {
	t.Helper()
	f, err := os.Open(filepath.Join("/run/netns", lan.Router))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// nftLAN builds a LAN (no NAT tool needed: plain routing) and an nftables
// backend working in its router namespace.
func nftLAN(t *testing.T, ipv6 bool) (*testlan.LAN, *netfilter.NFTables) {
	t.Helper()
	lan := testlan.New(t, testlan.Options{NumHosts: 2})
	ns := routerNS(t, lan)
	b, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: ipv6, NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	return lan, b
}

func nftSync(t *testing.T, b netfilter.Backend, hosts ...netip.Addr) (netfilter.Changes, *netfilter.Snapshot) {
	t.Helper()
	ctx := context.Background()
	snap, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := b.Sync(ctx, snap, hosts)
	if err != nil {
		t.Fatal(err)
	}
	return ch, snap
}

func nftRead(t *testing.T, b netfilter.Backend) map[counter.Key]counter.Counter {
	t.Helper()
	snap, err := b.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap.Counters
}

func TestNFTablesExactCountsAndPlanning(t *testing.T) {
	lan, b := nftLAN(t, true)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	ch, _ := nftSync(t, b, h1.IP4, h1.IP6)
	if ch.Batches != 2 || ch.Structural == 0 || len(ch.Added) != 2 {
		t.Fatalf("first sync: %+v", ch)
	}
	// Nothing to do: no batch at all.
	if ch, _ := nftSync(t, b, h1.IP4, h1.IP6); ch.Batches != 0 || ch.Structural != 0 {
		t.Fatalf("idle sync: %+v", ch)
	}
	h1.Ping(t, lan.Internet4, 1000, 10)
	h1.Ping(t, lan.Internet6, 1000, 10)
	h2.Ping(t, lan.Internet4, 500, 7) // not accounted: no element
	c := nftRead(t, b)
	want := map[counter.Key]counter.Counter{
		counter.HostKey(counter.Upload, h1.IP4):   {Packets: 10, Bytes: 10280},
		counter.HostKey(counter.Download, h1.IP4): {Packets: 10, Bytes: 10280},
		counter.HostKey(counter.Upload, h1.IP6):   {Packets: 10, Bytes: 10480},
		counter.HostKey(counter.Download, h1.IP6): {Packets: 10, Bytes: 10480},
	}
	wantCounters(t, c, want)
	if _, ok := c[counter.HostKey(counter.Upload, h2.IP4)]; ok {
		t.Errorf("h2 has a counter: %v", c)
	}
	for _, k := range []counter.Key{counter.RouterKey(counter.RouterIn, h1.IP4), counter.RouterKey(counter.RouterOut, h1.IP6)} {
		if _, ok := c[k]; !ok {
			t.Errorf("router counter %v missing", k)
		}
	}
	// Router traffic (not loopback) counts in input/output.
	before := c[counter.RouterKey(counter.RouterIn, h1.IP4)]
	h2.Ping(t, lan.RouterLAN4, 500, 3)
	lan.Run(t, lan.Router, "ping", "-c", "3", "-i", "0.01", "127.0.0.1")
	after := nftRead(t, b)[counter.RouterKey(counter.RouterIn, h1.IP4)]
	if got := after.Packets - before.Packets; got != 3 {
		t.Errorf("router input grew by %d packets, want 3 (loopback excluded)", got)
	}
	// Swap hosts: one batch per family, h1 removed, h2 added; h1's
	// counters stay readable up to the removal.
	ch, _ = nftSync(t, b, h2.IP4, h2.IP6)
	if ch.Batches != 2 || ch.Structural != 0 || len(ch.Added) != 2 || len(ch.Removed) != 2 {
		t.Fatalf("swap: %+v", ch)
	}
	c = nftRead(t, b)
	if _, ok := c[counter.HostKey(counter.Upload, h1.IP4)]; ok {
		t.Errorf("h1 still counted")
	}
	if c[counter.HostKey(counter.Download, h2.IP6)] != (counter.Counter{}) {
		t.Errorf("new element not at zero: %v", c)
	}
	// The tables are ours, by name, in families ip and ip6.
	out := lan.Run(t, lan.Router, "nft", "list", "table", "ip", "transferometer")
	for _, s := range []string{"set up", "counter", "ip saddr @up", "ip daddr @down", "hook forward priority mangle", `iifname != "lo" counter`, `oifname != "lo" counter`} {
		if !strings.Contains(out, s) {
			t.Errorf("nft list lacks %q:\n%s", s, out)
		}
	}
	if err := b.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := lan.Run(t, lan.Router, "nft", "list", "tables"); strings.Contains(out, "transferometer") {
		t.Errorf("teardown left: %s", out)
	}
}

func TestNFTablesRepairAndInactiveIPv6(t *testing.T) {
	lan, b := nftLAN(t, true)
	h1 := lan.Hosts[0]
	nftSync(t, b, h1.IP4, h1.IP6)
	// Outside interference: a duplicate and a stray rule, a lost element.
	lan.Run(t, lan.Router, "nft", "add", "rule", "ip", "transferometer", "input", "iifname", "!=", "lo", "counter")
	lan.Run(t, lan.Router, "nft", "add", "rule", "ip", "transferometer", "forward", "counter")
	lan.Run(t, lan.Router, "nft", "delete", "element", "ip", "transferometer", "down", "{", h1.IP4.String(), "}")
	ch, _ := nftSync(t, b, h1.IP4, h1.IP6)
	if ch.Batches != 1 || ch.Structural != 2 || len(ch.Added) != 1 {
		t.Fatalf("repair: %+v", ch)
	}
	if ch, _ := nftSync(t, b, h1.IP4, h1.IP6); ch.Batches != 0 {
		t.Fatalf("after repair: %+v", ch)
	}
	// A hand-made chain of the wrong shape: the table is re-created.
	lan.Run(t, lan.Router, "nft", "add", "chain", "ip", "transferometer", "extra")
	ch, _ = nftSync(t, b, h1.IP4, h1.IP6)
	if ch.Batches != 1 || ch.Structural == 0 {
		t.Fatalf("re-create: %+v", ch)
	}
	h1.Ping(t, lan.Internet4, 1000, 10)
	if c := nftRead(t, b)[counter.HostKey(counter.Upload, h1.IP4)]; c.Bytes != 10280 {
		t.Errorf("after re-create: %+v", c)
	}
	// IPv6 off: its table is read (to credit it) and deleted, nothing else.
	ns := routerNS(t, lan)
	b4, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := nftRead(t, b4)[counter.HostKey(counter.Upload, h1.IP6)]; !ok {
		t.Fatal("inactive family not read")
	}
	ch, _ = nftSync(t, b4, h1.IP4, h1.IP6)
	if ch.Batches != 1 {
		t.Fatalf("ipv6 off: %+v", ch)
	}
	if out := lan.Run(t, lan.Router, "nft", "list", "tables"); strings.Contains(out, "ip6 transferometer") || !strings.Contains(out, "ip transferometer") {
		t.Errorf("tables: %s", out)
	}
	if ch, _ := nftSync(t, b4, h1.IP4, h1.IP6); ch.Batches != 0 {
		t.Fatalf("ipv6 off, idle: %+v", ch)
	}
}

// BenchmarkNFTablesEvent: the kernel side of one arp-add with 254 hosts
// accounted, in process: one Read (netlink dumps) and one Sync (one
// batch). The arp-del that undoes it is untimed.
func BenchmarkNFTablesEvent(b *testing.B) {
	testlan.Require(b)
	lan := testlan.New(b, testlan.Options{NumHosts: 1})
	ns := routerNS(b, lan)
	be, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: true, NetNS: ns})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var hosts []netip.Addr
	for i := 0; i < 254; i++ {
		hosts = append(hosts, netip.AddrFrom4([4]byte{10, 80, byte(i / 250), byte(1 + i%250)}))
	}
	sync := func(hs []netip.Addr) {
		snap, err := be.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := be.Sync(ctx, snap, hs); err != nil {
			b.Fatal(err)
		}
	}
	sync(hosts)
	extra := append(append([]netip.Addr(nil), hosts...), netip.MustParseAddr("10.80.200.1"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sync(extra)
		b.StopTimer()
		sync(hosts)
		b.StartTimer()
	}
}
