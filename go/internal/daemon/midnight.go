package daemon

import (
	"time"

	"github.com/transferometer/transferometer/internal/period"
)

// dayWatch notices the router's midnight on the daemon's one-second tick:
// a quota of a new day or period must be lifted then (and an extra
// allowance for today end), not at the next collection, which can be up
// to refresh_interval later.
type dayWatch struct{ day string }

func newDayWatch(now time.Time) *dayWatch { return &dayWatch{day: period.DayKey(now)} }

// crossed reports whether now is on a later day than the last call saw.
func (d *dayWatch) crossed(now time.Time) bool {
	day := period.DayKey(now)
	if day == d.day {
		return false
	}
	d.day = day
	return true
}
