package ledger

import (
	"bytes"
	"net/netip"
	"sort"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// The ledger grows with what the LAN does: phones that randomise their
// MAC, IPv6 privacy addresses, a client forging ARP. Bound keeps it within
// limits without ever dropping a counted byte silently: a device that is
// let go has its usage moved to the "expired devices" entry (ExpiredKey)
// of the totals and of the current day and period.

// ExpiredKey is the usage key of devices the ledger let go: the broadcast
// address, which no device owns (events with it are ignored), so it can
// never be mistaken for one.
var ExpiredKey = macaddr.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// MaxAddrsPerDevice caps the addresses one device keeps: IPv4, a stable
// IPv6 address and a week of daily privacy addresses fit with room.
const MaxAddrsPerDevice = 16

// Limits bound a ledger.
type Limits struct {
	// MaxDevices caps the devices kept (option max_devices).
	MaxDevices int
	// MaxAddrs caps the addresses per device.
	MaxAddrs int
	// Since: a device with no address, last seen before it (the start of
	// the oldest period history keeps), expires.
	Since int64
}

// Bounded says what Bound let go.
type Bounded struct {
	// Expired are the devices let go; Evicted those among them that still
	// had addresses (the table was full of active devices).
	Expired, Evicted []macaddr.MAC
	// Dropped are addresses removed (over a device's cap, or an evicted
	// device's).
	Dropped []netip.Addr
}

// Any reports whether Bound changed anything.
func (b Bounded) Any() bool { return len(b.Expired) > 0 || len(b.Dropped) > 0 }

// Bound applies lim to h and t.
func Bound(h *Hosts, t *Transfer, lim Limits) Bounded {
	var out Bounded
	addrs := h.AddrsByMAC()
	if lim.MaxAddrs > 0 {
		for _, as := range addrs {
			if len(as) <= lim.MaxAddrs {
				continue
			}
			// Keep the most recently seen; ties by address.
			sort.SliceStable(as, func(i, j int) bool { return h.IPs[as[i]].LastSeen > h.IPs[as[j]].LastSeen })
			for _, a := range as[lim.MaxAddrs:] {
				delete(h.IPs, a)
				out.Dropped = append(out.Dropped, a)
			}
		}
		addrs = h.AddrsByMAC()
	}

	type dev struct {
		mac      macaddr.MAC
		lastSeen int64
		active   bool
		known    bool // has device info: when it was last seen is known
	}
	seen := map[macaddr.MAC]bool{}
	var devs []dev
	add := func(m macaddr.MAC) {
		if seen[m] || m == ExpiredKey || m.IsZero() {
			return
		}
		seen[m] = true
		d := dev{mac: m, active: len(addrs[m]) > 0}
		if info := h.Devices[m]; info != nil {
			d.lastSeen, d.known = info.LastSeen, true
		}
		devs = append(devs, d)
	}
	for m := range h.Devices {
		add(m)
	}
	for m := range addrs {
		add(m)
	}
	for m := range t.Totals {
		add(m)
	}
	// Idle and oldest first: the order in which devices are let go.
	// That order matters only when the table is over its limit (most runs
	// are not: no sort then; the stale ones go in any order).
	if lim.MaxDevices > 0 && len(devs) > lim.MaxDevices {
		sort.Slice(devs, func(i, j int) bool {
			if devs[i].active != devs[j].active {
				return !devs[i].active
			}
			if devs[i].lastSeen != devs[j].lastSeen {
				return devs[i].lastSeen < devs[j].lastSeen
			}
			return bytes.Compare(devs[i].mac[:], devs[j].mac[:]) < 0
		})
	}
	keep := len(devs)
	for _, d := range devs {
		over := lim.MaxDevices > 0 && keep > lim.MaxDevices
		// Without device info (host.db was lost) nothing says the
		// device is gone: it goes only when the table is over its limit.
		stale := !d.active && d.known && d.lastSeen < lim.Since
		if !over && !stale {
			continue
		}
		keep--
		if d.active {
			out.Evicted = append(out.Evicted, d.mac)
			for _, a := range addrs[d.mac] {
				delete(h.IPs, a)
				out.Dropped = append(out.Dropped, a)
			}
		}
		t.expire(d.mac)
		delete(h.Devices, d.mac)
		out.Expired = append(out.Expired, d.mac)
	}
	return out
}

// expire moves a device's usage to ExpiredKey and counts it; its
// baselines' further growth (until its rules are gone) goes there too.
func (t *Transfer) expire(m macaddr.MAC) {
	t.editHours(m, ExpiredKey)
	for _, u := range []map[macaddr.MAC]Usage{t.Totals, t.Day.Usage, t.Period.Usage} {
		if v, ok := u[m]; ok {
			u[ExpiredKey] = u[ExpiredKey].Add(v)
			delete(u, m)
		}
	}
	for k, b := range t.Baselines {
		if b.MAC == m {
			b.MAC = ExpiredKey
			t.Baselines[k] = b
		}
	}
	t.ExpiredDevices++
}
