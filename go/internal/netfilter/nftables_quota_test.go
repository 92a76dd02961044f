package netfilter_test

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// pingLossy pings without failing on loss and returns ping's own count.
func pingLossy(t *testing.T, lan *testlan.LAN, h *testlan.Host, dst netip.Addr, size, count int) testlan.PingResult {
	t.Helper()
	fam := "-4"
	if dst.Is6() {
		fam = "-6"
	}
	out, _ := lan.Exec(context.Background(), h.NS, "ping", fam, "-n", "-q", "-s", strconv.Itoa(size), "-c", strconv.Itoa(count),
		"-i", "0.01", "-W", "1", "-w", strconv.Itoa(3+count/50), dst.String()).CombinedOutput()
	r, err := testlan.ParsePing(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func syncQuotas(t *testing.T, b *netfilter.NFTables, rules ...netfilter.QuotaRule) netfilter.QuotaChanges {
	t.Helper()
	ch, err := b.SyncQuotas(context.Background(), rules)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func quotaObjects(t *testing.T, b *netfilter.NFTables) map[string]netfilter.QuotaObject {
	t.Helper()
	objs, err := b.QuotaObjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// A download allowance of exactly 5 echo replies and 100 bytes: h1's IPv4
// and IPv6 replies use it up together, the sixth is dropped, and what
// passed is what our counters count; h2 and the router stay reachable.
func TestQuotaKernelBlocksAtAllowance(t *testing.T) {
	lan, b := nftLAN(t, true)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h2.IP6)
	r4 := uint64(testlan.EchoPacketBytes(lan.Internet4, 1000))
	r6 := uint64(testlan.EchoPacketBytes(lan.Internet6, 1000))
	allow := 3*r4 + 2*r6 + 100
	rule := netfilter.QuotaRule{Name: "q_h1", Bytes: allow, Down: true, Addrs: []netip.Addr{h1.IP4, h1.IP6}}
	if ch := syncQuotas(t, b, rule); !ch.Rebuilt || ch.Batches != 1 {
		t.Fatalf("first sync: %+v", ch)
	}
	if ch := syncQuotas(t, b, rule); ch.Batches != 0 {
		t.Fatalf("second sync changed something: %+v", ch)
	}
	h1.Ping(t, lan.Internet4, 1000, 3)
	h1.Ping(t, lan.Internet6, 1000, 2)
	// The reply that would cross the allowance is the first dropped.
	if got := pingLossy(t, lan, h1, lan.Internet4, 1000, 5); got.Received != 0 {
		t.Fatalf("after the allowance: %+v, want no reply", got)
	}
	if got := pingLossy(t, lan, h1, lan.Internet6, 1000, 3); got.Received != 0 {
		t.Fatalf("IPv6 after the allowance: %+v, want none: the allowance is shared", got)
	}
	// Uploads are not under this quota, and the router itself is not
	// behind the forward hook.
	h1.Ping(t, lan.RouterLAN4, 1000, 3)
	h1.Ping(t, lan.RouterLAN6, 1000, 3)
	h2.Ping(t, lan.Internet4, 1000, 5)
	down := nftRead(t, b)
	got := down[counter.HostKey(counter.Download, h1.IP4)].Bytes + down[counter.HostKey(counter.Download, h1.IP6)].Bytes
	if want := 3*r4 + 2*r6; got != want {
		t.Errorf("h1 downloads counted %d, want %d (what passed, not what was dropped)", got, want)
	}
	objs := quotaObjects(t, b)
	// The kernel lists a depleted object's count capped at its allowance.
	if o := objs["q_h1"]; o.Bytes != allow || o.Consumed != allow {
		t.Errorf("object %+v, want %d of %d", o, allow, allow)
	}

	// More allowance: the table is made again from the ledger's count
	// (the kernel's holds the dropped replies).
	rule.Bytes, rule.Used = allow+100*r4, got
	if ch := syncQuotas(t, b, rule); !ch.Rebuilt {
		t.Fatalf("new allowance: %+v", ch)
	}
	if o := quotaObjects(t, b)["q_h1"]; o.Consumed != got {
		t.Errorf("after a rebuild: %+v, want %d", o, got)
	}
	h1.Ping(t, lan.Internet4, 1000, 5)
	// Not depleted: a rebuild keeps the kernel's count where it is ahead
	// of the ledger's (packets since the ledger's read).
	rule.Bytes++
	syncQuotas(t, b, rule)
	if o := quotaObjects(t, b)["q_h1"]; o.Consumed != got+5*r4 {
		t.Errorf("after a rebuild: %+v, want %d", o, got+5*r4)
	}
	// A fresh start (new period) counts from Used.
	rule.Fresh, rule.Used = true, 7
	syncQuotas(t, b, rule)
	if o := quotaObjects(t, b)["q_h1"]; o.Consumed != 7 {
		t.Errorf("fresh: %+v", o)
	}
	// A table removed (reboot, firewall flush) is made again from Used.
	lan.Run(t, lan.Router, "nft", "delete", "table", "inet", b.QuotaTable())
	rule.Fresh, rule.Used = false, rule.Bytes+5000
	syncQuotas(t, b, rule)
	if o := quotaObjects(t, b)["q_h1"]; o.Consumed != rule.Bytes {
		t.Errorf("after the table was deleted: %+v", o)
	}
	if got := pingLossy(t, lan, h1, lan.Internet4, 1000, 3); got.Received != 0 {
		t.Fatalf("made again from a used-up ledger: %+v, want no reply", got)
	}
	// Nothing under quota: no table.
	syncQuotas(t, b)
	if out := lan.Run(t, lan.Router, "nft", "list", "tables"); strings.Contains(out, b.QuotaTable()) {
		t.Fatalf("table left: %s", out)
	}
	h1.Ping(t, lan.Internet4, 1000, 3)
}

// Members move between combinations by map elements alone: no table
// rebuilt, counts kept.
func TestQuotaKernelMembership(t *testing.T) {
	lan, b := nftLAN(t, true)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	nftSync(t, b, h1.IP4, h1.IP6, h2.IP4, h2.IP6)
	group := netfilter.QuotaRule{Name: "q_kids", Bytes: 1 << 30, Down: true, Up: true, Addrs: []netip.Addr{h1.IP4}}
	each := netfilter.QuotaRule{Name: "q_each_h2", Bytes: 1 << 30, Down: true, RateKbit: 1000, Addrs: []netip.Addr{h2.IP4}}
	syncQuotas(t, b, group, each)
	h1.Ping(t, lan.Internet4, 1000, 2)
	group.Addrs = []netip.Addr{h1.IP4, h2.IP4, h2.IP6}
	ch := syncQuotas(t, b, group, each)
	if ch.Rebuilt || ch.Elements == 0 {
		t.Fatalf("membership change: %+v", ch)
	}
	h2.Ping(t, lan.Internet4, 1000, 2)
	h2.Ping(t, lan.Internet6, 1000, 1)
	r4, r6 := uint64(testlan.EchoPacketBytes(lan.Internet4, 1000)), uint64(testlan.EchoPacketBytes(lan.Internet6, 1000))
	objs := quotaObjects(t, b)
	if got, want := objs["q_kids"].Consumed, 2*(2*r4)+2*(2*r4)+2*r6; got != want {
		t.Errorf("q_kids consumed %d, want %d (both directions of h1 and h2)", got, want)
	}
	if got, want := objs["q_each_h2"].Consumed, 2*r4; got != want {
		t.Errorf("q_each_h2 consumed %d, want %d (h2's IPv4 downloads)", got, want)
	}
	out := lan.Run(t, lan.Router, "nft", "list", "table", "inet", b.QuotaTable())
	for _, s := range []string{"quota q_kids", "limit q_each_h2", "hook forward priority", "vmap @down4"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	// A quota added, and one removed: no rebuild, the others' counts kept.
	more := netfilter.QuotaRule{Name: "q_each_h1", Bytes: 1 << 30, Used: 77, Down: true, Addrs: []netip.Addr{h1.IP4}}
	if ch := syncQuotas(t, b, group, each, more); ch.Rebuilt {
		t.Fatalf("a quota added: %+v", ch)
	}
	objs = quotaObjects(t, b)
	if objs["q_kids"].Consumed != 2*(2*r4)+2*(2*r4)+2*r6 || objs["q_each_h1"].Consumed != 77 {
		t.Errorf("after a quota was added: %+v", objs)
	}
	h1.Ping(t, lan.Internet4, 1000, 1)
	if got := quotaObjects(t, b)["q_each_h1"].Consumed; got != 77+r4 {
		t.Errorf("the added quota counts %d, want %d", got, 77+r4)
	}
	if ch := syncQuotas(t, b, group, more); ch.Rebuilt {
		t.Fatalf("a quota removed: %+v", ch)
	}
	out = lan.Run(t, lan.Router, "nft", "list", "table", "inet", b.QuotaTable())
	if strings.Contains(out, "q_each_h2") {
		t.Errorf("removed quota left:\n%s", out)
	}
	if got := quotaObjects(t, b)["q_kids"].Consumed; got != 2*(2*r4)+2*(2*r4)+2*r6+2*r4 {
		t.Errorf("q_kids after a quota was removed: %d", got)
	}
}

// In the netdev placement the quotas sit on the LAN devices' hooks, where
// flow offloading cannot take packets past them: uploads on ingress (IP
// bytes), downloads on egress (Ethernet frames: 14 bytes more per
// packet). The router itself stays reachable; a second sync changes
// nothing; a change of placement moves the table.
func TestQuotaKernelNetdev(t *testing.T) {
	lan := testlan.New(t, testlan.Options{NumHosts: 2})
	b := dynBackend(t, lan, "netdev", 0, false)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	nftSync(t, b, h1.IP4, h1.IP6, h2.IP4)
	r4 := uint64(testlan.EchoPacketBytes(lan.Internet4, 1000))
	frame := r4 + 14
	rule := netfilter.QuotaRule{Name: "q_h1", Bytes: 3*frame + 2*r4 + 10, Down: true, Up: true, Addrs: []netip.Addr{h1.IP4, h1.IP6}}
	if ch := syncQuotas(t, b, rule); !ch.Rebuilt {
		t.Fatalf("first sync: %+v", ch)
	}
	if ch := syncQuotas(t, b, rule); ch.Batches != 0 {
		t.Fatalf("second sync changed something: %+v", ch)
	}
	out := lan.Run(t, lan.Router, "nft", "list", "table", "netdev", b.QuotaTable())
	for _, s := range []string{"hook ingress device", "hook egress device", "ip saddr vmap @up4", "ip daddr vmap @down4"} {
		if !strings.Contains(out, s) {
			t.Errorf("netdev quota table lacks %q:\n%s", s, out)
		}
	}
	h1.Ping(t, lan.Internet4, 1000, 2) // 2 requests up (IP bytes), 2 replies down (frames)
	h1.Ping(t, lan.RouterLAN4, 1000, 3)
	h1.Ping(t, lan.RouterLAN6, 1000, 3)
	if got := quotaObjects(t, b)["q_h1"].Consumed; got != 2*r4+2*frame {
		t.Fatalf("consumed %d, want %d: the router's own traffic is not under quota", got, 2*r4+2*frame)
	}
	// One more request fits, its reply crosses the allowance.
	if got := pingLossy(t, lan, h1, lan.Internet4, 1000, 3); got.Received != 0 {
		t.Fatalf("past the allowance: %+v", got)
	}
	h1.Ping(t, lan.RouterLAN4, 100, 2)
	h2.Ping(t, lan.Internet4, 1000, 3)
	// The forward placement's backend takes the table over (placement
	// changed): the netdev one goes.
	fwd, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: true, NetNS: routerNS(t, lan)})
	if err != nil {
		t.Fatal(err)
	}
	syncQuotas(t, fwd, rule)
	tables := lan.Run(t, lan.Router, "nft", "list", "tables")
	if !strings.Contains(tables, "table inet "+b.QuotaTable()) || strings.Contains(tables, "table netdev "+b.QuotaTable()) {
		t.Fatalf("after the placement change: %s", tables)
	}
}
