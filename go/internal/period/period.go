// Package period holds accounting periods: monthly from a start day, or
// every N days from an anchor date, in the router's local time.
package period

import (
	"fmt"
	"time"
)

// Spec describes how time is cut into periods.
type Spec struct {
	Monthly bool
	Day     int       // monthly: first day of a period, 1..28
	Anchor  time.Time // every Days days from this date (zero: 1970-01-01)
	Days    int
}

// Period is [Start, End) in local time; Key names it by its first day.
type Period struct {
	Start, End time.Time
}

// Key is the period's first day, "2006-01-02"; keys sort by time.
func (p Period) Key() string { return p.Start.Format(DayLayout) }

// DayLayout is the format of day and period keys.
const DayLayout = "2006-01-02"

// ValidSelector accepts what a usage or export request may name: "",
// "current", "all" or a period's first day.
func ValidSelector(p string) bool {
	if p == "" || p == "current" || p == "all" {
		return true
	}
	_, err := time.Parse(DayLayout, p)
	return err == nil
}

// DayKey names the calendar day of t in t's location.
func DayKey(t time.Time) string { return t.Format(DayLayout) }

// Containing returns the period that holds t (in t's location).
func (s Spec) Containing(t time.Time) Period {
	loc := t.Location()
	if s.Monthly {
		day := s.Day
		if day < 1 || day > 28 {
			day = 1
		}
		start := time.Date(t.Year(), t.Month(), day, 0, 0, 0, 0, loc)
		if t.Day() < day {
			start = start.AddDate(0, -1, 0)
		}
		return Period{Start: start, End: start.AddDate(0, 1, 0)}
	}
	n := s.Days
	if n < 1 {
		n = 1
	}
	a := s.Anchor
	if a.IsZero() {
		a = time.Date(1970, 1, 1, 0, 0, 0, 0, loc)
	}
	// Count calendar days, not 24 h spans: days with a DST change are
	// 23 or 25 hours long.
	d := civilDays(t) - civilDays(a)
	k := d / n
	if d < 0 && d%n != 0 {
		k-- // floor for dates before the anchor
	}
	start := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, k*n)
	return Period{Start: start, End: start.AddDate(0, 0, n)}
}

// Previous returns the period before p.
func (s Spec) Previous(p Period) Period { return s.Containing(p.Start.Add(-time.Second)) }

// Oldest returns the first period of the last n, ending with the one that
// holds t.
func (s Spec) Oldest(t time.Time, n int) Period {
	p := s.Containing(t)
	for i := 1; i < n; i++ {
		p = s.Previous(p)
	}
	return p
}

// ParseKey reads a period or day key back.
func ParseKey(k string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(DayLayout, k, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("period %q: want a date like 2026-11-01", k)
	}
	return t, nil
}

// DaysBetween counts calendar days from a's day to b's (0: the same day),
// whatever DST does to the hours between them.
func DaysBetween(a, b time.Time) int { return civilDays(b) - civilDays(a) }

func civilDays(t time.Time) int {
	u := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC)
	return int(u.Unix() / 86400)
}
