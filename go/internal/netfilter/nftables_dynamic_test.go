package netfilter_test

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// Addresses nobody gave to Sync are counted from their first packet, in
// both placements, when the backend knows the LAN prefixes.

var placements = []string{"forward", "netdev"}

// dynLAN builds a LAN of n hosts and a backend of the placement that knows
// the LAN prefixes (size 0: the default bound).
func dynLAN(t *testing.T, placement string, n int, size uint32) (*testlan.LAN, *netfilter.NFTables) {
	t.Helper()
	lan := testlan.New(t, testlan.Options{NumHosts: n})
	return lan, dynBackend(t, lan, placement, size, false)
}

func dynBackend(t *testing.T, lan *testlan.LAN, placement string, size uint32, refuse bool) *netfilter.NFTables {
	t.Helper()
	return dynBackendOn(t, lan, placement, []netip.Prefix{lan.LAN4, lan.LAN6}, true, size, refuse)
}

// dynBackendOn is dynBackend counting the given LAN prefixes.
func dynBackendOn(t *testing.T, lan *testlan.LAN, placement string, lanPrefixes []netip.Prefix, ipv6 bool, size uint32, refuse bool) *netfilter.NFTables {
	t.Helper()
	prefixes := func() ([]netip.Prefix, error) { return lanPrefixes, nil }
	o := netfilter.NFTablesOptions{ChainPrefix: "TRANSFEROMETER", IPv6: ipv6, NetNS: routerNS(t, lan), SetSize: size}
	if placement == "netdev" {
		o.Netdev = &netfilter.NetdevOptions{LANDevice: testlan.Bridge, Prefixes: prefixes}
	} else {
		o.Prefixes = prefixes
	}
	b, err := netfilter.NewNFTables(o)
	if err != nil {
		t.Fatal(err)
	}
	if refuse {
		netfilter.RefuseDynamic(b)
	}
	return b
}

// hostCounters is the upload and download counters of a read.
func hostCounters(t *testing.T, b netfilter.Backend) map[counter.Key]counter.Counter {
	t.Helper()
	out := map[counter.Key]counter.Counter{}
	for k, v := range nftRead(t, b) {
		if k.Kind == counter.Upload || k.Kind == counter.Download {
			out[k] = v
		}
	}
	return out
}

// exactly checks that the host counters are want and nothing else.
func exactly(t *testing.T, got, want map[counter.Key]counter.Counter) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%v = %+v, want %+v", k, got[k], w)
		}
	}
	var extra []string
	for k, v := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k.Kind.String()+" "+k.Addr.String()+" "+counterString(v))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("unexpected elements: %s", strings.Join(extra, "; "))
	}
}

func counterString(c counter.Counter) string {
	return strings.TrimSpace(strings.Join([]string{"packets", itoa(c.Packets), "bytes", itoa(c.Bytes)}, " "))
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

func pingBytes(dst netip.Addr, size, n int) counter.Counter {
	return counter.Counter{Packets: uint64(n), Bytes: uint64(n * testlan.EchoPacketBytes(dst, size))}
}

// tryPing pings and ignores the outcome (a destination that answers no one).
func tryPing(lan *testlan.LAN, ns string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = lan.Exec(ctx, ns, "ping", append([]string{"-n", "-q", "-W", "1", "-i", "0.2"}, args...)...).Run()
}

// TestDynamicFirstPacket: a host whose address no Sync ever named is
// counted to the byte from its first packet, IPv4 and IPv6; WAN addresses
// get no element, and neither do traffic that stays in the LAN, the
// router's addresses, broadcast, multicast and link-local.
func TestDynamicFirstPacket(t *testing.T) {
	for _, pl := range placements {
		t.Run(pl, func(t *testing.T) {
			lan, b := dynLAN(t, pl, 2, 0)
			h1, h2 := lan.Hosts[0], lan.Hosts[1]
			ch, _ := nftSync(t, b)
			if !b.CountsUnknownAddresses() || len(ch.Notes) != 0 {
				t.Fatalf("dynamic sets refused on this kernel: %+v", ch)
			}
			// Nothing that does not cross the router creates anything.
			h1.Ping(t, lan.RouterLAN4, 800, 2)
			h1.Ping(t, lan.RouterWAN4, 800, 2)
			h1.Ping(t, lan.RouterWAN6, 800, 2)
			h1.Ping(t, h2.IP4, 800, 2)
			h1.Ping(t, h2.IP6, 800, 2)
			tryPing(lan, h1.NS, "-c", "2", "-b", "10.77.0.255")
			tryPing(lan, h1.NS, "-c", "2", "-I", testlan.HostIf, "ff02::1")
			tryPing(lan, h1.NS, "-c", "2", "-I", testlan.HostIf, "fe80::1")
			exactly(t, hostCounters(t, b), nil)

			h1.Ping(t, lan.Internet4, 1000, 10)
			h1.Ping(t, lan.Internet6, 1000, 10)
			want := map[counter.Key]counter.Counter{
				counter.HostKey(counter.Upload, h1.IP4):   {Packets: 10, Bytes: 10280},
				counter.HostKey(counter.Download, h1.IP4): {Packets: 10, Bytes: 10280},
				counter.HostKey(counter.Upload, h1.IP6):   {Packets: 10, Bytes: 10480},
				counter.HostKey(counter.Download, h1.IP6): {Packets: 10, Bytes: 10480},
			}
			exactly(t, hostCounters(t, b), want)

			// From the WAN: to an address no host has, nothing; to h2,
			// which never sent a packet, its replies (uploads) from the
			// first and the requests once conntrack saw a reply in the
			// forward placement, all of them on the LAN port.
			tryPing(lan, lan.WAN, "-c", "3", "10.77.0.200")
			tryPing(lan, lan.WAN, "-c", "3", "fd77::200")
			lan.Run(t, lan.WAN, "ping", "-n", "-q", "-c", "10", "-i", "0.01", "-s", "1000", h2.IP4.String())
			down := pingBytes(h2.IP4, 1000, 10)
			if pl == "forward" {
				down = pingBytes(h2.IP4, 1000, 9)
			}
			want[counter.HostKey(counter.Upload, h2.IP4)] = pingBytes(h2.IP4, 1000, 10)
			want[counter.HostKey(counter.Download, h2.IP4)] = down
			exactly(t, hostCounters(t, b), want)

			// Its elements existing, the WAN's requests all count, once.
			lan.Run(t, lan.WAN, "ping", "-n", "-q", "-c", "5", "-i", "0.01", "-s", "1000", h1.IP6.String())
			want[counter.HostKey(counter.Upload, h1.IP6)] = pingBytes(h1.IP6, 1000, 15)
			want[counter.HostKey(counter.Download, h1.IP6)] = pingBytes(h1.IP6, 1000, 15)
			exactly(t, hostCounters(t, b), want)

			out := lan.Run(t, lan.Router, "nft", "list", "ruleset")
			t.Logf("router ruleset:\n%s", out)
			for _, s := range []string{"flags dynamic", "size 65535"} {
				if !strings.Contains(out, s) {
					t.Errorf("no %q in\n%s", s, out)
				}
			}
		})
	}
}

// TestDynamicSyncKeepsAndDeletes: an element Sync added counts once when
// the packet path meets it; Sync deletes the elements of addresses not in
// hosts (after the Read that credited them), and a later packet
// re-creates the element from zero.
func TestDynamicSyncKeepsAndDeletes(t *testing.T) {
	for _, pl := range placements {
		t.Run(pl, func(t *testing.T) {
			lan, b := dynLAN(t, pl, 2, 0)
			h1, h2 := lan.Hosts[0], lan.Hosts[1]
			ch, _ := nftSync(t, b, h2.IP4)
			if len(ch.Added) != 1 {
				t.Fatalf("first sync: %+v", ch)
			}
			h1.Ping(t, lan.Internet4, 1000, 4)
			h2.Ping(t, lan.Internet4, 1000, 3)
			want := map[counter.Key]counter.Counter{
				counter.HostKey(counter.Upload, h1.IP4):   pingBytes(h1.IP4, 1000, 4),
				counter.HostKey(counter.Download, h1.IP4): pingBytes(h1.IP4, 1000, 4),
				counter.HostKey(counter.Upload, h2.IP4):   pingBytes(h2.IP4, 1000, 3),
				counter.HostKey(counter.Download, h2.IP4): pingBytes(h2.IP4, 1000, 3),
			}
			exactly(t, hostCounters(t, b), want)

			// h1 kept by Sync: untouched, no batch at all.
			if ch, _ := nftSync(t, b, h1.IP4, h2.IP4); ch.Batches != 0 || len(ch.Added)+len(ch.Removed) != 0 {
				t.Fatalf("keeping sync: %+v", ch)
			}
			exactly(t, hostCounters(t, b), want)

			// h1 not in hosts: deleted, then re-created by its next packet.
			ch, snap := nftSync(t, b, h2.IP4)
			if len(ch.Removed) != 1 || ch.Removed[0] != h1.IP4 || snap.Counters[counter.HostKey(counter.Upload, h1.IP4)] != want[counter.HostKey(counter.Upload, h1.IP4)] {
				t.Fatalf("deleting sync: %+v (read before it: %v)", ch, snap.Counters)
			}
			delete(want, counter.HostKey(counter.Upload, h1.IP4))
			delete(want, counter.HostKey(counter.Download, h1.IP4))
			exactly(t, hostCounters(t, b), want)
			h1.Ping(t, lan.Internet4, 500, 2)
			want[counter.HostKey(counter.Upload, h1.IP4)] = pingBytes(h1.IP4, 500, 2)
			want[counter.HostKey(counter.Download, h1.IP4)] = pingBytes(h1.IP4, 500, 2)
			exactly(t, hostCounters(t, b), want)
		})
	}
}

// TestDynamicSetBound: each set holds at most its size; packets of further
// addresses are not counted until Sync makes room, and Sync can always
// add its own addresses (its deletions go first in the batch).
func TestDynamicSetBound(t *testing.T) {
	for _, pl := range placements {
		t.Run(pl, func(t *testing.T) {
			lan, b := dynLAN(t, pl, 1, 3)
			h := lan.Hosts[0]
			var srcs []netip.Addr
			for i := 0; i < 5; i++ {
				a := netip.AddrFrom4([4]byte{10, 77, 0, byte(100 + i)})
				lan.Run(t, h.NS, "ip", "addr", "add", a.String()+"/24", "dev", testlan.HostIf)
				srcs = append(srcs, a)
			}
			nftSync(t, b)
			ping := func(a netip.Addr) {
				lan.Run(t, h.NS, "ping", "-n", "-q", "-c", "2", "-i", "0.01", "-s", "1000", "-I", a.String(), lan.Internet4.String())
			}
			for _, a := range srcs {
				ping(a)
			}
			want := map[counter.Key]counter.Counter{}
			for _, a := range srcs[:3] {
				want[counter.HostKey(counter.Upload, a)] = pingBytes(a, 1000, 2)
				want[counter.HostKey(counter.Download, a)] = pingBytes(a, 1000, 2)
			}
			exactly(t, hostCounters(t, b), want)

			// The set full of others, Sync replaces them with three of its own.
			ch, _ := nftSync(t, b, srcs[2], srcs[3], srcs[4])
			if len(ch.Removed) != 2 || len(ch.Added) != 2 {
				t.Fatalf("sync into a full set: %+v", ch)
			}
			for _, a := range srcs {
				ping(a)
			}
			want = map[counter.Key]counter.Counter{}
			for i, a := range srcs[2:] {
				n := 2
				if i == 0 {
					n = 4
				}
				want[counter.HostKey(counter.Upload, a)] = pingBytes(a, 1000, n)
				want[counter.HostKey(counter.Download, a)] = pingBytes(a, 1000, n)
			}
			exactly(t, hostCounters(t, b), want)
			if out := lan.Run(t, lan.Router, "nft", "list", "ruleset"); !strings.Contains(out, "size 3") {
				t.Errorf("no size 3 in\n%s", out)
			}
		})
	}
}

// TestDynamicRefused: where the kernel refuses the dynamic form (forced
// here with a statement every kernel refuses), the backend says so and
// counts what Sync gives, exactly as before; a later backend that gets
// the dynamic form replaces the static table after reading it.
func TestDynamicRefused(t *testing.T) {
	for _, pl := range placements {
		t.Run(pl, func(t *testing.T) {
			lan := testlan.New(t, testlan.Options{NumHosts: 2})
			h1, h2 := lan.Hosts[0], lan.Hosts[1]
			b := dynBackend(t, lan, pl, 0, true)
			ch, _ := nftSync(t, b, h1.IP4)
			if b.CountsUnknownAddresses() || len(ch.Notes) != 1 || !strings.Contains(ch.Notes[0].Message, "refused") || ch.Notes[0].Code != netfilter.NoteFirstPacket || len(ch.Added) != 1 {
				t.Fatalf("refused: counts unknown %v, %+v", b.CountsUnknownAddresses(), ch)
			}
			if ch, _ := nftSync(t, b, h1.IP4); ch.Batches != 0 || len(ch.Notes) != 1 {
				t.Fatalf("refused, idle: %+v", ch)
			}
			if out := lan.Run(t, lan.Router, "nft", "list", "ruleset"); strings.Contains(out, "dynamic") {
				t.Fatalf("dynamic sets after the refusal:\n%s", out)
			}
			h1.Ping(t, lan.Internet4, 1000, 3)
			h2.Ping(t, lan.Internet4, 1000, 3)
			want := map[counter.Key]counter.Counter{
				counter.HostKey(counter.Upload, h1.IP4):   pingBytes(h1.IP4, 1000, 3),
				counter.HostKey(counter.Download, h1.IP4): pingBytes(h1.IP4, 1000, 3),
			}
			exactly(t, hostCounters(t, b), want)

			// A backend on a kernel that has it: read (credited), then
			// one table of the dynamic form, from zero.
			d := dynBackend(t, lan, pl, 0, false)
			ch, snap := nftSync(t, d, h1.IP4)
			if snap.Counters[counter.HostKey(counter.Upload, h1.IP4)] != want[counter.HostKey(counter.Upload, h1.IP4)] || ch.Structural == 0 || len(ch.Notes) != 0 {
				t.Fatalf("upgrade: %+v, read %v", ch, snap.Counters)
			}
			h2.Ping(t, lan.Internet4, 1000, 3)
			exactly(t, hostCounters(t, d), map[counter.Key]counter.Counter{
				counter.HostKey(counter.Upload, h1.IP4):   {},
				counter.HostKey(counter.Download, h1.IP4): {},
				counter.HostKey(counter.Upload, h2.IP4):   pingBytes(h2.IP4, 1000, 3),
				counter.HostKey(counter.Download, h2.IP4): pingBytes(h2.IP4, 1000, 3),
			})
		})
	}
}

// TestDynamicOutsidePrefixes: an address Sync gives outside every LAN
// prefix is still counted (by lookup), and only it: an unknown address
// outside the prefixes gets no element, one inside does.
func TestDynamicOutsidePrefixes(t *testing.T) {
	for _, pl := range placements {
		t.Run(pl, func(t *testing.T) {
			lan := testlan.New(t, testlan.Options{NumHosts: 1})
			h := lan.Hosts[0]
			half := netip.MustParsePrefix("10.77.0.0/25") // h's 10.77.0.11 inside
			b := dynBackendOn(t, lan, pl, []netip.Prefix{half}, false, 0, false)
			given, unknown := netip.MustParseAddr("10.77.0.200"), netip.MustParseAddr("10.77.0.201")
			for _, a := range []netip.Addr{given, unknown} {
				lan.Run(t, h.NS, "ip", "addr", "add", a.String()+"/24", "dev", testlan.HostIf)
			}
			nftSync(t, b, given)
			for _, a := range []netip.Addr{given, unknown} {
				lan.Run(t, h.NS, "ping", "-n", "-q", "-c", "3", "-i", "0.01", "-s", "1000", "-I", a.String(), lan.Internet4.String())
			}
			h.Ping(t, lan.Internet4, 1000, 2)
			exactly(t, hostCounters(t, b), map[counter.Key]counter.Counter{
				counter.HostKey(counter.Upload, given):   pingBytes(given, 1000, 3),
				counter.HostKey(counter.Download, given): pingBytes(given, 1000, 3),
				counter.HostKey(counter.Upload, h.IP4):   pingBytes(h.IP4, 1000, 2),
				counter.HostKey(counter.Download, h.IP4): pingBytes(h.IP4, 1000, 2),
			})
		})
	}
}
