// Package localzone holds the router's time zone as OpenWrt keeps it.
//
// OpenWrt writes the zone as a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3")
// to /etc/TZ, from system.@system[0].timezone; /etc/localtime points at a
// zoneinfo file only when a zoneinfo-* package is installed, which by
// default none is. Go reads $TZ as a zone name and /etc/localtime, never a
// POSIX string, so without this every day and period would be cut at UTC
// midnight instead of the router's.
package localzone

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Files are where OpenWrt keeps the zone.
const (
	LocaltimeFile = "/etc/localtime"
	TZFile        = "/etc/TZ"
)

// Env is what Resolve reads of the system.
type Env struct {
	Getenv   func(string) (string, bool)
	Exists   func(path string) bool
	ReadFile func(path string) ([]byte, error)
}

// Resolve returns the zone to use as time.Local, or nil when Go's own
// choice stands: $TZ set to a name Go loads (or empty: UTC), or
// /etc/localtime present. Otherwise it reads the POSIX string from $TZ or,
// when $TZ is unset, from /etc/TZ. No /etc/TZ: nil (UTC, as for C programs).
func Resolve(e Env) (*time.Location, error) {
	tz, set := e.Getenv("TZ")
	switch {
	case set && tz == "":
		return nil, nil
	case set:
		if strings.HasPrefix(tz, ":") || strings.HasPrefix(tz, "/") {
			return nil, nil // a zoneinfo file: Go's
		}
		if _, err := time.LoadLocation(tz); err == nil {
			return nil, nil
		}
		loc, err := FromPOSIX(tz)
		if err != nil {
			return nil, fmt.Errorf("$TZ: %w", err)
		}
		return loc, nil
	case e.Exists(LocaltimeFile):
		return nil, nil
	}
	b, err := e.ReadFile(TZFile)
	if err != nil {
		return nil, nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return nil, nil
	}
	loc, err := FromPOSIX(line)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TZFile, err)
	}
	return loc, nil
}

// FromPOSIX builds a Location from a POSIX TZ string. Go evaluates such a
// string only as the footer of a zoneinfo file, so it is wrapped in a
// minimal one (TZif version 2, no transitions): every instant then follows
// the string's rule.
func FromPOSIX(tz string) (*time.Location, error) {
	std, dst, err := zoneNames(tz)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(tz, tzif(tz))
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	// Go falls back to the file's one zone ("UTC") where it cannot follow
	// the rule: a name the string does not give means a rule it rejected.
	for _, m := range []time.Month{time.January, time.July} {
		name, _ := time.Date(2026, m, 15, 12, 0, 0, 0, loc).Zone()
		if name != std && name != dst {
			return nil, fmt.Errorf("time zone %q: not a POSIX TZ rule Go can follow", tz)
		}
	}
	return loc, nil
}

// zoneNames checks the start of a POSIX TZ string — std name, offset,
// optional dst name — and returns the names as Go reports them (without
// the angle brackets of the quoted form).
func zoneNames(tz string) (std, dst string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("time zone %q: %s (want a POSIX TZ string like CET-1CEST,M3.5.0,M10.5.0/3)", tz, why)
	}
	if len(tz) > 256 || strings.ContainsAny(tz, "\x00\n") {
		return bad("malformed")
	}
	std, rest, ok := zoneName(tz)
	if !ok {
		return bad("no zone name of 3 or more letters")
	}
	rest, ok = offset(rest)
	if !ok {
		return bad("no UTC offset after the zone name")
	}
	if rest == "" {
		return std, "", nil
	}
	if rest[0] == ',' {
		return bad("a rule without a daylight-saving zone name")
	}
	dst, _, ok = zoneName(rest)
	if !ok {
		return bad("malformed daylight-saving zone name")
	}
	return std, dst, nil
}

func zoneName(s string) (name, rest string, ok bool) {
	if strings.HasPrefix(s, "<") {
		i := strings.IndexByte(s, '>')
		if i < 4 {
			return "", "", false
		}
		return s[1:i], s[i+1:], true
	}
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i < 3 {
		return "", "", false
	}
	return s[:i], s[i:], true
}

// offset skips [+-]hh[:mm[:ss]].
func offset(s string) (string, bool) {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits := func(s string) (string, bool) {
		n := 0
		for n < len(s) && n < 2 && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		return s[n:], n > 0
	}
	s, ok := digits(s)
	if !ok {
		return s, false
	}
	for k := 0; k < 2 && strings.HasPrefix(s, ":"); k++ {
		if s, ok = digits(s[1:]); !ok {
			return s, false
		}
	}
	return s, true
}

// tzif is a zoneinfo file with one zone (UTC) and no transitions, whose
// footer is tz.
func tzif(tz string) []byte {
	var b bytes.Buffer
	block := func() {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, 4} {
			_ = binary.Write(&b, binary.BigEndian, n)
		}
		b.Write([]byte{0, 0, 0, 0, 0, 0}) // ttinfo: utoff 0, isdst 0, desigidx 0
		b.WriteString("UTC\x00")
	}
	block() // version 1 data, which readers of version 2 skip
	block()
	b.WriteString("\n" + tz + "\n")
	return b.Bytes()
}
