// Package neigh reads and watches the kernel's neighbour table (ARP and
// NDP) over rtnetlink (jsimonetti/rtnetlink on mdlayher/netlink), with no
// process launch: at daemon start it tells which LAN hosts are already
// there, and while the daemon runs it hands over every neighbour the
// kernel learns or forgets, where dnsmasq would rescan every 90 s at most.
package neigh

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jsimonetti/rtnetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// Entry is one neighbour with a usable link-layer address.
type Entry struct {
	MAC  macaddr.MAC
	Addr netip.Addr
}

// Event is a neighbour the kernel learned (or saw again), or forgot (Gone:
// the kernel no longer tells the link-layer address then, so MAC is zero).
type Event struct {
	Entry
	Gone bool
}

// live are the neighbour states (linux/neighbour.h) that mean the host was
// really seen; INCOMPLETE, FAILED and NOARP are not.
const live = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE | unix.NUD_PERMANENT

// entry converts a message; ok is false for a neighbour without a usable
// address pair (an unresolved one, a non-Ethernet link layer).
func entry(m *rtnetlink.NeighMessage) (Entry, bool) {
	var e Entry
	if m.Attributes == nil || len(m.Attributes.LLAddress) != 6 {
		return e, false
	}
	a, ok := netip.AddrFromSlice(m.Attributes.Address)
	if !ok {
		return e, false
	}
	e.Addr = a.Unmap()
	copy(e.MAC[:], m.Attributes.LLAddress)
	return e, !e.MAC.IsZero()
}

// Read dumps the neighbour table of the current network namespace.
func Read() ([]Entry, error) { return ReadIn(0) }

// ReadIn dumps the neighbour table of the namespace whose fd is netns (0:
// the current one).
func ReadIn(netns int) ([]Entry, error) {
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("neigh: open rtnetlink: %w", err)
	}
	defer c.Close()
	msgs, err := c.Neigh.List()
	if err != nil {
		return nil, fmt.Errorf("neigh: dump: %w", err)
	}
	var out []Entry
	for i := range msgs {
		if msgs[i].State&live == 0 {
			continue
		}
		if e, ok := entry(&msgs[i]); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// Watch calls fn for every neighbour change the kernel announces in the
// namespace (0: the current one) until ctx ends. A neighbour becoming
// reachable (again) is an event, one the kernel deletes is a Gone event;
// transitions that prove nothing (INCOMPLETE, FAILED) are not. The kernel
// drops notifications when a listener falls behind (ENOBUFS): Watch then
// returns an error wrapping ErrOverrun, and the caller reads the table
// whole (Read) before watching again.
func Watch(ctx context.Context, netns int, fn func(Event)) error {
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: netns, Groups: unix.RTMGRP_NEIGH})
	if err != nil {
		return fmt.Errorf("neigh: subscribe: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		msgs, raw, err := c.Receive()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				return fmt.Errorf("neigh: %w", ErrOverrun)
			}
			return fmt.Errorf("neigh: receive: %w", err)
		}
		for i, m := range msgs {
			nm, ok := m.(*rtnetlink.NeighMessage)
			if !ok || i >= len(raw) {
				continue
			}
			if raw[i].Header.Type == unix.RTM_DELNEIGH {
				if nm.Attributes == nil {
					continue
				}
				if a, ok := netip.AddrFromSlice(nm.Attributes.Address); ok {
					fn(Event{Entry: Entry{Addr: a.Unmap()}, Gone: true})
				}
				continue
			}
			if e, ok := entry(nm); ok && nm.State&live != 0 {
				fn(Event{Entry: e})
			}
		}
	}
}

// ErrOverrun means notifications were lost: read the table again.
var ErrOverrun = errors.New("neighbour notifications were dropped")
