package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// Hours are credited where days are (Transfer.credit), so the hours of a
// day add up exactly to the day. transfer.db, which every run rewrites,
// holds only the current hour; an hour that ends goes to hours.db, written
// once an hour, which keeps the newest HoursKept closed hours. A reset or a
// device let go changes the day at once and the day's closed hours through
// an edit recorded in transfer.db (HourEdit), applied to hours.db when the
// next hour closes and by every reader until then: a crash at any point
// leaves the day and its hours adding up. An hour is named by the unix time
// of its start in the router's local time: on the day daylight-saving time
// ends the repeated hour is two hours with two names, and the day has 25 of
// them (23 on the day it starts).

// HoursFile holds the closed hours.
const HoursFile = "hours.db"

// HourBytes is one device's bytes in one hour: download, then upload.
type HourBytes [2]uint64

// Hours maps an hour (unix seconds of its local start) to its devices.
type Hours map[int64]map[macaddr.MAC]HourBytes

// HoursKept is how many closed hours hours.db keeps: today's and at least
// the two days before, so that a chart can show today's hours and the
// last 48. Each hour holds at most one entry per device, so max_devices
// bounds an hour.
const HoursKept = 72

// HourBucket is the current hour's bytes per device.
type HourBucket struct {
	Start int64                     `json:"start"`
	Usage map[macaddr.MAC]HourBytes `json:"usage"`
}

// HourEdit moves a device's bytes in the closed hours [Since, Before) to
// To, or drops them (To zero): what a reset or a device let go did to the
// day, done to its hours.
type HourEdit struct {
	MAC    macaddr.MAC `json:"mac"`
	To     macaddr.MAC `json:"to,omitempty"`
	Since  int64       `json:"since"`
	Before int64       `json:"before"`
}

func (e HourEdit) apply(h Hours) {
	for k, m := range h {
		if k < e.Since || k >= e.Before {
			continue
		}
		b, ok := m[e.MAC]
		if !ok {
			continue
		}
		delete(m, e.MAC)
		if !e.To.IsZero() {
			c := m[e.To]
			m[e.To] = HourBytes{c[0] + b[0], c[1] + b[1]}
		}
	}
}

// HourStart returns the start of t's hour in t's location, as unix
// seconds. Zones are whole hours, half or three quarters off UTC: the
// local hour starts when the local minutes and seconds are zero.
func HourStart(t time.Time) int64 {
	d := time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	return t.Add(-d).Unix()
}

// DayStart returns the start of t's day in t's location, as unix seconds.
func DayStart(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()).Unix()
}

// rollHour starts the hour of at, returning the hour it closed (nil: none).
func (t *Transfer) rollHour(at Stamp) Hours {
	if at.DayStart != 0 {
		t.DayStart = at.DayStart
	}
	if at.Hour == 0 || at.Hour == t.Hour.Start {
		return nil
	}
	if t.Hour.Start == 0 {
		// No hour yet (a ledger of an older version), or one whose
		// start was lost (a salvaged file): its bytes count in this one.
		t.Hour.Start = at.Hour
		if t.Hour.Usage == nil {
			t.Hour.Usage = map[macaddr.MAC]HourBytes{}
		}
		return nil
	}
	var closed Hours
	if len(t.Hour.Usage) > 0 {
		closed = Hours{t.Hour.Start: t.Hour.Usage}
	}
	t.Hour = HourBucket{Start: at.Hour, Usage: map[macaddr.MAC]HourBytes{}}
	return closed
}

// addHour credits u's bytes to mac in the current hour.
func (t *Transfer) addHour(at Stamp, mac macaddr.MAC, u Usage) {
	if u.DownloadBytes == 0 && u.UploadBytes == 0 {
		return
	}
	if t.Hour.Usage == nil {
		t.Hour.Usage = map[macaddr.MAC]HourBytes{}
	}
	if t.Hour.Start == 0 {
		// Growth stamped without an hour (a ledger of an older version
		// switching backends): the hour of the UTC clock, the same as
		// the local one in zones of whole hours.
		t.Hour.Start = at.Now - at.Now%3600
	}
	b := t.Hour.Usage[mac]
	t.Hour.Usage[mac] = HourBytes{b[0] + u.DownloadBytes, b[1] + u.UploadBytes}
}

// editHours does to mac's hours of today what is being done to its day
// (called before): moves them to to, or drops them (to zero). A device
// whose day is all in the current hour has no closed hours today, and
// needs no edit (devices let go are mostly idle ones).
func (t *Transfer) editHours(mac, to macaddr.MAC) {
	day, cur := t.Day.Usage[mac], t.Hour.Usage[mac]
	closedToo := day.DownloadBytes > cur[0] || day.UploadBytes > cur[1]
	if b, ok := t.Hour.Usage[mac]; ok {
		delete(t.Hour.Usage, mac)
		if !to.IsZero() {
			c := t.Hour.Usage[to]
			t.Hour.Usage[to] = HourBytes{c[0] + b[0], c[1] + b[1]}
		}
	}
	since := t.DayStart
	if since == 0 { // not known (a ledger of an older version): a day's worth
		since = t.Hour.Start - 25*3600
	}
	if closedToo && t.Hour.Start > since {
		t.HourEdits = append(t.HourEdits, HourEdit{MAC: mac, To: to, Since: since, Before: t.Hour.Start})
	}
}

// TodayHours returns the hours of the current day: closed (as read from
// hours.db) with the edits not yet written there applied, and the current
// hour. closed is not changed.
func (t *Transfer) TodayHours(closed Hours) Hours {
	out := Hours{}
	for k, m := range closed {
		if k >= t.DayStart && k < t.Hour.Start {
			out[k] = copyHour(m)
		}
	}
	for _, e := range t.HourEdits {
		e.apply(out)
	}
	if t.Hour.Start != 0 {
		out[t.Hour.Start] = copyHour(t.Hour.Usage)
	}
	return out
}

// Clone returns a deep copy of h.
func (h Hours) Clone() Hours {
	out := make(Hours, len(h))
	for k, m := range h {
		out[k] = copyHour(m)
	}
	return out
}

func copyHour(m map[macaddr.MAC]HourBytes) map[macaddr.MAC]HourBytes {
	c := make(map[macaddr.MAC]HourBytes, len(m))
	for mac, b := range m {
		c[mac] = b
	}
	return c
}

// HourLog is hours.db: the closed hours.
type HourLog struct {
	Version int   `json:"version"`
	Hours   Hours `json:"hours"`
}

// NewHourLog returns an empty hours.db.
func NewHourLog() *HourLog { return &HourLog{Version: Version, Hours: Hours{}} }

func (l *HourLog) version() int { return l.Version }

func (l *HourLog) check() error {
	if l.Hours == nil {
		l.Hours = Hours{}
	}
	return l.Hours.check()
}

// Put stores closed hours (assigning: storing one twice changes nothing),
// applies the edits transfer.db recorded (each applied once more changes
// nothing either), and keeps the newest HoursKept.
func (l *HourLog) Put(closed Hours, edits []HourEdit) {
	if l.Hours == nil {
		l.Hours = Hours{}
	}
	for k, m := range closed {
		l.Hours[k] = m
	}
	for _, e := range edits {
		e.apply(l.Hours)
	}
	l.Hours.keepNewest(HoursKept)
}

// LoadHours reads hours.db; missing means empty; a damaged file is moved
// aside like the others.
func (s Store) LoadHours(now time.Time) (*HourLog, *Recovered, error) {
	l := NewHourLog()
	r, err := s.load(HoursFile, l, now)
	if err != nil {
		return nil, nil, err
	}
	if r != nil && r.Dropped == nil {
		l = NewHourLog()
	}
	return l, r, nil
}

// PeekHours reads hours.db without the lock (damaged reads as empty).
func (s Store) PeekHours() (*HourLog, error) {
	l := NewHourLog()
	ok, err := s.peek(HoursFile, l)
	if err != nil {
		return nil, err
	}
	if !ok {
		return NewHourLog(), nil
	}
	return l, nil
}

// ReadHours reads hours.db without moving anything: missing reads as
// empty, a damaged file is an error wrapping ErrDamaged.
func (s Store) ReadHours() (*HourLog, error) {
	l := NewHourLog()
	data, err := os.ReadFile(filepath.Join(s.Dir, HoursFile))
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if _, err := decode(HoursFile, data, l, freshOf(l)); err != nil {
		if errors.Is(err, ErrNewer) {
			return nil, fmt.Errorf("ledger: %s: %w", HoursFile, err)
		}
		return nil, fmt.Errorf("ledger: %s: %w: %v", filepath.Join(s.Dir, HoursFile), ErrDamaged, err)
	}
	return l, nil
}

// SaveHours writes hours.db atomically.
func (s Store) SaveHours(l *HourLog) error { return s.save(HoursFile, l) }

// HasHours reports whether hours.db exists.
func (s Store) HasHours() bool {
	_, err := os.Stat(filepath.Join(s.Dir, HoursFile))
	return !errors.Is(err, os.ErrNotExist)
}

// Keys lists the hours, oldest first.
func (h Hours) Keys() []int64 {
	out := make([]int64, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Sum adds up mac's bytes over every hour.
func (h Hours) Sum(mac macaddr.MAC) HourBytes {
	var out HourBytes
	for _, m := range h {
		out[0] += m[mac][0]
		out[1] += m[mac][1]
	}
	return out
}

// merge adds o into h.
func (h Hours) merge(o Hours) {
	for k, m := range o {
		dst := h[k]
		if dst == nil {
			dst = map[macaddr.MAC]HourBytes{}
			h[k] = dst
		}
		for mac, b := range m {
			c := dst[mac]
			dst[mac] = HourBytes{c[0] + b[0], c[1] + b[1]}
		}
	}
}

// keepNewest drops all but the newest n hours.
func (h Hours) keepNewest(n int) {
	if len(h) <= n {
		return
	}
	keys := h.Keys()
	for _, k := range keys[:len(keys)-n] {
		delete(h, k)
	}
}

// check rejects hours a file cannot hold: a start before 2000 or not on a
// quarter hour (no zone is off UTC by less), a null hour, a zero MAC.
func (h Hours) check() error {
	for k, m := range h {
		if err := checkHour(k, m); err != nil {
			return err
		}
	}
	return nil
}

func checkHour(k int64, m map[macaddr.MAC]HourBytes) error {
	if k < 946684800 || k%900 != 0 || m == nil {
		return fmt.Errorf("bad hour %d", k)
	}
	for mac := range m {
		if mac.IsZero() {
			return fmt.Errorf("hour %d: zero MAC", k)
		}
	}
	return nil
}

// check accepts a bucket without its start (salvage tries each entry of a
// damaged file alone; the next collection's hour takes it) but not a bad
// start or a zero MAC.
func (b *HourBucket) check() error {
	if b.Usage == nil {
		b.Usage = map[macaddr.MAC]HourBytes{}
	}
	if b.Start == 0 {
		return Hours{946684800: b.Usage}.check()
	}
	return checkHour(b.Start, b.Usage)
}

// hoursJSON is how files hold hours: the hours once, and per device its
// bytes in their order as one string of decimal numbers, "down,up,down,up,…"
// (trailing zeros left out). A map per hour would name every device again
// in every hour, and numbers one by one cost encoding/json ten times the
// work of one string: this is in the file every collection rewrites.
type hoursJSON struct {
	Hours   []int64                `json:"hours"`
	Devices map[macaddr.MAC]string `json:"devices"`
}

// MarshalJSON writes h in the form of hoursJSON.
func (h Hours) MarshalJSON() ([]byte, error) {
	keys := h.Keys()
	nums := map[macaddr.MAC][]uint64{}
	for i, k := range keys {
		for mac, b := range h[k] {
			if b == (HourBytes{}) {
				continue
			}
			v := nums[mac]
			if v == nil {
				v = make([]uint64, 2*len(keys))
				nums[mac] = v
			}
			v[2*i], v[2*i+1] = b[0], b[1]
		}
	}
	out := hoursJSON{Hours: keys, Devices: make(map[macaddr.MAC]string, len(nums))}
	var buf []byte
	for mac, v := range nums {
		for len(v) > 0 && v[len(v)-1] == 0 {
			v = v[:len(v)-1]
		}
		buf = buf[:0]
		for i, n := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, n, 10)
		}
		out.Devices[mac] = string(buf)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the form of hoursJSON, strictly: decimal numbers
// without signs or leading zeros, at most two per hour.
func (h *Hours) UnmarshalJSON(data []byte) error {
	var in hoursJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	out := make(Hours, len(in.Hours))
	for _, k := range in.Hours {
		if _, dup := out[k]; dup {
			return fmt.Errorf("hour %d twice", k)
		}
		out[k] = map[macaddr.MAC]HourBytes{}
	}
	for mac, s := range in.Devices {
		if s == "" {
			continue
		}
		fields := strings.Split(s, ",")
		if len(fields) > 2*len(in.Hours) {
			return fmt.Errorf("%s: %d numbers for %d hours", mac, len(fields), len(in.Hours))
		}
		for i, f := range fields {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil || (len(f) > 1 && f[0] == '0') {
				return fmt.Errorf("%s: bad number %q", mac, f)
			}
			if n == 0 {
				continue
			}
			m := out[in.Hours[i/2]]
			b := m[mac]
			b[i%2] = n
			m[mac] = b
		}
	}
	*h = out
	return nil
}
