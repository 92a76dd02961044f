// Package netfilter holds the Backend interface through which the core
// reads counters and keeps the kernel's accounting rules in step with the
// LAN; the choice of backend and placement (choose.go); the iptables and
// nftables implementations; and a fake for pure unit tests of the core.
package netfilter

import (
	"context"
	"net/netip"

	"github.com/transferometer/transferometer/internal/counter"
)

// Snapshot is one read of every counter we own, plus what the backend needs
// to plan the next Sync without reading again.
type Snapshot struct {
	Counters map[counter.Key]counter.Counter
	plan     any
}

// Hosts returns the host addresses that have at least one rule.
func (s *Snapshot) Hosts() map[netip.Addr]bool {
	m := make(map[netip.Addr]bool)
	for k := range s.Counters {
		if k.Kind == counter.Upload || k.Kind == counter.Download {
			m[k.Addr] = true
		}
	}
	return m
}

// Changes reports what a Sync did, for logs and tests.
type Changes struct {
	Added, Removed []netip.Addr
	Structural     int // chains, jumps and router rules (re)created
	Batches        int // process launches or netlink transactions issued
	// Notes are conditions the user should know of (a LAN device that
	// does not exist, a port that cannot be counted on).
	Notes []Note
}

// Note is one such condition, under the code usage reports it with.
type Note struct {
	Code    string
	Message string
}

// Note codes: where the netdev placement cannot count (a LAN device that
// is missing or has no Ethernet device), and addresses that are counted
// only from their event on (no packet-filled sets, or no LAN prefixes).
const (
	NotePlacementDevice = "placement_device"
	NoteFirstPacket     = "first_packet"
)

// Backend is the kernel side. All methods are called under the core's lock.
type Backend interface {
	// Kind says which implementation runs (for iptables, the variant the
	// last read saw).
	Kind() Kind
	// Read returns every counter we own: one read per address family.
	Read(ctx context.Context) (*Snapshot, error)
	// Sync makes the kernel hold our chains with one jump each at the top
	// of their built-in chains, the router counters, and exactly one
	// upload and one download rule for each of hosts (and none for any
	// other address). It plans from snap, which must come from Read under
	// the same lock, and issues at most one batch per family, none when
	// nothing is to be done.
	Sync(ctx context.Context, snap *Snapshot, hosts []netip.Addr) (Changes, error)
	// Teardown removes exactly what Sync adds, in every family.
	Teardown(ctx context.Context) error
}
