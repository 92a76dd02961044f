package account

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

func TestQuotaStatuses(t *testing.T) {
	a, b, c := mustMAC("02:00:00:00:00:0a"), mustMAC("02:00:00:00:00:0b"), mustMAC("02:00:00:00:00:0c")
	hosts := ledger.NewHosts()
	for _, m := range []macaddr.MAC{a, b, c} {
		hosts.Device(m, 1)
	}
	tr := ledger.NewTransfer()
	tr.Period = ledger.Bucket{Key: "2026-12-01", Usage: map[macaddr.MAC]ledger.Usage{
		a: {DownloadBytes: 600, UploadBytes: 100}, b: {DownloadBytes: 300, UploadBytes: 50}, c: {DownloadBytes: 1000}}}
	tr.Day = ledger.Bucket{Key: "2026-12-07", Usage: map[macaddr.MAC]ledger.Usage{
		a: {DownloadBytes: 60, UploadBytes: 10}, c: {DownloadBytes: 999}}}
	names := map[macaddr.MAC]config.DeviceName{b: {Group: "kids"}, c: {Group: "adults"}}
	quotas := []config.Quota{
		// a + the kids group (b), both directions: 600+100+300+50 = 1050 of 1000.
		{Name: "kids", MACs: []macaddr.MAC{a}, Groups: []string{"kids"}, Limit: 1000, Per: config.QuotaPerPeriod,
			Direction: config.QuotaBoth, Action: config.QuotaBlock, Notify: []int{50, 100}},
		// a's download only: 600 of 1200 = exactly 50 %.
		{Name: "down", MACs: []macaddr.MAC{a}, Limit: 1200, Per: config.QuotaPerPeriod, Direction: config.QuotaDown,
			Action: config.QuotaThrottle, RateKbit: 100, Notify: []int{50, 51}},
		// everyone each on their own, per day, uploads: a 10, b none (stale bucket key does not apply), c 0.
		{Name: "each", Limit: 10, Per: config.QuotaPerDay, Direction: config.QuotaUp, Action: config.QuotaNone},
	}
	in := quotaInput{quotas: quotas, names: names, hosts: hosts, transfer: tr,
		stamp: ledger.Stamp{Day: "2026-12-07", Period: "2026-12-01"}, adjust: quotaAdjustments{}}
	got := quotaStatuses(in)
	want := []QuotaStatus{
		{Name: "kids", Members: []macaddr.MAC{a, b}, Limit: 1000, Used: 1050, Per: "period", Direction: "both",
			Action: "block", State: QuotaBlocked, Crossed: []int{50, 100}, Key: "2026-12-01"},
		{Name: "down", Members: []macaddr.MAC{a}, Limit: 1200, Used: 600, Remaining: 600, Per: "period", Direction: "down",
			Action: "throttle", RateKbit: 100, State: QuotaWarning, Crossed: []int{50}, Key: "2026-12-01"},
		{Name: "each", Device: &a, Members: []macaddr.MAC{a}, Limit: 10, Used: 10, Per: "day", Direction: "up",
			Action: "none", State: QuotaExhausted, Crossed: []int{}, Key: "2026-12-07"},
		{Name: "each", Device: &b, Members: []macaddr.MAC{b}, Limit: 10, Remaining: 10, Per: "day", Direction: "up",
			Action: "none", State: QuotaOK, Crossed: []int{}, Key: "2026-12-07"},
		{Name: "each", Device: &c, Members: []macaddr.MAC{c}, Limit: 10, Remaining: 10, Per: "day", Direction: "up",
			Action: "none", State: QuotaOK, Crossed: []int{}, Key: "2026-12-07"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses\n%+v\nwant\n%+v", got, want)
	}

	// A lift for this period ends the block; an extra allowance for today
	// raises what remains; both for other days or periods count for nothing.
	in.adjust = quotaAdjustments{"kids": {LiftKey: "2026-12-01"}, "down": {ExtraDay: "2026-12-07", Extra: 100},
		"each/" + a.String(): {LiftKey: "2026-12-06", ExtraDay: "2026-12-06", Extra: 5}}
	got = quotaStatuses(in)
	if got[0].State != QuotaExhausted || !got[0].Lifted {
		t.Errorf("lifted block: %+v", got[0])
	}
	if got[1].Extra != 100 || got[1].Remaining != 700 || got[1].Allowance() != 1300 {
		t.Errorf("extra allowance: %+v", got[1])
	}
	if got[2].Lifted || got[2].Extra != 0 || got[2].State != QuotaExhausted {
		t.Errorf("yesterday's lift and extra: %+v", got[2])
	}

	// A stale period bucket (no collection since the rollover) is an
	// empty period.
	in.stamp.Period = "2027-01-01"
	if s := quotaStatuses(in)[0]; s.Used != 0 || s.State != QuotaOK || s.Key != "2027-01-01" {
		t.Errorf("new period: %+v", s)
	}

	hq := hostQuota(got)
	if hq[a].Name != "kids" || hq[b].Name != "kids" || hq[c].Name != "each" {
		t.Errorf("tightest quota per host: a %+v b %+v c %+v", hq[a], hq[b], hq[c])
	}
}

func TestReached(t *testing.T) {
	for _, x := range []struct {
		used, allow uint64
		pct         int
		want        bool
	}{
		{49, 100, 50, false}, {50, 100, 50, true}, {0, 1, 1, false}, {1, 1, 100, true}, {1, 3, 34, false}, {2, 3, 34, true},
		{1<<64 - 2, 1<<64 - 1, 100, false}, {1<<64 - 1, 1<<64 - 1, 100, true}, {1 << 63, 1<<64 - 1, 50, true}, {1<<63 - 1, 1<<64 - 1, 50, false},
	} {
		if got := reached(x.used, x.allow, x.pct); got != x.want {
			t.Errorf("reached(%d, %d, %d) = %v", x.used, x.allow, x.pct, got)
		}
	}
}

func quotaRule(t *testing.T, f *netfilter.Fake, name string) netfilter.QuotaRule {
	t.Helper()
	for _, r := range f.QuotaRules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no kernel rule %s in %+v", name, f.QuotaRules)
	return netfilter.QuotaRule{}
}

// The kernel's quotas follow the ledger in the locked cycle: members'
// addresses, allowance, the ledger's count; a new day, a reset and a
// missing state start them again from the ledger; a lift removes the
// rule, an extra allowance raises it.
func TestQuotaSync(t *testing.T) {
	c, f := newCore(t)
	c.settings.PersistDir = filepath.Join(t.TempDir(), "persist")
	c.settings.Names = map[macaddr.MAC]config.DeviceName{macB: {Group: "kids"}}
	c.settings.Quotas = []config.Quota{
		{Name: "kids", Groups: []string{"kids"}, MACs: []macaddr.MAC{macA}, Limit: 5000, Per: config.QuotaPerDay,
			Direction: config.QuotaDown, Action: config.QuotaBlock},
		{Name: "each", Limit: 1 << 30, Per: config.QuotaPerPeriod, Direction: config.QuotaBoth, Action: config.QuotaThrottle, RateKbit: 512},
		{Name: "watch", MACs: []macaddr.MAC{macA}, Limit: 1, Per: config.QuotaPerPeriod, Direction: config.QuotaBoth, Action: config.QuotaNone},
	}
	clock := time.Date(2026, 12, 7, 23, 0, 0, 0, time.Local)
	c.now = func() time.Time { return clock }
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macA, ipA6)
	f.Traffic(down(ipA), 3, 3000)
	f.Traffic(up(ipA), 1, 100)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if len(f.QuotaRules) != 2 {
		t.Fatalf("rules %+v: want kids and each for A (watch has no action; B has no addresses... and no device)", f.QuotaRules)
	}
	k := quotaRule(t, f, "q_kids")
	if k.Bytes != 5000 || k.Used != 3000 || !k.Down || k.Up || k.RateKbit != 0 || len(k.Addrs) != 2 {
		t.Fatalf("q_kids %+v", k)
	}
	e := quotaRule(t, f, "q_each_02000000000a")
	if e.Bytes != 1<<30 || e.Used != 3100 || !e.Down || !e.Up || e.RateKbit != 512 || len(e.Addrs) != 2 {
		t.Fatalf("q_each_02000000000a %+v", e)
	}
	f.Traffic(down(ipA), 1, 1000)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if k := quotaRule(t, f, "q_kids"); k.Used != 4000 || k.Fresh {
		t.Fatalf("second collection: %+v, want 4000 used, not fresh", k)
	}
	// B joins through its group: its addresses are the quota's too.
	handle(t, c, NeighAdd, macB, netip.MustParseAddr("10.77.0.11"))
	if k := quotaRule(t, f, "q_kids"); len(k.Addrs) != 3 || k.Fresh {
		t.Fatalf("after B's address: %+v", k)
	}
	if len(f.QuotaRules) != 3 {
		t.Fatalf("B gets its own q_each: %+v", f.QuotaRules)
	}
	// The kernel drops the packet that would cross the allowance: its
	// object, depleted, makes the quota blocked though the ledger's count
	// is below the allowance.
	f.QuotaConsume("q_kids", 4999)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	sts, err := c.Quotas()
	if err != nil || sts[0].State != QuotaOK {
		t.Fatalf("before depletion: %+v, %v", sts, err)
	}
	f.QuotaConsume("q_kids", 1)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if sts, err = c.Quotas(); err != nil || sts[0].State != QuotaBlocked || sts[0].Remaining != 0 || sts[0].Used != 4000 {
		t.Fatalf("depleted: %+v, %v", sts[0], err)
	}
	// Bytes the kernel's object never saw (a restored backup, say): past
	// the slack, the object starts again from the ledger.
	f.Traffic(up(ipA), 1, 2<<20)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if r := quotaRule(t, f, "q_each_02000000000a"); !r.Fresh || r.Used != 4100+2<<20 {
		t.Fatalf("ledger ahead of the kernel: %+v", r)
	}
	if r := quotaRule(t, f, "q_kids"); r.Fresh {
		t.Fatalf("q_kids is depleted, not behind: %+v", r)
	}
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if r := quotaRule(t, f, "q_each_02000000000a"); r.Fresh {
		t.Fatalf("once made again: %+v", r)
	}
	// Extra allowance for today, then a lift.
	if st, err := c.QuotaExtra(context.Background(), "kids", nil, 700); err != nil || st.Extra != 700 || st.Remaining != 1700 {
		t.Fatalf("extra: %+v, %v", st, err)
	}
	if k := quotaRule(t, f, "q_kids"); k.Bytes != 5700 || k.Fresh {
		t.Fatalf("after the extra: %+v", k)
	}
	if _, err := c.QuotaLift(context.Background(), "each", nil); !errors.Is(err, ErrQuotaArgument) {
		t.Fatalf("lift of a per-device quota without mac: %v", err)
	}
	if _, err := c.QuotaLift(context.Background(), "nope", nil); !errors.Is(err, ErrNoQuota) {
		t.Fatalf("lift of no quota: %v", err)
	}
	if _, err := c.QuotaLift(context.Background(), "kids", &ipless); !errors.Is(err, ErrQuotaArgument) {
		t.Fatalf("lift naming a device that is not a member: %v", err)
	}
	if st, err := c.QuotaLift(context.Background(), "each", &macA); err != nil || !st.Lifted {
		t.Fatalf("lift: %+v, %v", st, err)
	}
	for _, r := range f.QuotaRules {
		if r.Name == "q_each_02000000000a" {
			t.Fatalf("a lifted quota stays in the kernel: %+v", f.QuotaRules)
		}
	}
	// Midnight: a new day starts kids from the ledger's (empty) day and
	// ends today's extra; each is per period and keeps its count.
	clock = clock.Add(2 * time.Hour)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if k := quotaRule(t, f, "q_kids"); k.Used != 0 || !k.Fresh || k.Bytes != 5000 {
		t.Fatalf("new day: %+v", k)
	}
	if len(f.QuotaRules) != 2 {
		t.Fatalf("the lift lasts the period: %+v", f.QuotaRules)
	}
	f.Traffic(down(ipA), 1, 1000)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if k := quotaRule(t, f, "q_kids"); k.Used != 1000 || k.Fresh {
		t.Fatalf("new day, traffic: %+v", k)
	}
	// A reset: the count went down, the object starts again from it.
	if _, err := c.Reset(context.Background(), &macA); err != nil {
		t.Fatal(err)
	}
	if k := quotaRule(t, f, "q_kids"); k.Used != 0 || !k.Fresh {
		t.Fatalf("after a reset: %+v", k)
	}
	// The state file gone (a reboot): everything starts from the ledger.
	f.Traffic(down(ipA), 1, 10)
	if err := os.Remove(filepath.Join(c.settings.DBDir, QuotaKernelFile)); err != nil {
		t.Fatal(err)
	}
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if k := quotaRule(t, f, "q_kids"); k.Used != 10 || !k.Fresh {
		t.Fatalf("after a reboot: %+v", k)
	}
	// The usage reply carries them.
	rep, err := c.report(context.Background(), nil, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Quotas) != 4 || rep.Hosts[0].Quota == nil || rep.Hosts[0].Quota.Name != "watch" {
		t.Fatalf("usage quotas %+v, host A %+v", rep.Quotas, rep.Hosts[0].Quota)
	}
	// No quotas: no table.
	c.settings.Quotas = nil
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if len(f.QuotaRules) != 0 {
		t.Fatalf("no quotas, rules %+v", f.QuotaRules)
	}
}

var ipless = mustMAC("02:00:00:00:00:99")

// With the iptables backend quotas are reported but not enforced, and
// usage says so.
func TestQuotaIPTablesWarns(t *testing.T) {
	c, _ := newCore(t)
	k := newFakeKernel()
	s := c.settings
	s.Backend = "iptables"
	s.Quotas = []config.Quota{{Name: "q", Limit: 10, Per: config.QuotaPerPeriod, Direction: config.QuotaBoth, Action: config.QuotaBlock}}
	c = openFake(t, s, c.configDir, k, Options{Now: c.now})
	rep, err := fresh(c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rep.Warnings {
		if w.Code == "quota_backend" {
			return
		}
	}
	t.Fatalf("no quota_backend warning: %+v", rep.Warnings)
}

// A quota-adjust.json that does not parse stops nothing: usage reads it
// as no adjustments, the next locked cycle keeps it aside and says so,
// and the buttons work again on a fresh file.
func TestDamagedQuotaAdjustments(t *testing.T) {
	c, f := alertCore(t, config.QuotaBlock)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 12, 12000) // past the 10000-byte allowance
	collect(t, c)
	if _, err := c.QuotaLift(context.Background(), "kids", nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(c.settings.PersistDir, QuotaAdjustFile)
	if err := os.WriteFile(p, []byte("{damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Read without the lock: as configured (the lift is lost), no error.
	sts, err := c.Quotas()
	if err != nil {
		t.Fatalf("quotas with a damaged %s: %v", QuotaAdjustFile, err)
	}
	if len(sts) != 1 || sts[0].Lifted {
		t.Fatalf("quotas %+v, want kids unlifted", sts)
	}
	out := collect(t, c)
	if !hasWarning(out.Warnings, "quota_adjust") || hasWarning(out.Warnings, "quota_kernel") {
		t.Fatalf("warnings %+v, want quota_adjust (and the quotas enforced)", out.Warnings)
	}
	kept, _ := filepath.Glob(p + ".corrupt-*")
	if len(kept) != 1 {
		t.Fatalf("kept aside: %v", kept)
	}
	if b, err := os.ReadFile(kept[0]); err != nil || string(b) != "{damaged" {
		t.Fatalf("the damaged file kept aside: %q %v", b, err)
	}
	st, err := c.QuotaLift(context.Background(), "kids", nil)
	if err != nil || !st.Lifted {
		t.Fatalf("lift after the damage: %+v %v", st, err)
	}
	if out := collect(t, c); hasWarning(out.Warnings, "quota_adjust") {
		t.Fatalf("warned again: %+v", out.Warnings)
	}
	if _, err := c.Usage(context.Background(), UsageQuery{}); err != nil {
		t.Fatal(err)
	}
}
