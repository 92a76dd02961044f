package account

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/localzone"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// historyCore is a core whose clock the test sets, with device A named.
func historyCore(t *testing.T, at *time.Time) (*Core, *netfilter.Fake) {
	t.Helper()
	c, f := newCore(t)
	c.now = func() time.Time { return *at }
	c.settings.Names = map[macaddr.MAC]config.DeviceName{macA: {Name: "Anna's laptop", Group: "Anna"}}
	return c, f
}

func collectAt(t *testing.T, c *Core, at *time.Time, when time.Time) {
	t.Helper()
	*at = when
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
}

func TestHistoryReply(t *testing.T) {
	ipB := netip.MustParseAddr("10.77.0.11")
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	c, f := historyCore(t, &at)
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macB, ipB)
	f.Traffic(down(ipA), 1, 1000)
	collectAt(t, c, &at, time.Date(2026, 11, 29, 10, 5, 0, 0, time.UTC))
	f.Traffic(down(ipA), 1, 200)
	collectAt(t, c, &at, time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC))
	f.Traffic(down(ipA), 1, 50)
	f.Traffic(up(ipA), 1, 5)
	collectAt(t, c, &at, time.Date(2026, 12, 1, 9, 10, 0, 0, time.UTC))
	f.Traffic(down(ipB), 1, 70)
	collectAt(t, c, &at, time.Date(2026, 12, 1, 13, 20, 0, 0, time.UTC))
	f.Traffic(down(ipA), 1, 30)
	at = time.Date(2026, 12, 3, 14, 5, 0, 0, time.UTC)

	r, err := c.History(context.Background(), HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := HistoryPeriod{Key: "2026-12-01", Start: "2026-12-01", End: "2026-12-31", Current: true,
		ByteSums: ByteSums{Download: 150, Upload: 5}, RemainingDays: 28}
	if r.Period != want {
		t.Fatalf("period = %+v, want %+v", r.Period, want)
	}
	if r.Previous == nil || *r.Previous != (PreviousPeriod{Key: "2026-11-01", Start: "2026-11-01", End: "2026-11-30", ByteSums: ByteSums{Download: 1200}}) {
		t.Fatalf("previous = %+v", r.Previous)
	}
	if len(r.Periods) != 2 || r.Periods[0] != (PeriodSum{Key: "2026-12-01", ByteSums: ByteSums{150, 5}}) || r.Periods[1] != (PeriodSum{Key: "2026-11-01", ByteSums: ByteSums{1200, 0}}) {
		t.Fatalf("periods = %+v", r.Periods)
	}
	if len(r.Days) != 3 || r.Days[0].Date != "2026-12-01" || r.Days[1].Date != "2026-12-02" || r.Days[2].Date != "2026-12-03" {
		t.Fatalf("days = %+v", r.Days)
	}
	if d := r.Days[0]; d.Download != 120 || d.Upload != 5 || d.Devices[macA.String()] != [2]uint64{50, 5} || d.Devices[macB.String()] != [2]uint64{70, 0} {
		t.Fatalf("1 December = %+v", d)
	}
	if d := r.Days[1]; d.Download != 0 || len(d.Devices) != 0 {
		t.Fatalf("2 December (no traffic) = %+v", d)
	}
	if d := r.Days[2]; d.Download != 30 || d.Devices[macA.String()] != [2]uint64{30, 0} {
		t.Fatalf("3 December = %+v", d)
	}
	if len(r.Hours) != 15 || r.Hours[0].Hour != "2026-12-03T00" || r.Hours[14].Hour != "2026-12-03T14" {
		t.Fatalf("hours = %+v", r.Hours)
	}
	var hourSum uint64
	for _, h := range r.Hours {
		hourSum += h.Download
	}
	if hourSum != r.Days[2].Download || r.Hours[14].Devices[macA.String()] != [2]uint64{30, 0} {
		t.Fatalf("today's hours add up to %d, the day is %d: %+v", hourSum, r.Days[2].Download, r.Hours)
	}
	if n := r.Names[macA.String()]; n.Name != "Anna's laptop" || n.Group != "Anna" {
		t.Fatalf("names = %+v", r.Names)
	}

	// One device: its numbers only.
	r, err = c.History(context.Background(), HistoryQuery{MAC: &macB})
	if err != nil {
		t.Fatal(err)
	}
	if r.Period.Download != 70 || r.Days[0].Download != 70 || len(r.Days[0].Devices) != 1 || r.Days[2].Download != 0 || r.Previous.Download != 0 {
		t.Fatalf("device B: %+v %+v", r.Period, r.Days)
	}

	// A past period: all its days, no hours.
	r, err = c.History(context.Background(), HistoryQuery{Period: "2026-11-01"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Period.Current || r.Period.RemainingDays != 0 || r.Period.Download != 1200 || len(r.Days) != 30 || len(r.Hours) != 0 || r.Previous != nil {
		t.Fatalf("November: %+v previous %+v, %d days, %d hours", r.Period, r.Previous, len(r.Days), len(r.Hours))
	}
	if r.Days[28].Date != "2026-11-29" || r.Days[28].Download != 1000 || r.Days[29].Download != 200 {
		t.Fatalf("November's days: %+v", r.Days[27:])
	}

	for _, sel := range []string{"2026-10-01", "all", "2026-11-02"} {
		if _, err := c.History(context.Background(), HistoryQuery{Period: sel}); !errors.Is(err, ErrNoPeriod) {
			t.Errorf("period %q: %v, want ErrNoPeriod", sel, err)
		}
	}
}

// On the day daylight-saving time ends, today has 25 hours, two named
// 02; each gets its own bytes.
func TestHistoryHoursDST(t *testing.T) {
	loc, err := localzone.Parse("CET-1CEST,M3.5.0,M10.5.0/3", nil) // Europe/Berlin as /etc/TZ has it
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 25, 0, 30, 0, 0, loc)
	c, f := historyCore(t, &at)
	handle(t, c, NeighAdd, macA, ipA)
	first := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC) // 02:30 CET, the second 02
	f.Traffic(down(ipA), 1, 11)
	collectAt(t, c, &at, first.Add(-time.Hour).In(loc)) // 02:30 CEST, the first 02
	f.Traffic(down(ipA), 1, 22)
	collectAt(t, c, &at, first.In(loc))
	at = time.Date(2026, 10, 25, 23, 10, 0, 0, loc)
	r, err := c.History(context.Background(), HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hours) != 25 || r.Hours[2].Hour != "2026-10-25T02" || r.Hours[3].Hour != "2026-10-25T02" || r.Hours[4].Hour != "2026-10-25T03" {
		t.Fatalf("hours: %d %+v", len(r.Hours), r.Hours[:5])
	}
	if r.Hours[2].Download != 11 || r.Hours[3].Download != 22 || r.Hours[3].Start-r.Hours[2].Start != 3600 {
		t.Fatalf("the two 02 hours: %+v %+v", r.Hours[2], r.Hours[3])
	}
}

// Closed hours are committed to flash with hours.db and come back after
// a reboot; today's come back with transfer.db and add up with the hours
// counted since.
func TestHoursSurviveReboot(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c, f := historyCore(t, &at)
	c.settings.PersistDir = filepath.Join(c.configDir, "flash")
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 100)
	collectAt(t, c, &at, time.Date(2026, 12, 1, 10, 10, 0, 0, time.UTC))
	f.Traffic(down(ipA), 1, 20)
	collectAt(t, c, &at, time.Date(2026, 12, 2, 9, 10, 0, 0, time.UTC)) // 1 December closed
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Power cut and reboot: RAM and the kernel's counters are gone.
	c2 := powerCut(t, c, f, "boot-2")
	handle(t, c2, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 3)
	at = time.Date(2026, 12, 2, 9, 40, 0, 0, time.UTC)
	r, err := c2.History(context.Background(), HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Days[0].Download != 100 || r.Days[1].Download != 23 || r.Hours[9].Download != 23 {
		t.Fatalf("after the reboot: days %+v, hour 09 %+v", r.Days, r.Hours[9])
	}
	h, err := c2.store.PeekHours()
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Hours[time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).Unix()][macA]; got != (ledger.HourBytes{100, 0}) {
		t.Fatalf("1 December 10:00 after the reboot: %v (hours %v)", got, h.Hours)
	}
}
