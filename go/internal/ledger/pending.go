package ledger

import (
	"net/netip"
	"sort"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// Bytes belong to the device that owned the address when they were
// counted. A counter can grow before its address has an owner: the
// kernel counts every LAN address from its first packet, and the event
// naming the device may come later (dnsmasq rescans every 90 s; IPv6
// SLAAC and privacy addresses have no DHCP event at all). Such growth is
// kept per address (Pending) and moves to the device when its owner is
// learned; an address that no device ever claims goes, with its bytes, to
// Unattributed when it expires.

// Pending is what one address counted while no device owned it.
type Pending struct {
	// Usage is everything it counted.
	Usage
	// DayUsage and PeriodUsage are the parts counted in the day Day and
	// the period Period (the latest ones it was counted in).
	Day         string `json:"day,omitempty"`
	DayUsage    Usage  `json:"day_usage"`
	Period      string `json:"period,omitempty"`
	PeriodUsage Usage  `json:"period_usage"`
	FirstSeen   int64  `json:"first_seen"`
	LastSeen    int64  `json:"last_seen"`
}

// pend credits growth of an address without an owner.
func (t *Transfer) pend(addr netip.Addr, u Usage, at Stamp) {
	if t.Pending == nil {
		t.Pending = map[netip.Addr]*Pending{}
	}
	p := t.Pending[addr]
	if p == nil {
		p = &Pending{FirstSeen: at.Now}
		t.Pending[addr] = p
	}
	if at.Day != p.Day {
		p.Day, p.DayUsage = at.Day, Usage{}
	}
	if at.Period != p.Period {
		p.Period, p.PeriodUsage = at.Period, Usage{}
	}
	p.Usage = p.Usage.Add(u)
	p.DayUsage = p.DayUsage.Add(u)
	p.PeriodUsage = p.PeriodUsage.Add(u)
	if at.Now > p.LastSeen {
		p.LastSeen = at.Now
	}
}

// Resolve credits what addr counted while it had no owner to mac, into
// the totals and, where they are still current, the day and the period it
// was counted in. It reports whether there was anything.
func (t *Transfer) Resolve(addr netip.Addr, mac macaddr.MAC) bool {
	p := t.Pending[addr]
	if p == nil || !mac.IsDevice() {
		return false
	}
	t.Totals[mac] = t.Totals[mac].Add(p.Usage)
	if p.Day != "" && p.Day == t.Day.Key {
		t.Day.Usage[mac] = t.Day.Usage[mac].Add(p.DayUsage)
		// Into the current hour (the day's hours must add up to it).
		t.addHour(Stamp{Now: p.LastSeen}, mac, p.DayUsage)
	}
	if p.Period != "" && p.Period == t.Period.Key {
		t.Period.Usage[mac] = t.Period.Usage[mac].Add(p.PeriodUsage)
	}
	delete(t.Pending, addr)
	return true
}

// ExpirePending moves addresses that counted nothing since before (and,
// past max, the longest idle) to Unattributed, and returns them.
func (t *Transfer) ExpirePending(before int64, max int) []netip.Addr {
	if len(t.Pending) <= max {
		// Nothing over the bound (every run): no order needed.
		var out []netip.Addr
		for a, p := range t.Pending {
			if p.LastSeen < before {
				t.Unattributed = t.Unattributed.Add(p.Usage)
				delete(t.Pending, a)
				out = append(out, a)
			}
		}
		return out
	}
	addrs := make([]netip.Addr, 0, len(t.Pending))
	for a := range t.Pending {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool {
		pi, pj := t.Pending[addrs[i]], t.Pending[addrs[j]]
		if pi.LastSeen != pj.LastSeen {
			return pi.LastSeen < pj.LastSeen
		}
		return addrs[i].Less(addrs[j])
	})
	var out []netip.Addr
	for i, a := range addrs {
		if t.Pending[a].LastSeen >= before && len(addrs)-i <= max {
			break
		}
		t.Unattributed = t.Unattributed.Add(t.Pending[a].Usage)
		delete(t.Pending, a)
		out = append(out, a)
	}
	return out
}

// PendingAddrs lists the addresses with pending growth, in order.
func (t *Transfer) PendingAddrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.Pending))
	for a := range t.Pending {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
