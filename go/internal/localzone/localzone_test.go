package localzone

import (
	"io/fs"
	"strings"
	"testing"
	"time"
)

// TestFromPOSIX: the strings OpenWrt's LuCI writes to /etc/TZ (its zone
// table, luci.sys.zoneinfo), evaluated at instants on both sides of their
// DST changes.
func TestFromPOSIX(t *testing.T) {
	for _, c := range []struct {
		tz   string
		at   string // UTC
		want string // local wall clock and zone
	}{
		{"CET-1CEST,M3.5.0,M10.5.0/3", "2026-01-15T12:00:00Z", "2026-01-15 13:00 CET"},
		{"CET-1CEST,M3.5.0,M10.5.0/3", "2026-07-15T12:00:00Z", "2026-07-15 14:00 CEST"},
		// The last Sunday of March 2026 is the 29th: 01:00 UTC is the switch.
		{"CET-1CEST,M3.5.0,M10.5.0/3", "2026-03-29T00:59:00Z", "2026-03-29 01:59 CET"},
		{"CET-1CEST,M3.5.0,M10.5.0/3", "2026-03-29T01:00:00Z", "2026-03-29 03:00 CEST"},
		{"EST5EDT,M3.2.0,M11.1.0", "2026-01-15T12:00:00Z", "2026-01-15 07:00 EST"},
		{"EST5EDT,M3.2.0,M11.1.0", "2026-07-15T12:00:00Z", "2026-07-15 08:00 EDT"},
		{"<+08>-8", "2026-11-25T20:00:00Z", "2026-11-26 04:00 +08"},
		{"<-03>3", "2026-11-26T01:00:00Z", "2026-11-25 22:00 -03"},
		{"IST-5:30", "2026-11-26T00:00:00Z", "2026-11-26 05:30 IST"},
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", "2026-01-15T12:00:00Z", "2026-01-15 23:00 AEDT"},
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", "2026-07-15T12:00:00Z", "2026-07-15 22:00 AEST"},
		{"UTC0", "2026-11-26T01:00:00Z", "2026-11-26 01:00 UTC"},
		{"GMT0BST,M3.5.0/1,M10.5.0", "2026-07-15T12:00:00Z", "2026-07-15 13:00 BST"},
	} {
		loc, err := FromPOSIX(c.tz)
		if err != nil {
			t.Errorf("FromPOSIX(%q): %v", c.tz, err)
			continue
		}
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := at.In(loc).Format("2006-01-02 15:04 MST"); got != c.want {
			t.Errorf("%s at %s: %s, want %s", c.tz, c.at, got, c.want)
		}
	}
}

// TestLocalMidnight: a day starts at the router's midnight, DST days
// included (23 and 25 hours long).
func TestLocalMidnight(t *testing.T) {
	loc, err := FromPOSIX("CET-1CEST,M3.5.0,M10.5.0/3")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		day   string
		hours float64
	}{{"2026-03-29", 23}, {"2026-10-25", 25}, {"2026-11-26", 24}} {
		d, err := time.ParseInLocation("2006-01-02", c.day, loc)
		if err != nil {
			t.Fatal(err)
		}
		if h := d.AddDate(0, 0, 1).Sub(d).Hours(); h != c.hours {
			t.Errorf("%s: %v hours, want %v", c.day, h, c.hours)
		}
	}
	d, _ := time.ParseInLocation("2006-01-02", "2026-11-01", loc)
	if got := d.UTC().Format(time.RFC3339); got != "2026-10-31T23:00:00Z" {
		t.Errorf("2026-11-01 00:00 CET = %s UTC, want 2026-10-31T23:00:00Z", got)
	}
}

func TestFromPOSIXRejects(t *testing.T) {
	for _, tz := range []string{
		"", "C", "CE-1", "CET", "CET-", "CETx", "1CET", "<>1", "<ab>1",
		"CET-1,M3.5.0,M10.5.0/3", "CET-1CEST,", "CET-1CEST,X", "CET-1CEST,M13.5.0,M10.5.0",
		"CET-1\nCEST", "CET-1\x00", strings.Repeat("A", 300) + "1",
		"$(reboot)", "-1CET",
	} {
		if loc, err := FromPOSIX(tz); err == nil {
			t.Errorf("FromPOSIX(%q) = %v, want an error", tz, loc)
		}
	}
}

// TestResolve: which source wins, as OpenWrt's files can be.
func TestResolve(t *testing.T) {
	const cet = "CET-1CEST,M3.5.0,M10.5.0/3"
	for _, c := range []struct {
		name      string
		env       map[string]string // TZ present when a key
		localtime bool
		tzFile    string // "" absent
		want      string // zone name in July, "" = Go's own (nil)
		wantErr   bool
	}{
		{name: "OpenWrt default: /etc/TZ, no zoneinfo", tzFile: cet + "\n", want: "CEST"},
		{name: "zoneinfo installed", localtime: true, tzFile: cet + "\n", want: ""},
		{name: "nothing: UTC", want: ""},
		{name: "empty /etc/TZ", tzFile: "\n", want: ""},
		{name: "bad /etc/TZ", tzFile: "nonsense\n", wantErr: true},
		{name: "$TZ a POSIX string", env: map[string]string{"TZ": "<+08>-8"}, tzFile: cet, want: "+08"},
		{name: "$TZ a zone name Go loads", env: map[string]string{"TZ": "UTC"}, tzFile: cet, want: ""},
		{name: "$TZ empty: UTC", env: map[string]string{"TZ": ""}, tzFile: cet, want: ""},
		{name: "$TZ a file", env: map[string]string{"TZ": ":/etc/localtime"}, tzFile: cet, want: ""},
		{name: "$TZ bad", env: map[string]string{"TZ": "x1"}, wantErr: true},
	} {
		e := Env{
			Getenv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
			Exists: func(p string) bool { return p == LocaltimeFile && c.localtime },
			ReadFile: func(p string) ([]byte, error) {
				if p == TZFile && c.tzFile != "" {
					return []byte(c.tzFile), nil
				}
				return nil, fs.ErrNotExist
			},
		}
		loc, err := Resolve(e)
		if c.wantErr {
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := ""
		if loc != nil {
			got, _ = time.Date(2026, 7, 15, 12, 0, 0, 0, loc).Zone()
		}
		if got != c.want {
			t.Errorf("%s: zone %q, want %q", c.name, got, c.want)
		}
	}
}
