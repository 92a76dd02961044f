package account

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/names"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// EventKind is what a door reports.
type EventKind int

const (
	// Collect only reads counters (and repairs rules).
	Collect EventKind = iota
	// NeighAdd is dnsmasq's arp-add / hotplug neigh ACTION=add.
	NeighAdd
	// NeighDel is arp-del / ACTION=remove.
	NeighDel
	// LeaseAdd is a DHCP add/old/update: a LAN host, maybe with a name.
	LeaseAdd
	// LeaseDel is a DHCP del: the lease ended, the host may still be there.
	LeaseDel
	// NeighGone is the kernel deleting a neighbour (the daemon watches
	// its table): the address goes, whichever device owned it (the
	// kernel no longer says which).
	NeighGone
)

// Event is a parsed, validated request from a door.
type Event struct {
	Kind     EventKind
	MAC      macaddr.MAC
	Addr     netip.Addr
	Hostname string
}

// Outcome says what an event did.
type Outcome struct {
	Ignored  bool // a well-formed address outside the LAN
	Disabled bool
	Changes  netfilter.Changes
	Warnings []Warning
}

// Handle applies one event. Add and delete events for addresses outside
// the LAN (WAN neighbours, link-local) are normal and ignored quietly.
func (c *Core) Handle(ctx context.Context, ev Event) (Outcome, error) {
	if !c.settings.Enabled {
		// Off means off: rules left in place would go on counting, and the
		// gap would be credited when switched on again.
		return Outcome{Disabled: true}, c.Teardown(ctx)
	}
	// No device's MAC, or an address outside the LAN: a normal event
	// with nothing to do.
	if ok, err := admits(ev, c.IsLAN); err != nil {
		return Outcome{}, err
	} else if !ok {
		return Outcome{Ignored: true}, nil
	}
	tx, err := c.transact(ctx, func(tx *txn) error {
		switch ev.Kind {
		case NeighAdd, LeaseAdd:
			c.addHost(tx, ev)
		case NeighGone:
			if e, ok := tx.hosts.IPs[ev.Addr]; ok {
				delete(tx.hosts.IPs, ev.Addr)
				tx.hosts.Device(e.MAC, tx.now).LastSeen = tx.now
				tx.hostsDirty = true
			}
		case NeighDel:
			// Only the current owner's delete removes the address: when
			// events race, an add for a new MAC may come before the
			// delete for the old one.
			if e, ok := tx.hosts.IPs[ev.Addr]; ok && e.MAC == ev.MAC {
				delete(tx.hosts.IPs, ev.Addr)
				tx.hostsDirty = true
			}
			if d := tx.hosts.Devices[ev.MAC]; d != nil {
				d.LastSeen = tx.now
				tx.hostsDirty = true
			}
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Changes: tx.changes, Warnings: tx.warnings}, nil
}

func (c *Core) addHost(tx *txn, ev Event) {
	e, ok := tx.hosts.IPs[ev.Addr]
	if ok && e.MAC != ev.MAC && ev.Kind == NeighAdd {
		// Attribution goes by address, and any LAN client can announce
		// any address. Where DHCP bound the address to its current owner
		// (a lease that has not expired) and not to the claimer, the lease
		// wins over the neighbour claim.
		if holder, leased := c.leasedTo(ev.Addr, tx.now); leased && holder == e.MAC {
			tx.warnings = append(tx.warnings, Warning{Code: "neighbour_conflict", Message: fmt.Sprintf(
				"%s claims %s, which DHCP leased to %s: kept %s as its owner", ev.MAC, ev.Addr, e.MAC, e.MAC)})
			return
		}
	}
	if !ok || e.MAC != ev.MAC {
		// A new address, or one that moved to another MAC: what it counted
		// so far was credited to the old owner above; from now on it is
		// the new one's (transact re-assigns the baselines).
		e = ledgerIP(ev.MAC, tx.now)
	}
	e.LastSeen = tx.now
	tx.hosts.IPs[ev.Addr] = e
	d := tx.hosts.Device(ev.MAC, tx.now)
	d.LastSeen = tx.now
	if ev.Hostname != "" {
		d.Hostname = ev.Hostname
	} else if d.Hostname == "" {
		d.Hostname = c.leaseHostname(ev.MAC)
	}
	tx.hostsDirty = true
}

// lease is one line of dnsmasq's lease file
// ("EXPIRY MAC IP HOSTNAME CLIENTID"; "*" means no name, expiry 0 never).
type lease struct {
	expiry   int64
	mac      macaddr.MAC
	addr     netip.Addr
	hostname string
}

// leases reads dnsmasq's lease file, bounded; any problem just means
// fewer leases.
func (c *Core) leases() []lease {
	f, err := os.Open(c.settings.LeaseFile)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []lease
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		exp, err1 := strconv.ParseInt(fields[0], 10, 64)
		mac, err2 := macaddr.Parse(fields[1])
		addr, err3 := netip.ParseAddr(fields[2])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		l := lease{expiry: exp, mac: mac, addr: addr}
		if fields[3] != "*" {
			if h, err := ParseHostname(fields[3]); err == nil {
				l.hostname = h
			}
		}
		out = append(out, l)
	}
	return out
}

// leaseHostname is the name of the MAC's last lease with one.
func (c *Core) leaseHostname(mac macaddr.MAC) string {
	name := ""
	for _, l := range c.leases() {
		if l.mac == mac && l.hostname != "" {
			name = l.hostname
		}
	}
	return name
}

// leasedTo says which MAC holds a current DHCP lease of addr.
func (c *Core) leasedTo(addr netip.Addr, now int64) (macaddr.MAC, bool) {
	for _, l := range c.leases() {
		if l.addr == addr && (l.expiry == 0 || l.expiry > now) {
			return l.mac, true
		}
	}
	return macaddr.MAC{}, false
}

// ParseHostname accepts what dnsmasq passes, by the one rule for names
// that are shown (internal/names).
func ParseHostname(s string) (string, error) {
	h, err := names.Parse(s)
	if err != nil {
		return "", fmt.Errorf("hostname: %w", err)
	}
	return h, nil
}

func ledgerIP(mac macaddr.MAC, now int64) ledger.IPEntry {
	return ledger.IPEntry{MAC: mac, FirstSeen: now, LastSeen: now}
}
