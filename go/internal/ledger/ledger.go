// Package ledger holds host.db (who is on the LAN) and transfer.db (what
// each device moved, plus the counter baselines that make counting lossless
// without ever zeroing a kernel counter), and their crash-safe files.
package ledger

import (
	"net/netip"
	"sort"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
)

// Version is the on-disk format version of both files.
const Version = 1

// Hosts is host.db: the LAN addresses we account (IP → MAC) and what we
// know of each device. A device outlives its addresses so that usage of a
// device that left keeps its name.
type Hosts struct {
	Version int                         `json:"version"`
	IPs     map[netip.Addr]IPEntry      `json:"ips"`
	Devices map[macaddr.MAC]*DeviceInfo `json:"devices"`
}

// IPEntry maps one LAN address to its device.
type IPEntry struct {
	MAC       macaddr.MAC `json:"mac"`
	FirstSeen int64       `json:"first_seen"`
	LastSeen  int64       `json:"last_seen"`
}

// DeviceInfo is what we know of a device beyond its counters.
type DeviceInfo struct {
	Hostname  string `json:"hostname,omitempty"`
	FirstSeen int64  `json:"first_seen"`
	LastSeen  int64  `json:"last_seen"`
}

// Usage is one device's counted traffic. Download is traffic to the device.
type Usage struct {
	DownloadBytes   uint64 `json:"download_bytes"`
	UploadBytes     uint64 `json:"upload_bytes"`
	DownloadPackets uint64 `json:"download_packets"`
	UploadPackets   uint64 `json:"upload_packets"`
}

// Add sums u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{u.DownloadBytes + v.DownloadBytes, u.UploadBytes + v.UploadBytes,
		u.DownloadPackets + v.DownloadPackets, u.UploadPackets + v.UploadPackets}
}

// IsZero reports no traffic at all.
func (u Usage) IsZero() bool { return u == Usage{} }

// RouterUsage is the router's own traffic (INPUT and OUTPUT), all families.
type RouterUsage struct {
	InputBytes    uint64 `json:"input_bytes"`
	InputPackets  uint64 `json:"input_packets"`
	OutputBytes   uint64 `json:"output_bytes"`
	OutputPackets uint64 `json:"output_packets"`
}

// Baseline is the last kernel value of one counter that has been credited,
// and whom the counter's growth belongs to.
type Baseline struct {
	MAC     macaddr.MAC `json:"mac,omitempty"`
	Packets uint64      `json:"packets"`
	Bytes   uint64      `json:"bytes"`
}

// Transfer is transfer.db.
type Transfer struct {
	Version int                   `json:"version"`
	Totals  map[macaddr.MAC]Usage `json:"totals"`
	Router  RouterUsage           `json:"router"`
	// Unattributed holds growth of rules for addresses no device owns
	// (only after host.db was lost), so that no counted byte vanishes.
	Unattributed Usage `json:"unattributed"`
	// Pending holds, per address, growth counted while no device owned
	// the address (see pending.go).
	Pending map[netip.Addr]*Pending `json:"pending,omitempty"`
	// ExpiredDevices counts the devices Bound let go since the last reset
	// of all devices; their usage is under ExpiredKey.
	ExpiredDevices int                      `json:"expired_devices,omitempty"`
	Baselines      map[counter.Key]Baseline `json:"baselines"`
	// Backend names the rule family (netfilter.Kind.Family) whose
	// counters Baselines refer to: the same Key in another backend is
	// another counter, so baselines are never compared across backends.
	// Empty in ledgers written before there was a choice (iptables then).
	Backend string `json:"backend,omitempty"`
	// Retired holds the previous backend's baselines from a backend switch
	// until its rules are gone.
	Retired *Retired `json:"retired,omitempty"`
	// Day and Period hold the current calendar day's and accounting
	// period's usage. Closed ones move to history.db, which only a
	// rollover writes, so this hot file stays small.
	Day    Bucket `json:"day"`
	Period Bucket `json:"period"`
	// Hour is the current hour's usage per device; earlier hours are in
	// hours.db, HourEdits what is still to be done to them (see
	// hours.go), DayStart when the current day began (unix seconds). All
	// absent in files written before hours were kept.
	Hour      HourBucket `json:"hour"`
	HourEdits []HourEdit `json:"hour_edits,omitempty"`
	DayStart  int64      `json:"day_start,omitempty"`
	// History lists the closed periods in history.db, newest first, so
	// that listing them needs no read of that file.
	History []string `json:"history"`
	// Restored says this (RAM) ledger already holds the copy committed to
	// flash, so it is merged exactly once per boot.
	Restored bool `json:"restored"`
	// BootID names the kernel boot the baselines belong to: after a
	// reboot the kernel counters start again and old baselines mean nothing.
	BootID string `json:"boot_id,omitempty"`
	// SavedAt is when a committed copy was written (unix seconds).
	SavedAt int64 `json:"saved_at,omitempty"`
}

// Retired is a backend being switched away from, with its baselines.
type Retired struct {
	Backend   string                   `json:"backend"`
	Baselines map[counter.Key]Baseline `json:"baselines"`
}

// Stamp names the day and period growth belongs to ("2006-01-02" keys of
// their first days; zero means no history at all), and when it was read
// (unix seconds; 0: not known).
type Stamp struct {
	Day, Period string
	Now         int64
	// Hour and DayStart are the starts of the local hour and day
	// (HourStart, DayStart); 0: not known.
	Hour, DayStart int64
}

// Bucket is one day's or period's usage per device.
type Bucket struct {
	Key   string                `json:"key"`
	Usage map[macaddr.MAC]Usage `json:"usage"`
}

// Closed are buckets a rollover ended: days and periods belong in
// history.db, hours in hours.db.
type Closed struct {
	Day, Period *Bucket
	Hours       Hours
}

// Any reports whether anything closed.
func (c Closed) Any() bool { return c.Day != nil || c.Period != nil || len(c.Hours) > 0 }

// NewHosts and NewTransfer return empty ledgers.
func NewHosts() *Hosts {
	return &Hosts{Version: Version, IPs: map[netip.Addr]IPEntry{}, Devices: map[macaddr.MAC]*DeviceInfo{}}
}

// NewTransfer returns an empty transfer ledger.
func NewTransfer() *Transfer {
	return &Transfer{Version: Version, Totals: map[macaddr.MAC]Usage{}, Baselines: map[counter.Key]Baseline{},
		Day: Bucket{Usage: map[macaddr.MAC]Usage{}}, Period: Bucket{Usage: map[macaddr.MAC]Usage{}},
		Hour: HourBucket{Usage: map[macaddr.MAC]HourBytes{}}, History: []string{}}
}

// Roll starts the buckets of at, returning the ones it closed. Growth read
// at a collection goes to the day and period of that collection: at most
// one refresh interval lands on the wrong side of midnight.
func (t *Transfer) Roll(at Stamp) Closed {
	var c Closed
	c.Hours = t.rollHour(at)
	for _, x := range []struct {
		b   *Bucket
		key string
		out **Bucket
	}{{&t.Day, at.Day, &c.Day}, {&t.Period, at.Period, &c.Period}} {
		if x.key == "" || x.b.Key == x.key {
			continue
		}
		if x.b.Key != "" {
			old := *x.b
			*x.out = &old
		}
		*x.b = Bucket{Key: x.key, Usage: map[macaddr.MAC]Usage{}}
	}
	return c
}

// Apply credits every counter's growth since its baseline and moves the
// baseline to the current value. A counter below its baseline was
// re-created (firewall restart, external flush): all of it is new. A
// baseline whose rule is gone is dropped: its counts were credited when it
// was last read. owner names the device of an address whose counter has no
// baseline yet. It returns the devices whose usage grew, and the day and
// period buckets that at closed (they belong in history.db).
func (t *Transfer) Apply(counters map[counter.Key]counter.Counter, owner func(netip.Addr) (macaddr.MAC, bool), at Stamp) (map[macaddr.MAC]bool, Closed) {
	closed := t.Roll(at)
	grew := map[macaddr.MAC]bool{}
	for k := range t.Baselines {
		if _, ok := counters[k]; !ok {
			delete(t.Baselines, k)
		}
	}
	for k, cur := range counters {
		base, ok := t.Baselines[k]
		delta := cur
		if ok && cur.Bytes >= base.Bytes && cur.Packets >= base.Packets {
			delta = counter.Counter{Packets: cur.Packets - base.Packets, Bytes: cur.Bytes - base.Bytes}
		}
		mac := base.MAC
		if k.Kind == counter.Upload || k.Kind == counter.Download {
			if mac.IsZero() {
				mac, _ = owner(k.Addr)
			}
		}
		t.credit(k, mac, delta, at)
		if delta.Bytes > 0 && !mac.IsZero() {
			grew[mac] = true
		}
		t.Baselines[k] = Baseline{MAC: mac, Packets: cur.Packets, Bytes: cur.Bytes}
	}
	return grew, closed
}

func (t *Transfer) credit(k counter.Key, mac macaddr.MAC, d counter.Counter, at Stamp) {
	if d == (counter.Counter{}) {
		return
	}
	var u Usage
	switch k.Kind {
	case counter.Upload:
		u = Usage{UploadBytes: d.Bytes, UploadPackets: d.Packets}
	case counter.Download:
		u = Usage{DownloadBytes: d.Bytes, DownloadPackets: d.Packets}
	case counter.RouterIn:
		t.Router.InputBytes += d.Bytes
		t.Router.InputPackets += d.Packets
		return
	case counter.RouterOut:
		t.Router.OutputBytes += d.Bytes
		t.Router.OutputPackets += d.Packets
		return
	case counter.RestUp, counter.RestDown:
		// A prefix's addresses that had no counter of their own: no
		// address to wait under.
		u = Usage{UploadBytes: d.Bytes, UploadPackets: d.Packets}
		if k.Kind == counter.RestDown {
			u = Usage{DownloadBytes: d.Bytes, DownloadPackets: d.Packets}
		}
		t.Unattributed = t.Unattributed.Add(u)
		return
	}
	if mac.IsZero() {
		t.pend(k.Addr, u, at)
		return
	}
	t.Totals[mac] = t.Totals[mac].Add(u)
	if at.Day != "" {
		t.Day.Usage[mac] = t.Day.Usage[mac].Add(u)
		t.addHour(at, mac, u)
	}
	if at.Period != "" {
		t.Period.Usage[mac] = t.Period.Usage[mac].Add(u)
	}
}

// Merge adds a committed copy (from flash) into this ledger, once per boot,
// and returns the copy's buckets that are older than this ledger's (they
// belong in history). Baselines are adopted only from the same boot, where
// the kernel counters they refer to still run; addresses are the caller's.
func (t *Transfer) Merge(c *Transfer, sameBoot bool) Closed {
	for m, u := range c.Totals {
		t.Totals[m] = t.Totals[m].Add(u)
	}
	t.Unattributed = t.Unattributed.Add(c.Unattributed)
	t.ExpiredDevices += c.ExpiredDevices
	for a, p := range c.Pending {
		if t.Pending == nil {
			t.Pending = map[netip.Addr]*Pending{}
		}
		if cur := t.Pending[a]; cur != nil {
			cur.Usage = cur.Usage.Add(p.Usage)
			continue
		}
		cp := *p
		t.Pending[a] = &cp
	}
	t.Router.InputBytes += c.Router.InputBytes
	t.Router.InputPackets += c.Router.InputPackets
	t.Router.OutputBytes += c.Router.OutputBytes
	t.Router.OutputPackets += c.Router.OutputPackets
	var closed Closed
	for _, x := range []struct {
		dst, src *Bucket
		out      **Bucket
	}{{&t.Day, &c.Day, &closed.Day}, {&t.Period, &c.Period, &closed.Period}} {
		switch {
		case x.src.Key == "":
		case x.dst.Key == "" || x.dst.Key == x.src.Key:
			x.dst.Key = x.src.Key
			for m, u := range x.src.Usage {
				x.dst.Usage[m] = x.dst.Usage[m].Add(u)
			}
		case x.src.Key < x.dst.Key:
			b := *x.src
			*x.out = &b
		}
	}
	// The copy's current hour: the same as this one's, or closed. Its
	// edits are of hours that come back with its hours.db.
	switch h := c.Hour; {
	case h.Start == 0:
	case t.Hour.Start == 0 || t.Hour.Start == h.Start:
		t.Hour.Start = h.Start
		if t.Hour.Usage == nil {
			t.Hour.Usage = map[macaddr.MAC]HourBytes{}
		}
		Hours{h.Start: t.Hour.Usage}.merge(Hours{h.Start: h.Usage})
	case h.Start < t.Hour.Start && len(h.Usage) > 0:
		closed.Hours = Hours{h.Start: h.Usage}
	}
	t.HourEdits = append(t.HourEdits, c.HourEdits...)
	if t.DayStart == 0 {
		t.DayStart = c.DayStart
	}
	t.History = mergeKeys(t.History, c.History)
	if sameBoot && (t.Backend == "" || t.Backend == c.Backend) {
		if t.Backend == "" {
			t.Backend = c.Backend
		}
		if t.Retired == nil && c.Retired != nil {
			cp := *c.Retired
			t.Retired = &cp
		}
		for k, b := range c.Baselines {
			if _, ok := t.Baselines[k]; !ok {
				t.Baselines[k] = b
			}
		}
	}
	return closed
}

// mergeKeys unions two newest-first key lists.
func mergeKeys(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range append(append([]string{}, a...), b...) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// Assign makes future growth of addr's counters belong to mac, and records
// a zero baseline for counters about to be created. It is called (and
// saved) before the rules are added, so that a crash in between cannot
// make a new rule's first bytes look like an old rule's.
func (t *Transfer) Assign(addr netip.Addr, mac macaddr.MAC, present map[counter.Key]counter.Counter) {
	for _, kind := range []counter.Kind{counter.Upload, counter.Download} {
		k := counter.HostKey(kind, addr)
		b, ok := t.Baselines[k]
		if _, live := present[k]; !live || !ok {
			b = Baseline{}
		}
		b.MAC = mac
		t.Baselines[k] = b
	}
}

// Reset zeroes the totals of the given devices (all when macs is nil), and
// their usage in the current day and period, and returns what the totals
// held. Baselines stay, so later bytes keep counting; closed periods stay
// as history.
func (t *Transfer) Reset(macs []macaddr.MAC) map[macaddr.MAC]Usage {
	out := map[macaddr.MAC]Usage{}
	if macs == nil {
		for m := range t.Totals {
			macs = append(macs, m)
		}
		t.ExpiredDevices = 0
	}
	for _, m := range macs {
		t.editHours(m, macaddr.MAC{})
		out[m] = t.Totals[m]
		if _, ok := t.Totals[m]; ok {
			t.Totals[m] = Usage{}
		}
		for _, b := range []*Bucket{&t.Day, &t.Period} {
			if _, ok := b.Usage[m]; ok {
				b.Usage[m] = Usage{}
			}
		}
	}
	return out
}

// Owner looks up the device of a LAN address.
func (h *Hosts) Owner(a netip.Addr) (macaddr.MAC, bool) {
	e, ok := h.IPs[a]
	return e.MAC, ok
}

// AddrsByMAC lists every device's addresses in order, in one pass (a
// report of thousands of devices must not scan all addresses per device).
func (h *Hosts) AddrsByMAC() map[macaddr.MAC][]netip.Addr {
	out := map[macaddr.MAC][]netip.Addr{}
	for a, e := range h.IPs {
		out[e.MAC] = append(out[e.MAC], a)
	}
	for _, as := range out {
		sort.Slice(as, func(i, j int) bool { return as[i].Less(as[j]) })
	}
	return out
}

// Device returns the info of mac, creating it.
func (h *Hosts) Device(mac macaddr.MAC, now int64) *DeviceInfo {
	d := h.Devices[mac]
	if d == nil {
		d = &DeviceInfo{FirstSeen: now, LastSeen: now}
		h.Devices[mac] = d
	}
	return d
}
