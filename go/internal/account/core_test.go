package account

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// The core's hard paths on the fake kernel: a backend switch and its
// retire (also interrupted), a resident core following the firewall's
// offloading option, Seed, Teardown and the usage policy with its snapshot.

func collect(t *testing.T, c *Core) Outcome {
	t.Helper()
	return handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
}

func downloaded(t *testing.T, c *Core, mac macaddr.MAC) uint64 {
	t.Helper()
	return usageOf(t, c, mac).DownloadBytes
}

func TestBackendSwitchCarriesTotals(t *testing.T) {
	c, _ := newCore(t)
	k := newFakeKernel()
	s := c.settings
	s.Backend, s.IPTablesVariant = "iptables", "legacy"
	ipt := openFake(t, s, c.configDir, k, Options{Now: c.now})
	handle(t, ipt, NeighAdd, macA, ipA)
	old := k.fake(netfilter.KindIPTablesLegacy)
	old.Traffic(down(ipA), 3, 3000)

	// The settings now say nftables; old counters grew after the last read.
	old.Traffic(down(ipA), 1, 700)
	s.Backend = "nftables"
	nft := openFake(t, s, c.configDir, k, Options{Now: c.now})
	out := collect(t, nft)
	if !hasWarning(out.Warnings, "backend_switched") {
		t.Errorf("no backend_switched warning: %+v", out.Warnings)
	}
	if old.Has(down(ipA)) || old.Teardowns != 1 {
		t.Fatalf("old backend: rules left %v, teardowns %d", old.Has(down(ipA)), old.Teardowns)
	}
	cur := k.fake(netfilter.KindNFTables)
	if !cur.Has(down(ipA)) || !cur.Has(up(ipA)) {
		t.Fatal("the host has no rules in the new backend")
	}
	cur.Traffic(down(ipA), 1, 50)
	if got := downloaded(t, nft, macA); got != 3750 {
		t.Fatalf("download after the switch = %d, want 3750 (3000 + 700 before, 50 after)", got)
	}
	_, tr, err := nft.store.Peek()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Backend != "nftables" || tr.Retired != nil {
		t.Fatalf("ledger backend %q, retired %+v", tr.Backend, tr.Retired)
	}
}

// A crash between saving the switch and removing the old rules (here: the
// new backend's Sync fails) leaves Retired in the ledger; the next run
// credits the old counters' growth against it once, then retires it.
func TestBackendSwitchInterrupted(t *testing.T) {
	c, _ := newCore(t)
	k := newFakeKernel()
	s := c.settings
	s.Backend, s.IPTablesVariant = "iptables", "nft"
	ipt := openFake(t, s, c.configDir, k, Options{Now: c.now})
	handle(t, ipt, NeighAdd, macA, ipA)
	old := k.fake(netfilter.KindIPTablesNFT)
	old.Traffic(down(ipA), 2, 2000)

	s.Backend = "nftables"
	nft := openFake(t, s, c.configDir, k, Options{Now: c.now})
	cur := k.fake(netfilter.KindNFTables)
	cur.FailSync = errors.New("killed")
	if _, err := nft.Handle(context.Background(), Event{Kind: Collect}); err == nil {
		t.Fatal("want the injected Sync failure")
	}
	_, tr, err := nft.store.Peek()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Retired == nil || tr.Retired.Backend != "iptables" {
		t.Fatalf("after the interrupted switch: retired %+v", tr.Retired)
	}
	// The old rules still count until they are gone.
	old.Traffic(down(ipA), 1, 111)
	collect(t, nft)
	if old.Has(down(ipA)) {
		t.Fatal("old rules not retired")
	}
	if got := downloaded(t, nft, macA); got != 2111 {
		t.Fatalf("download = %d, want 2111 (nothing lost or doubled)", got)
	}
}

// A resident core chooses again every cycle: turning software flow
// offloading on moves counting to the netdev placement, totals carried.
func TestResidentFollowsOffloading(t *testing.T) {
	c, _ := newCore(t)
	k := newFakeKernel()
	res := openFake(t, c.settings, c.configDir, k, Options{Now: c.now, Resident: true})
	handle(t, res, NeighAdd, macA, ipA)
	fwd := k.fake(netfilter.KindNFTables)
	fwd.Traffic(down(ipA), 1, 1000)
	if res.Placement() != netfilter.PlacementForward {
		t.Fatalf("placement %q", res.Placement())
	}
	writeFile(t, filepath.Join(c.configDir, "firewall"), "config defaults\n\toption flow_offloading '1'\n")
	collect(t, res)
	if res.Kind() != netfilter.KindNFTablesNetdev || k.built[netfilter.KindNFTablesNetdev] != 1 {
		t.Fatalf("kind %v, built %v", res.Kind(), k.built)
	}
	if fwd.Has(down(ipA)) {
		t.Fatal("forward-hook rules left after the switch")
	}
	k.fake(netfilter.KindNFTablesNetdev).Traffic(down(ipA), 1, 5)
	if got := downloaded(t, res, macA); got != 1005 {
		t.Fatalf("download = %d, want 1005", got)
	}
	r, err := fresh(res, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Placement != "netdev" || r.Backend != "nftables-netdev" || !hasWarning(r.Warnings, "placement_netdev") {
		t.Fatalf("report: placement %q backend %q warnings %+v", r.Placement, r.Backend, r.Warnings)
	}
	// A one-shot core keeps the choice it was opened with.
	writeFile(t, filepath.Join(c.configDir, "firewall"), "config defaults\n\toption flow_offloading '0'\n")
	if once := reopen(t, res, "boot-1"); once.Kind() != netfilter.KindNFTables {
		t.Fatalf("reopened kind %v", once.Kind())
	}
	if res.Kind() != netfilter.KindNFTablesNetdev {
		t.Fatal("the resident core switched without a cycle")
	}
}

func TestSeed(t *testing.T) {
	c, f := newCore(t)
	entries := []neigh.Entry{
		{MAC: macA, Addr: ipA},
		{MAC: macA, Addr: ipA6},
		{MAC: macB, Addr: wan},
		{MAC: macB, Addr: ll},
	}
	out, err := c.Seed(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Changes.Added) != 2 || !f.Has(down(ipA)) || !f.Has(up(ipA6)) || f.Has(down(wan)) || f.Has(down(ll)) {
		t.Fatalf("seeded %v", out.Changes.Added)
	}
	// Seeding again changes nothing.
	if out, err = c.Seed(context.Background(), entries); err != nil || len(out.Changes.Added) != 0 {
		t.Fatalf("second seed: %+v, %v", out.Changes, err)
	}
	// Disabled: Seed removes our rules instead, keeping the bytes.
	f.Traffic(down(ipA), 1, 42)
	s := c.settings
	s.Enabled = false
	off := reopenWith(t, c, s)
	if out, err = off.Seed(context.Background(), entries); err != nil || !out.Disabled {
		t.Fatalf("disabled seed: %+v, %v", out, err)
	}
	if f.Has(down(ipA)) {
		t.Fatal("rules left while disabled")
	}
	if got := downloaded(t, c, macA); got != 42 {
		t.Fatalf("download = %d, want 42", got)
	}
}

func TestTeardownCreditsFinalCounts(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 4, 4000)
	if err := c.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.Has(down(ipA)) || f.Teardowns != 1 {
		t.Fatalf("after teardown: rules %v, teardowns %d", f.Has(down(ipA)), f.Teardowns)
	}
	// The saved ledger, read without collecting (a collect would put the
	// rules back).
	rep, err := c.report(context.Background(), &macA, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Hosts) != 1 || rep.Hosts[0].DownloadBytes != 4000 {
		t.Fatalf("after teardown: %+v", rep.Hosts)
	}
	// Nothing of ours left: a second teardown does nothing.
	if err := c.Teardown(context.Background()); err != nil || f.Teardowns != 1 {
		t.Fatalf("second teardown: %v, teardowns %d", err, f.Teardowns)
	}
}

// Usage's policy: a resident core (and every door while the daemon runs)
// answers from the last collection; the default query from the snapshot,
// as long as transfer.db is the one it was made from.
func TestUsagePolicy(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	res := openFake(t, c.settings, c.configDir, newFakeKernelWith(f), Options{Now: c.now, Resident: true})
	f.Traffic(down(ipA), 1, 100)
	collect(t, res)
	f.Traffic(down(ipA), 1, 20) // after the daemon's last collection

	ctx := context.Background()
	def, err := res.Usage(ctx, UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if def.encoded == nil {
		t.Fatal("the default query was not answered from the snapshot")
	}
	r, err := def.Report()
	if err != nil || len(r.Hosts) != 1 || r.Hosts[0].DownloadBytes != 100 {
		t.Fatalf("snapshot reply: %+v, %v", r.Hosts, err)
	}
	one, err := res.Usage(ctx, UsageQuery{MAC: &macA})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := one.Report(); one.encoded != nil || r.Hosts[0].DownloadBytes != 100 {
		t.Fatalf("one device: encoded %v, %+v", one.encoded != nil, r.Hosts)
	}
	// Fresh collects, whoever asks.
	if got := downloaded(t, res, macA); got != 120 {
		t.Fatalf("fresh: %d, want 120", got)
	}
	// That collection left a new snapshot; a reset by another door makes
	// transfer.db newer than it, so the saved ledger answers.
	if _, err := c.Reset(ctx, &macA); err != nil {
		t.Fatal(err)
	}
	after, err := res.Usage(ctx, UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := after.Report(); after.encoded != nil || r.Hosts[0].DownloadBytes != 0 {
		t.Fatalf("after a reset: encoded %v, %+v", after.encoded != nil, r.Hosts)
	}
	// A one-shot door with no daemon running collects.
	f.Traffic(down(ipA), 1, 9)
	q, err := c.Usage(ctx, UsageQuery{MAC: &macA})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := q.Report(); r.Hosts[0].DownloadBytes != 9 {
		t.Fatalf("no daemon: %+v", r.Hosts)
	}
}

func hasWarning(ws []Warning, code string) bool {
	for _, w := range ws {
		if w.Code == code {
			return true
		}
	}
	return false
}

// newFakeKernelWith is a fake kernel whose nftables family is f.
func newFakeKernelWith(f *netfilter.Fake) *fakeKernel {
	k := newFakeKernel()
	k.fakes[netfilter.KindNFTables.Family()] = f
	return k
}

// reopenWith is reopen with other settings.
func reopenWith(t *testing.T, c *Core, s config.Settings) *Core {
	t.Helper()
	c2, err := Open(s, c.configDir, Options{Now: c.now, BootID: c.bootID, Backends: c.backends, Host: c.host})
	if err != nil {
		t.Fatal(err)
	}
	return c2
}

func TestParseHostname(t *testing.T) {
	// The rule itself is internal/names'; hooks refuse what it refuses.
	if h, err := ParseHostname("laptop"); err != nil || h != "laptop" {
		t.Fatalf("laptop: %q, %v", h, err)
	}
	if _, err := ParseHostname("evil\u202etxt.exe"); err == nil || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("a bidi override: %v", err)
	}
}

// A client announcing another device's address gets its uploads charged to
// that device unless something says otherwise: a current DHCP lease of
// the address to its owner wins over the neighbour claim.
func TestLeaseBindingWinsOverNeighbourClaim(t *testing.T) {
	c, f := newCore(t)
	writeFile(t, c.settings.LeaseFile, "1800000000 02:00:00:00:00:0a 10.77.0.10 laptop *\n")
	handle(t, c, NeighAdd, macA, ipA)
	out := handle(t, c, NeighAdd, macB, ipA) // forged
	if !hasWarning(out.Warnings, "neighbour_conflict") {
		t.Fatalf("no neighbour_conflict warning: %+v", out.Warnings)
	}
	f.Traffic(up(ipA), 1, 500)
	if got := usageOf(t, c, macA).UploadBytes; got != 500 {
		t.Fatalf("leaseholder's upload = %d, want 500", got)
	}
	// DHCP itself moving the address is authoritative.
	if _, err := c.Handle(context.Background(), Event{Kind: LeaseAdd, MAC: macB, Addr: ipA}); err != nil {
		t.Fatal(err)
	}
	f.Traffic(up(ipA), 1, 7)
	if got := usageOf(t, c, macB).UploadBytes; got != 7 {
		t.Fatalf("after the lease moved: %d, want 7", got)
	}
	// An expired lease binds nothing: the neighbour claim moves it.
	writeFile(t, c.settings.LeaseFile, "1600000000 02:00:00:00:00:0b 10.77.0.10 old *\n")
	if out := handle(t, c, NeighAdd, macA, ipA); hasWarning(out.Warnings, "neighbour_conflict") {
		t.Fatalf("expired lease kept the address: %+v", out.Warnings)
	}
	f.Traffic(up(ipA), 1, 3)
	if got := usageOf(t, c, macA).UploadBytes; got != 503 {
		t.Fatalf("after the claim moved it back: %d, want 503", got)
	}
}

// Addresses no device owns never become devices, whatever door they come
// through: all zeros, broadcast, multicast.
func TestPoisonMACsIgnored(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 100)
	for _, s := range []string{"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "33:33:00:00:00:01"} {
		m := mustMAC(s)
		for _, k := range []EventKind{NeighAdd, NeighDel, LeaseAdd, LeaseDel} {
			out, err := c.Handle(context.Background(), Event{Kind: k, MAC: m, Addr: ipA6})
			if err != nil || !out.Ignored {
				t.Errorf("%v %s: %+v, %v", k, s, out, err)
			}
		}
		if _, err := c.Handle(context.Background(), Event{Kind: NeighAdd, MAC: m, Addr: ipA}); err != nil {
			t.Fatal(err)
		}
		if out, err := c.Seed(context.Background(), []neigh.Entry{{MAC: m, Addr: ipA6}}); err != nil || len(out.Changes.Added) != 0 {
			t.Errorf("seed %s: %+v, %v", s, out.Changes, err)
		}
	}
	r, err := fresh(c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hosts) != 1 || r.Hosts[0].MAC != macA.String() || r.Hosts[0].DownloadBytes != 100 || f.Has(down(ipA6)) {
		t.Fatalf("after poison MACs: %+v", r.Hosts)
	}
}

// MACs churning over a few addresses (randomising phones, or a client
// forging ARP): the device table stays within max_devices, the real
// device keeps its totals, and no byte leaves the report.
func TestChurningMACsBounded(t *testing.T) {
	c, f := newCore(t)
	s := c.settings
	s.MaxDevices = 16
	c = reopenWith(t, c, s)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 1000)
	var want uint64 = 1000
	for i := 0; i < 100; i++ {
		m := macaddr.MAC{0x02, 0x99, 0, 0, byte(i >> 8), byte(i)}
		a := netip.AddrFrom4([4]byte{10, 77, 0, byte(100 + i%10)})
		handle(t, c, NeighAdd, m, a)
		f.Traffic(down(a), 1, 10)
		want += 10
		handle(t, c, NeighAdd, macA, ipA) // the real device stays active
	}
	r, err := fresh(c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hosts) > 16 {
		t.Fatalf("%d devices kept, max 16", len(r.Hosts))
	}
	var got uint64
	for _, h := range r.Hosts {
		got += h.DownloadBytes
		if h.MAC == macA.String() && h.DownloadBytes != 1000 {
			t.Fatalf("the real device: %+v", h)
		}
	}
	got += r.Expired.DownloadBytes
	if got != want || r.Expired.Devices == 0 {
		t.Fatalf("hosts + expired = %d, want %d; expired %+v", got, want, r.Expired)
	}
}

// A host counted from its first packet, before any event names it: its
// bytes wait under its address and are its device's once the event comes;
// an address nobody claims shows in unattributed with the address, and
// goes to the unattributed total when it expires. Nothing is lost or
// doubled on the way.
func TestBytesBeforeTheEvent(t *testing.T) {
	c, f := newCore(t)
	f.Dynamic = true
	collect(t, c) // the sets exist
	f.Traffic(down(ipA), 10, 10_280)
	f.Traffic(up(ipA6), 3, 300)
	stray := netip.MustParseAddr("10.77.0.99")
	f.Traffic(down(stray), 1, 64)
	r, err := fresh(c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hosts) != 0 || len(r.UnattributedAddresses) != 3 || r.Unattributed.DownloadBytes != 10_344 || r.Unattributed.UploadBytes != 300 {
		t.Fatalf("before any event: hosts %v, unattributed %+v %+v", r.Hosts, r.Unattributed, r.UnattributedAddresses)
	}
	if !f.Has(down(ipA)) {
		t.Fatal("the counter of an address waiting for its owner was removed")
	}
	f.Traffic(down(ipA), 1, 20)
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macA, ipA6)
	f.Traffic(down(ipA), 1, 5)
	h := usageOf(t, c, macA)
	if h.DownloadBytes != 10_305 || h.UploadBytes != 300 || h.Today.DownloadBytes != 10_305 {
		t.Fatalf("after the events: %+v", h)
	}
	r, _ = fresh(c, nil, "")
	if len(r.UnattributedAddresses) != 1 || r.UnattributedAddresses[0].IP != stray.String() || r.Unattributed.DownloadBytes != 64 {
		t.Fatalf("unclaimed: %+v %+v", r.Unattributed, r.UnattributedAddresses)
	}
	// A day later the unclaimed address has expired: its bytes stay in
	// unattributed, its counter goes.
	later := reopenAt(t, c, time.Unix(1_700_000_000, 0).Add(48*time.Hour))
	r, _ = fresh(later, nil, "")
	if len(r.UnattributedAddresses) != 0 || r.Unattributed.DownloadBytes != 64 || f.Has(down(stray)) {
		t.Fatalf("after expiry: %+v %+v, counter kept %v", r.Unattributed, r.UnattributedAddresses, f.Has(down(stray)))
	}
}

// reopenAt is reopen with a clock starting at at.
func reopenAt(t *testing.T, c *Core, at time.Time) *Core {
	t.Helper()
	clock := at
	c2, err := Open(c.settings, c.configDir, Options{Now: func() time.Time { clock = clock.Add(time.Second); return clock }, BootID: c.bootID, Backends: c.backends, Host: c.host})
	if err != nil {
		t.Fatal(err)
	}
	return c2
}

// The kernel forgetting a neighbour removes the address whoever owns it
// (its deletion carries no MAC); other addresses of the device stay.
func TestNeighGone(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macA, ipA6)
	f.Traffic(down(ipA), 1, 100)
	out := handle(t, c, NeighGone, macaddr.MAC{}, ipA)
	if out.Ignored || f.Has(down(ipA)) || !f.Has(down(ipA6)) {
		t.Fatalf("gone: %+v, rules v4 %v v6 %v", out, f.Has(down(ipA)), f.Has(down(ipA6)))
	}
	if h := usageOf(t, c, macA); h.DownloadBytes != 100 || len(h.IPs) != 1 {
		t.Fatalf("after gone: %+v", h)
	}
	// Gone for an address nobody owns: nothing to do.
	handle(t, c, NeighGone, macaddr.MAC{}, netip.MustParseAddr("10.77.0.77"))
}

// A counter removed after its final read and made again by the packet path
// (dynamic sets) starts from zero: its growth is credited whole, not
// measured against the old counter's baseline.
func TestRemovedCounterRecreated(t *testing.T) {
	c, f := newCore(t)
	f.Dynamic = true
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 10, 5000)
	handle(t, c, NeighGone, macaddr.MAC{}, ipA) // credited, then removed
	if f.Has(down(ipA)) {
		t.Fatal("counter not removed")
	}
	f.Traffic(down(ipA), 10, 6000) // the packet path makes it again, from zero
	handle(t, c, NeighAdd, macA, ipA)
	if got := usageOf(t, c, macA).DownloadBytes; got != 11000 {
		t.Fatalf("download = %d, want 11000 (5000 before, 6000 after the removal)", got)
	}
}

// The names the admin gives (config host) win over DHCP names, and groups
// add their devices up.
func TestNamesAndGroups(t *testing.T) {
	c, f := newCore(t)
	writeFile(t, c.settings.LeaseFile, "0 02:00:00:00:00:0a 10.77.0.10 android-1234 *\n0 02:00:00:00:00:0b 10.77.0.11 tablet *\n")
	s := c.settings
	s.Names = map[macaddr.MAC]config.DeviceName{macA: {Name: "Anna's phone", Group: "Anna"}, macB: {Group: "Anna"}}
	c = reopenWith(t, c, s)
	ipB := netip.MustParseAddr("10.77.0.11")
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macB, ipB)
	f.Traffic(down(ipA), 1, 100)
	f.Traffic(down(ipB), 1, 20)
	r, err := fresh(c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, h := range r.Hosts {
		got[h.MAC] = [2]string{h.Name, h.Group}
	}
	if got[macA.String()] != [2]string{"Anna's phone", "Anna"} || got[macB.String()] != [2]string{"tablet", "Anna"} {
		t.Fatalf("names %v", got)
	}
	if len(r.Groups) != 1 || r.Groups[0].Group != "Anna" || r.Groups[0].Devices != 2 || r.Groups[0].DownloadBytes != 120 || r.Groups[0].Today.DownloadBytes != 120 {
		t.Fatalf("groups %+v", r.Groups)
	}
}
