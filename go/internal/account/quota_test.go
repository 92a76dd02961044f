package account

import (
	"reflect"
	"testing"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
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
