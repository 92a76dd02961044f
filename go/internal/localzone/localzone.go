// Package localzone holds the router's time zone as its C library reads it.
//
// OpenWrt writes the zone as a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3",
// or "UTC" by default) to /etc/TZ, from system.@system[0].timezone, and has
// /etc/localtime only when a zoneinfo-* package is installed. OpenWrt's musl
// is patched to read /etc/TZ when $TZ is unset or empty, before
// /etc/localtime (toolchain/musl/patches/110-read_timezone_from_fs.patch).
// Go reads neither /etc/TZ nor POSIX strings, so without this every day and
// period would be cut at UTC midnight instead of where the router's own
// clock (date, logread) puts it.
//
// The string is read as musl's tzset (src/time/__tz.c) reads it, so that
// days here change when the router's date does; a warning is returned only
// where musl also rejects the string (and uses UTC) or reads it in a way
// its writer hardly meant. Where glibc differs, the tests say so.
package localzone

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Files are where OpenWrt keeps the zone.
const (
	LocaltimeFile = "/etc/localtime"
	TZFile        = "/etc/TZ"
)

// zoneinfoDirs are where musl looks up a zone name that is not a POSIX
// string.
var zoneinfoDirs = [...]string{"/usr/share/zoneinfo/", "/share/zoneinfo/", "/etc/zoneinfo/"}

const (
	tznameMax = 6    // musl's TZNAME_MAX: longer names are cut
	maxTZ     = 4097 // musl's PATH_MAX+1: a longer $TZ is taken as UTC
	nameMax   = 255  // NAME_MAX: the longest zone name looked up as a file
)

// Env is what Resolve reads of the system.
type Env struct {
	Getenv   func(string) (string, bool)
	ReadFile func(path string) ([]byte, error)
}

// Resolve returns the zone to use as time.Local, or nil when Go's own
// choice is already musl's ($TZ unset or empty and no /etc/TZ: then
// /etc/localtime, else UTC). The error is a warning: the string is one musl
// rejects or reads against its evident intent; the zone returned is then
// still what musl uses.
func Resolve(e Env) (*time.Location, error) {
	src, tz := "$TZ", ""
	if v, ok := e.Getenv("TZ"); ok && v != "" {
		tz = v
	} else if b, err := e.ReadFile(TZFile); err == nil {
		// musl takes the whole file as the string, up to a NUL: the
		// trailing newline is part of it (and harmless to a POSIX string).
		src, tz = TZFile, cString(b)
	}
	if tz == "" {
		if _, set := e.Getenv("TZ"); !set {
			return nil, nil
		}
		// TZ="": Go would take UTC, musl (patched) /etc/localtime.
		if loc, ok := zoneFile(LocaltimeFile, e.ReadFile); ok {
			return loc, nil
		}
		return time.UTC, nil
	}
	loc, err := Parse(tz, e.ReadFile)
	if err != nil {
		err = fmt.Errorf("%s: %w", src, err)
	}
	return loc, err
}

// Parse reads a TZ value as musl does: a POSIX string when it starts with
// a zone name followed by an offset (or is the name UTC or GMT alone),
// else the name of a zoneinfo file (":" may precede either a name or a
// path). It always returns a zone, UTC when musl would; the error is a
// warning as for Resolve.
func Parse(tz string, read func(string) ([]byte, error)) (*time.Location, error) {
	if len(tz) > maxTZ {
		return time.UTC, fmt.Errorf("time zone of %d bytes: the C library uses UTC: days and periods in UTC", len(tz))
	}
	if !strings.HasPrefix(tz, ":") && posixForm(tz) {
		return fromPOSIX(tz)
	}
	name := strings.TrimPrefix(tz, ":")
	var paths []string
	switch {
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, "."):
		paths = []string{name}
	case len(name) <= nameMax && !strings.Contains(name, "."):
		for _, d := range zoneinfoDirs {
			paths = append(paths, d+name)
		}
	}
	for _, p := range paths {
		if loc, ok := zoneFile(p, read); ok {
			return loc, nil
		}
	}
	if n := strings.TrimSpace(name); n == "" || n == "UTC" || n == "GMT" {
		return time.UTC, nil // blank, or UTC as meant: nothing misread
	}
	return time.UTC, fmt.Errorf("time zone %q: neither a POSIX TZ string (like CET-1CEST,M3.5.0,M10.5.0/3) nor an installed zoneinfo name; the C library uses UTC: days and periods in UTC", tz)
}

// zoneFile loads a zoneinfo file, as musl accepts one: at least a header
// long and starting with "TZif".
func zoneFile(path string, read func(string) ([]byte, error)) (*time.Location, bool) {
	b, err := read(path)
	if err != nil || len(b) < 44 || string(b[:4]) != "TZif" {
		return nil, false
	}
	loc, err := time.LoadLocationFromTZData("Local", b)
	return loc, err == nil
}

// maxFile bounds what ReadFile reads: zoneinfo files and /etc/TZ are a few
// KiB, and $TZ may name any path (a device that never ends, say).
const maxFile = 1 << 20

// ReadFile reads a regular file of at most maxFile bytes: Env.ReadFile on a
// real system.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err == nil && len(b) > maxFile {
		err = fmt.Errorf("%s: larger than %d bytes", path, maxFile)
	}
	return b, err
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// posixForm is musl's test: a name (possibly empty when quoted) followed
// by a sign or digit, or the name UTC or GMT.
func posixForm(s string) bool {
	name, rest := zoneName(s)
	if len(rest) == len(s) {
		return false
	}
	return rest != "" && (rest[0] == '+' || rest[0] == '-' || isDigit(rest[0])) || name == "UTC" || name == "GMT"
}

// zoneName reads a name: <quoted> up to '>' (or the end), or a run of
// letters; names longer than musl's TZNAME_MAX are cut, as musl reports
// them.
func zoneName(s string) (name, rest string) {
	var i int
	if strings.HasPrefix(s, "<") {
		i = strings.IndexByte(s, '>')
		if i < 0 {
			name, rest = s[1:], ""
		} else {
			name, rest = s[1:i], s[i+1:]
		}
	} else {
		for i < len(s) && (s[i]|32) >= 'a' && (s[i]|32) <= 'z' {
			i++
		}
		name, rest = s[:i], s[i:]
	}
	if len(name) > tznameMax {
		name = name[:tznameMax]
	}
	return name, rest
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads decimal digits (none: 0), saturating far beyond any
// meaningful value.
func number(s string) (int, string) {
	n, i := 0, 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		if n < 1e7 {
			n = n*10 + int(s[i]-'0')
		}
	}
	return n, s[i:]
}

// offset reads [+-]hh[:mm[:ss]] into seconds, in POSIX's sign (west of
// UTC positive). Missing digits count as 0, as in musl.
func offset(s string) (int, string) {
	neg := strings.HasPrefix(s, "-")
	if neg || strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	h, s := number(s)
	off := 3600 * h
	if strings.HasPrefix(s, ":") {
		var m int
		m, s = number(s[1:])
		off += 60 * m
		if strings.HasPrefix(s, ":") {
			var sec int
			sec, s = number(s[1:])
			off += sec
		}
	}
	if neg {
		off = -off
	}
	return off, s
}

// rule is a DST transition: kind 'M' (mon, week, day), 'J' (day 1-365,
// no Feb 29) or 0 (day 0-365), at time seconds local.
type rule struct {
	kind          byte
	a, b, c, time int
}

// parseRule reads one transition as musl does: the separators inside
// Mm.w.d are skipped whatever they are, and no '/' means 02:00.
func parseRule(s string) (rule, string) {
	var r rule
	skip := func() {
		if s != "" {
			s = s[1:]
		}
	}
	switch {
	case strings.HasPrefix(s, "M"):
		r.kind = 'M'
		skip()
		r.a, s = number(s)
		skip()
		r.b, s = number(s)
		skip()
		r.c, s = number(s)
	case strings.HasPrefix(s, "J"):
		r.kind = 'J'
		skip()
		r.a, s = number(s)
	default:
		r.a, s = number(s)
	}
	r.time = 7200
	if strings.HasPrefix(s, "/") {
		r.time, s = offset(s[1:])
	}
	return r, s
}

// maxOffset is the largest offset or rule time Go's evaluator takes.
const maxOffset = 167 * 3600

func (r rule) valid() bool {
	if r.time <= -maxOffset || r.time >= maxOffset {
		return false
	}
	switch r.kind {
	case 'M':
		return r.a >= 1 && r.a <= 12 && r.b >= 1 && r.b <= 5 && r.c >= 0 && r.c <= 6
	case 'J':
		return r.a >= 1 && r.a <= 365
	}
	return r.a >= 0 && r.a <= 365
}

func (r rule) String() string {
	t := "/" + formatOffset(r.time)
	switch r.kind {
	case 'M':
		return fmt.Sprintf("M%d.%d.%d%s", r.a, r.b, r.c, t)
	case 'J':
		return fmt.Sprintf("J%d%s", r.a, t)
	}
	return fmt.Sprintf("%d%s", r.a, t)
}

func formatOffset(off int) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("%s%d:%02d:%02d", sign, off/3600, off/60%60, off%60)
}

// fromPOSIX parses as musl does, then hands Go's evaluator the same zone
// spelled out in full (every offset and both rules explicit), so Go cannot
// apply defaults of its own (Go, like glibc, takes US rules for a missing
// pair; musl does not).
func fromPOSIX(tz string) (*time.Location, error) {
	bad := func(why string) (*time.Location, error) {
		return time.UTC, fmt.Errorf("time zone %q: %s, which the C library cannot follow either: days and periods in UTC", tz, why)
	}
	std, s := zoneName(tz)
	stdOff, s := offset(s)
	dst, s := zoneName(s)
	dstOff := stdOff
	var rules [2]rule // musl's zero rules: day 0 at 00:00
	n := 0
	if dst != "" {
		if s != "" && (s[0] == '+' || s[0] == '-' || isDigit(s[0])) {
			dstOff, s = offset(s)
		} else {
			dstOff = stdOff - 3600
		}
		for ; n < 2 && strings.HasPrefix(s, ","); n++ {
			rules[n], s = parseRule(s[1:])
		}
	}
	if strings.ContainsAny(std+dst, "\n>") {
		return bad("a line break in a zone name")
	}
	if stdOff <= -maxOffset || stdOff >= maxOffset || dstOff <= -maxOffset || dstOff >= maxOffset {
		return bad("a UTC offset beyond a week")
	}
	spec := "<" + std + ">" + formatOffset(stdOff)
	if dst != "" {
		if !rules[0].valid() || !rules[1].valid() {
			return bad("a daylight-saving rule out of range (Mmonth.week.day: 1-12, 1-5, 0-6; Jday: 1-365; day: 0-365)")
		}
		spec += "<" + dst + ">" + formatOffset(dstOff) + "," + rules[0].String() + "," + rules[1].String()
	}
	loc, err := time.LoadLocationFromTZData("Local", tzif(spec))
	if err != nil {
		return bad(err.Error())
	}
	// Go falls back to the file's one zone, named so that no POSIX name
	// (at most 6 characters) can be it, where it cannot follow the rule.
	for _, m := range []time.Month{time.January, time.July} {
		if name, _ := time.Date(2026, m, 15, 12, 0, 0, 0, loc).Zone(); name == fallbackName {
			return bad("a rule Go cannot evaluate")
		}
	}
	if dst != "" && n < 2 {
		// musl then takes the missing rules as day 0 at 00:00, which keeps
		// daylight-saving time for most or all of the year; glibc and Go
		// would take US rules instead. The router's clock is musl's.
		return loc, fmt.Errorf("time zone %q: daylight-saving time %s without its two rules (like ,M3.5.0,M10.5.0/3): the C library keeps %s for most of the year, and so do days and periods", tz, dst, dst)
	}
	return loc, nil
}

const fallbackName = "invalid"

// tzif is a zoneinfo file with one zone and no transitions, whose footer
// is tz: every instant then follows the footer's rule.
func tzif(tz string) []byte {
	var b bytes.Buffer
	block := func() {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, uint32(len(fallbackName) + 1)} {
			_ = binary.Write(&b, binary.BigEndian, n)
		}
		b.Write([]byte{0, 0, 0, 0, 0, 0}) // ttinfo: utoff 0, isdst 0, desigidx 0
		b.WriteString(fallbackName + "\x00")
	}
	block() // version 1 data, which readers of version 2 skip
	block()
	b.WriteString("\n" + tz + "\n")
	return b.Bytes()
}
