package localzone

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// at is one instant (UTC) and the wall clock and zone name wanted there.
type at struct{ utc, want string }

// TestParse: each string as musl's tzset reads it (the C library of every
// OpenWrt release since 15.05; its date and logread show these clocks),
// with glibc's reading where it differs. warn: a warning is wanted.
func TestParse(t *testing.T) {
	const cet = "CET-1CEST,M3.5.0,M10.5.0/3"
	for _, c := range []struct {
		tz   string
		at   []at
		warn bool
		why  string
	}{
		{tz: "UTC", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "OpenWrt's default. musl: a POSIX string by its exception for the names UTC and GMT, offset 0. glibc: zoneinfo UTC, or without it the name with offset 0. Both UTC"},
		{tz: "UTC\n", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "as /etc/TZ holds it: musl takes the whole file, the newline ends the string"},
		{tz: "GMT0", at: []at{{"2026-01-15T12:00:00Z", "2026-01-15 12:00 GMT"}},
			why: "musl and glibc: offset 0, named GMT"},
		{tz: "GMT", at: []at{{"2026-01-15T12:00:00Z", "2026-01-15 12:00 GMT"}},
			why: "musl: the GMT exception, as for UTC"},
		{tz: cet, at: []at{
			{"2026-01-15T12:00:00Z", "2026-01-15 13:00 CET"},
			{"2026-07-15T12:00:00Z", "2026-07-15 14:00 CEST"},
			// The last Sunday of March 2026 is the 29th: 01:00 UTC is the switch.
			{"2026-03-29T00:59:00Z", "2026-03-29 01:59 CET"},
			{"2026-03-29T01:00:00Z", "2026-03-29 03:00 CEST"},
			{"2026-10-25T00:59:00Z", "2026-10-25 02:59 CEST"},
			{"2026-10-25T01:00:00Z", "2026-10-25 02:00 CET"},
		}, why: "LuCI's Europe/Berlin; musl and glibc alike"},
		{tz: "<+0330>-3:30", at: []at{{"2026-11-25T20:00:00Z", "2026-11-25 23:30 +0330"}},
			why: "LuCI's Asia/Tehran: a quoted name; musl and glibc alike"},
		{tz: "EST5EDT,M3.2.0,M11.1.0", at: []at{
			{"2026-01-15T12:00:00Z", "2026-01-15 07:00 EST"}, {"2026-07-15T12:00:00Z", "2026-07-15 08:00 EDT"}}},
		{tz: "<+08>-8", at: []at{{"2026-11-25T20:00:00Z", "2026-11-26 04:00 +08"}}},
		{tz: "<-03>3", at: []at{{"2026-11-26T01:00:00Z", "2026-11-25 22:00 -03"}}},
		{tz: "IST-5:30", at: []at{{"2026-11-26T00:00:00Z", "2026-11-26 05:30 IST"}}},
		{tz: "AEST-10AEDT,M10.1.0,M4.1.0/3", at: []at{
			{"2026-01-15T12:00:00Z", "2026-01-15 23:00 AEDT"}, {"2026-07-15T12:00:00Z", "2026-07-15 22:00 AEST"}},
			why: "southern hemisphere: DST across the new year"},
		{tz: "GMT0BST,M3.5.0/1,M10.5.0", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 13:00 BST"}}},
		{tz: "EST5EDT4,M3.2.0/2:00:00,M11.1.0/2", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 08:00 EDT"}},
			why: "explicit DST offset and rule times"},
		{tz: "XXX0YYY-1,J60/0,J300/0", at: []at{
			{"2028-02-29T12:00:00Z", "2028-02-29 12:00 XXX"}, {"2028-03-01T12:00:00Z", "2028-03-01 13:00 YYY"}},
			why: "Jn never counts Feb 29: J60 is 1 March in a leap year"},
		{tz: "XXX0YYY-1,59/0,300/0", at: []at{{"2028-02-29T12:00:00Z", "2028-02-29 13:00 YYY"}},
			why: "n counts from 0 and includes Feb 29: 59 is 29 February in a leap year"},
		{tz: "CET-1CEST,M3x5x0,M10.5.0/3", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 14:00 CEST"}},
			why: "musl skips the separators inside Mm.w.d whatever they are"},
		{tz: "A-1", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 13:00 A"}},
			why: "musl takes names under 3 letters (glibc does not, and uses UTC); the router is musl's"},
		{tz: "<>1", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 11:00 -0100"}},
			why: "musl: an empty quoted name is still a POSIX string (Go prints the offset for it)"},
		{tz: "CET-1,M3.5.0,M10.5.0/3", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 13:00 CET"}},
			why: "rules without a DST name: musl has no DST to apply them to"},
		{tz: "CET-1 CEST", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 13:00 CET"}},
			why: "musl stops at the space: no DST name, the rest ignored"},
		{tz: "TOOLONGNAME-2", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 14:00 TOOLON"}},
			why: "musl cuts names at TZNAME_MAX (6)"},
		{tz: "CET-1CEST", warn: true, at: []at{
			{"2026-01-15T12:00:00Z", "2026-01-15 14:00 CEST"}, {"2026-07-15T12:00:00Z", "2026-07-15 14:00 CEST"}},
			why: "DST without rules: musl's are day 0 at 00:00 both, so DST all year; glibc and Go alone would take US rules"},
		{tz: "CET-1CEST,M3.5.0", warn: true, at: []at{
			{"2026-01-15T12:00:00Z", "2026-01-15 13:00 CET"}, {"2026-11-15T12:00:00Z", "2026-11-15 14:00 CEST"}},
			why: "one rule: musl's missing end is day 0, so DST from March to the year's end"},
		{tz: "CET", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "no offset and not UTC/GMT: musl looks for zoneinfo CET, finds none on a stock OpenWrt, uses UTC (glibc: offset 0 named CET)"},
		{tz: "nonsense", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: "Europe/Berlin", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "a zone name without a zoneinfo package: UTC"},
		{tz: "1CET", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: "-1CET", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: "$(reboot)", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: "../../etc/passwd", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "a relative path: musl reads it (no TZif header here: UTC)"},
		{tz: "CET-1CEST,M13.5.0,M10.5.0", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "month 13: musl reads past its month table; we cannot follow that, UTC"},
		{tz: "CET-1CEST,M3.0.0,M10.5.0", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "week 0: musl puts the change a week before the month; UTC"},
		{tz: "CET-1CEST,J0,J300", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: "CET-200", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: "<a\nb>-1", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}}},
		{tz: strings.Repeat("A", 4100) + "1", warn: true, at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "longer than PATH_MAX+1: musl takes UTC"},
		{tz: "\n", at: []at{{"2026-07-15T12:00:00Z", "2026-07-15 12:00 UTC"}},
			why: "a blank /etc/TZ line: musl finds no zone, UTC; nothing meant was misread"},
	} {
		loc, err := Parse(c.tz, noFiles)
		if (err != nil) != c.warn {
			t.Errorf("Parse(%q): warning %v, want one: %v (%s)", c.tz, err, c.warn, c.why)
		}
		if loc == nil {
			t.Errorf("Parse(%q): no zone", c.tz)
			continue
		}
		if err != nil && strings.Contains(err.Error(), "\n") && !strings.Contains(c.tz, "\n") {
			t.Errorf("Parse(%q): warning of several lines: %q", c.tz, err)
		}
		for _, a := range c.at {
			u, err := time.Parse(time.RFC3339, a.utc)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.In(loc).Format("2006-01-02 15:04 MST"); got != a.want {
				t.Errorf("%q at %s: %s, want %s (%s)", c.tz, a.utc, got, a.want, c.why)
			}
		}
	}
}

func noFiles(string) ([]byte, error) { return nil, fs.ErrNotExist }

// TestLocalMidnight: a day starts at the router's midnight, DST days
// included (23 and 25 hours long).
func TestLocalMidnight(t *testing.T) {
	loc, err := Parse("CET-1CEST,M3.5.0,M10.5.0/3", noFiles)
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

// TestResolve: which source wins, as OpenWrt's musl (patched to read
// /etc/TZ) decides: $TZ when set and not empty, else /etc/TZ, else
// /etc/localtime, else UTC. glibc never reads /etc/TZ.
func TestResolve(t *testing.T) {
	const cet = "CET-1CEST,M3.5.0,M10.5.0/3"
	// A zoneinfo file for a fixed +05 zone, as a zoneinfo package would
	// install one.
	plus5 := string(tzif("<+05>-5"))
	for _, c := range []struct {
		name    string
		env     map[string]string // TZ present when a key
		files   map[string]string
		want    string // zone name and offset in July, "" = Go's own (nil)
		wantErr bool
	}{
		{name: "OpenWrt's default /etc/TZ", files: map[string]string{TZFile: "UTC\n"}, want: "UTC+0"},
		{name: "/etc/TZ, no zoneinfo", files: map[string]string{TZFile: cet + "\n"}, want: "CEST+7200"},
		{name: "/etc/TZ before /etc/localtime", files: map[string]string{TZFile: cet + "\n", LocaltimeFile: plus5}, want: "CEST+7200"},
		{name: "/etc/TZ up to a NUL", files: map[string]string{TZFile: "<+08>-8\x00junk"}, want: "+08+28800"},
		{name: "nothing: Go's own (/etc/localtime, else UTC, as musl)", want: ""},
		{name: "empty /etc/TZ: as if absent", files: map[string]string{TZFile: ""}, want: ""},
		{name: "bad /etc/TZ: UTC and a warning", files: map[string]string{TZFile: "nonsense\n"}, want: "UTC+0", wantErr: true},
		{name: "a zone name in /etc/TZ: musl looks it up with the newline, finds nothing",
			files: map[string]string{TZFile: "Asia/Karachi\n", "/usr/share/zoneinfo/Asia/Karachi": plus5}, want: "UTC+0", wantErr: true},
		{name: "$TZ a POSIX string", env: map[string]string{"TZ": "<+08>-8"}, files: map[string]string{TZFile: cet}, want: "+08+28800"},
		{name: "$TZ a zone name", env: map[string]string{"TZ": "Asia/Karachi"},
			files: map[string]string{TZFile: cet, "/usr/share/zoneinfo/Asia/Karachi": plus5}, want: "+05+18000"},
		{name: "$TZ :name, in musl's third directory", env: map[string]string{"TZ": ":Asia/Karachi"},
			files: map[string]string{"/etc/zoneinfo/Asia/Karachi": plus5}, want: "+05+18000"},
		{name: "$TZ a file", env: map[string]string{"TZ": ":/etc/localtime"}, files: map[string]string{LocaltimeFile: plus5}, want: "+05+18000"},
		{name: "$TZ a file that is no zoneinfo", env: map[string]string{"TZ": "/etc/TZ"}, files: map[string]string{TZFile: cet}, want: "UTC+0", wantErr: true},
		{name: "$TZ empty: /etc/TZ (patched musl; Go alone: UTC)", env: map[string]string{"TZ": ""}, files: map[string]string{TZFile: cet}, want: "CEST+7200"},
		{name: "$TZ empty, no /etc/TZ: /etc/localtime", env: map[string]string{"TZ": ""}, files: map[string]string{LocaltimeFile: plus5}, want: "+05+18000"},
		{name: "$TZ empty, nothing: UTC", env: map[string]string{"TZ": ""}, want: "UTC+0"},
		{name: "$TZ bad", env: map[string]string{"TZ": "nonsense"}, files: map[string]string{TZFile: cet}, want: "UTC+0", wantErr: true},
	} {
		e := Env{
			Getenv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
			ReadFile: func(p string) ([]byte, error) {
				if v, ok := c.files[p]; ok {
					return []byte(v), nil
				}
				return nil, fs.ErrNotExist
			},
		}
		loc, err := Resolve(e)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: warning %v, want one: %v", c.name, err, c.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "$TZ: ") && !strings.HasPrefix(err.Error(), TZFile+": ") {
			t.Errorf("%s: warning %q does not name its source", c.name, err)
		}
		got := ""
		if loc != nil {
			name, off := time.Date(2026, 7, 15, 12, 0, 0, 0, loc).Zone()
			got = name + "+" + strconv.Itoa(off)
		}
		if got != c.want {
			t.Errorf("%s: zone %q, want %q", c.name, got, c.want)
		}
	}
}

// TestReadFile: what $TZ names is read only when it is a small regular
// file (a device such as /dev/zero would never end).
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	if err := os.WriteFile(small, tzif("<+05>-5"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, maxFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(small); err != nil || string(b[:4]) != "TZif" {
		t.Errorf("ReadFile(small): %v", err)
	}
	for _, p := range []string{big, dir, "/dev/zero", filepath.Join(dir, "absent")} {
		if _, err := ReadFile(p); err == nil {
			t.Errorf("ReadFile(%s): no error", p)
		}
	}
	loc, err := Parse("/dev/zero", ReadFile)
	if err == nil || loc != time.UTC {
		t.Errorf("Parse(/dev/zero) = %v, %v; want UTC and a warning", loc, err)
	}
}

// FuzzParse: any string gives a zone (never nil, never a panic), and a
// warning is one line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"UTC", "UTC\n", "GMT0", "CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30", "<>1",
		"CET-1CEST", "CET-1CEST,M3.5.0", "J", "X1Y,J", "A1B,M", "A-1B-2,M12.5.6/-167,J365/167", ":", ".", "<",
		"CET-1CEST,M3.5.0/99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tz string) {
		loc, err := Parse(tz, noFiles)
		if loc == nil {
			t.Fatalf("Parse(%q): no zone", tz)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatalf("Parse(%q): warning of several lines: %q", tz, err)
		}
		_, _ = time.Date(2026, 3, 29, 1, 0, 0, 0, loc).Zone() // evaluating the zone must not panic
	})
}
