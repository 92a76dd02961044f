package ledger

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// Hours are credited where days are (Transfer.credit), so the hours of a
// day add up exactly to the day: transfer.db holds the current day's hours,
// and a day rollover moves them to history.db, which keeps the newest
// HoursKept of them. An hour is named by the unix time of its start in the
// router's local time: on the day daylight-saving time ends the repeated
// hour is two hours with two names, and the day has 25 of them (23 on the
// day it starts).

// HourBytes is one device's bytes in one hour: download, then upload.
type HourBytes [2]uint64

// Hours maps an hour (unix seconds of its local start) to its devices.
type Hours map[int64]map[macaddr.MAC]HourBytes

// HoursKept is how many closed hours history.db keeps: two days, so that
// with today's a chart can always show the last 24 hours and more. Each
// hour holds at most one entry per device, so max_devices bounds an hour.
const HoursKept = 48

// HourStart returns the start of t's hour in t's location, as unix
// seconds. Zones are whole hours, half or three quarters off UTC: the
// local hour starts when the local minutes and seconds are zero.
func HourStart(t time.Time) int64 {
	d := time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	return t.Add(-d).Unix()
}

// addHour credits u's bytes to mac in the hour of at.
func (t *Transfer) addHour(at Stamp, mac macaddr.MAC, u Usage) {
	if u.DownloadBytes == 0 && u.UploadBytes == 0 {
		return
	}
	if t.Hours == nil {
		t.Hours = Hours{}
	}
	h := at.Hour
	if h == 0 {
		// Growth stamped with the ledger's own day (a backend switch, a
		// teardown) goes to its latest hour, else to the hour of the
		// UTC clock (the same hour for zones of whole hours).
		h = t.Hours.Latest()
		if h == 0 {
			h = at.Now - at.Now%3600
		}
	}
	m := t.Hours[h]
	if m == nil {
		m = map[macaddr.MAC]HourBytes{}
		t.Hours[h] = m
	}
	b := m[mac]
	m[mac] = HourBytes{b[0] + u.DownloadBytes, b[1] + u.UploadBytes}
}

// Latest returns the newest hour (0: none).
func (h Hours) Latest() int64 {
	var out int64
	for k := range h {
		if k > out {
			out = k
		}
	}
	return out
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

// move gives from's hours to to (ExpiredKey when a device is let go).
func (h Hours) move(from, to macaddr.MAC) {
	for _, m := range h {
		b, ok := m[from]
		if !ok {
			continue
		}
		delete(m, from)
		if to.IsZero() {
			continue
		}
		c := m[to]
		m[to] = HourBytes{c[0] + b[0], c[1] + b[1]}
	}
}

// drop removes mac from every hour (its day was reset).
func (h Hours) drop(mac macaddr.MAC) { h.move(mac, macaddr.MAC{}) }

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
// quarter hour (no zone is off UTC by less), a null hour.
func (h Hours) check() error {
	for k, m := range h {
		if k < 946684800 || k%900 != 0 || m == nil {
			return fmt.Errorf("bad hour %d", k)
		}
		for mac := range m {
			if mac.IsZero() {
				return fmt.Errorf("hour %d: zero MAC", k)
			}
		}
	}
	return nil
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

// copyHours returns a deep copy.
func copyHours(h Hours) Hours {
	out := make(Hours, len(h))
	for k, m := range h {
		c := make(map[macaddr.MAC]HourBytes, len(m))
		for mac, b := range m {
			c[mac] = b
		}
		out[k] = c
	}
	return out
}
