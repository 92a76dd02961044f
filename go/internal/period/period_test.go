package period

import (
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

func TestMonthly(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	s := Spec{Monthly: true, Day: 15}
	cases := []struct{ at, start, end string }{
		{"2026-11-25", "2026-11-15", "2026-12-15"},
		{"2026-11-15", "2026-11-15", "2026-12-15"},
		{"2026-11-14", "2026-10-15", "2026-11-15"},
		{"2026-01-03", "2025-12-15", "2026-01-15"},
	}
	for _, c := range cases {
		at, _ := time.ParseInLocation(DayLayout, c.at, loc)
		p := s.Containing(at.Add(13 * time.Hour))
		if p.Key() != c.start || p.End.Format(DayLayout) != c.end {
			t.Errorf("%s: %s..%s, want %s..%s", c.at, p.Key(), p.End.Format(DayLayout), c.start, c.end)
		}
	}
	// The last instant before midnight belongs to the old period.
	edge := time.Date(2026, 11, 14, 23, 59, 59, 0, loc)
	if k := s.Containing(edge).Key(); k != "2026-10-15" {
		t.Errorf("edge: %s", k)
	}
	if k := s.Containing(edge.Add(time.Second)).Key(); k != "2026-11-15" {
		t.Errorf("edge+1s: %s", k)
	}
	if k := s.Oldest(edge.Add(time.Second), 3).Key(); k != "2026-09-15" {
		t.Errorf("oldest of 3: %s", k)
	}
}

func TestDays(t *testing.T) {
	anchor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Spec{Anchor: anchor, Days: 7}
	cases := []struct{ at, start string }{
		{"2026-01-01", "2026-01-01"},
		{"2026-01-07", "2026-01-01"},
		{"2026-01-08", "2026-01-08"},
		{"2025-12-31", "2025-12-25"},
		{"2025-12-25", "2025-12-25"},
	}
	for _, c := range cases {
		at, _ := time.ParseInLocation(DayLayout, c.at, time.UTC)
		if k := s.Containing(at.Add(time.Hour)).Key(); k != c.start {
			t.Errorf("%s: %s, want %s", c.at, k, c.start)
		}
	}
}

func TestDaysAcrossDST(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		testlan.SkipOrFail(t, "no zoneinfo (tzdata): %v", err)
	}
	s := Spec{Anchor: time.Date(2026, 3, 28, 0, 0, 0, 0, loc), Days: 1}
	// 2026-03-29 is 23 hours long in Berlin.
	at := time.Date(2026, 3, 30, 0, 30, 0, 0, loc)
	if k := s.Containing(at).Key(); k != "2026-03-30" {
		t.Errorf("got %s", k)
	}
}

func TestValidSelector(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "current": true, "all": true, "2026-11-01": true,
		"2026-13-01": false, "2026-11-1": false, "Current": false, "all ": false, "yesterday": false,
	} {
		if got := ValidSelector(s); got != want {
			t.Errorf("ValidSelector(%q) = %v, want %v", s, got, want)
		}
	}
}
