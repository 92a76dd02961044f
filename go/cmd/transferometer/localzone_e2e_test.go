package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPeriodsInRouterZone: the binary cuts periods at the router's
// midnight when the zone is a POSIX TZ string (as OpenWrt keeps it), which
// Go alone would ignore (UTC). Fixed zones far from UTC make a wrong cut
// visible on any day; a bad string warns and falls back to UTC.
func TestPeriodsInRouterZone(t *testing.T) {
	// In a router namespace of its own: export collects, which makes the
	// backend's tables, and those must not land in the machine's own.
	r := newRig(t, "nftables", 1)
	for _, c := range []struct {
		tz      string
		offset  int // seconds east of UTC the period must start in
		warning bool
	}{
		{"<+14>-14", 14 * 3600, false},
		{"<-11>11", -11 * 3600, false},
		{"IST-5:30", 5*3600 + 1800, false},
		{"UTC", 0, false},
		{"nonsense", 0, true},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, "export", "--format", "json")
		cmd.Env = append(r.env(), "TZ="+c.tz)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		before := time.Now()
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("TZ=%s export: %v\n%s", c.tz, err, stderr.String())
		}
		var rep struct {
			Period struct {
				Key   string `json:"key"`
				Start int64  `json:"start"`
			} `json:"period"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("TZ=%s: %v: %s", c.tz, err, out)
		}
		zone := time.FixedZone(c.tz, c.offset)
		now := before.In(zone)
		want := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, zone) // monthly from day 1 (default)
		if rep.Period.Start != want.Unix() || rep.Period.Key != want.Format("2006-01-02") {
			t.Errorf("TZ=%s: period %s starting %s, want %s starting %s", c.tz, rep.Period.Key,
				time.Unix(rep.Period.Start, 0).UTC(), want.Format("2006-01-02"), want.UTC())
		}
		if got := strings.Contains(stderr.String(), "days and periods in UTC"); got != c.warning {
			t.Errorf("TZ=%s: warning %v, want %v: %q", c.tz, got, c.warning, stderr.String())
		}
	}
}
