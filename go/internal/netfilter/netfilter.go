// Package netfilter holds the Backend interface through which the core
// reads counters and keeps the kernel's accounting rules in step with the
// LAN, and its implementations (iptables now; nftables later) plus a fake
// for pure unit tests of the core.
package netfilter

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// Kind says what a counter measures.
type Kind uint8

const (
	// Upload counts forwarded bytes from a LAN host (source match).
	Upload Kind = iota + 1
	// Download counts forwarded bytes to a LAN host (destination match).
	Download
	// RouterIn counts the router's own received traffic (INPUT), per family.
	RouterIn
	// RouterOut counts the router's own sent traffic (OUTPUT), per family.
	RouterOut
)

var kindNames = [...]string{Upload: "up", Download: "down", RouterIn: "in", RouterOut: "out"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Key names one kernel counter. Router counters carry the family's
// unspecified address (0.0.0.0 or ::) so that each family has its own.
type Key struct {
	Kind Kind
	Addr netip.Addr
}

// HostKey and RouterKey build keys; RouterKey takes any address of the family.
func HostKey(k Kind, a netip.Addr) Key { return Key{Kind: k, Addr: a} }

// RouterKey returns the key of the router counter of a's family.
func RouterKey(k Kind, a netip.Addr) Key {
	if a.Is4() {
		return Key{Kind: k, Addr: netip.IPv4Unspecified()}
	}
	return Key{Kind: k, Addr: netip.IPv6Unspecified()}
}

// String is the stable text form used as a ledger map key: "up 10.0.0.5".
func (k Key) String() string { return k.Kind.String() + " " + k.Addr.String() }

// ParseKey is the inverse of String.
func ParseKey(s string) (Key, error) {
	kind, addr, ok := strings.Cut(s, " ")
	if !ok {
		return Key{}, fmt.Errorf("counter key %q: want \"KIND ADDR\"", s)
	}
	var k Key
	for i, n := range kindNames {
		if n != "" && n == kind {
			k.Kind = Kind(i)
		}
	}
	if k.Kind == 0 {
		return Key{}, fmt.Errorf("counter key %q: unknown kind", s)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return Key{}, fmt.Errorf("counter key %q: bad address", s)
	}
	k.Addr = a
	if (k.Kind == RouterIn || k.Kind == RouterOut) != a.IsUnspecified() {
		return Key{}, fmt.Errorf("counter key %q: kind and address do not match", s)
	}
	return k, nil
}

// Counter is a packet and byte count as the kernel keeps it (monotonic
// while the rule exists).
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Snapshot is one read of every counter we own, plus what the backend needs
// to plan the next Sync without reading again.
type Snapshot struct {
	Counters map[Key]Counter
	plan     any
}

// Hosts returns the host addresses that have at least one rule.
func (s *Snapshot) Hosts() map[netip.Addr]bool {
	m := make(map[netip.Addr]bool)
	for k := range s.Counters {
		if k.Kind == Upload || k.Kind == Download {
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
	Notes []string
}

// Backend is the kernel side. All methods are called under the core's lock.
type Backend interface {
	// Name says which implementation runs, e.g. "iptables-nft".
	Name() string
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

// MarshalText lets Key be a JSON map key in the ledger.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses strictly, so a damaged ledger is detected.
func (k *Key) UnmarshalText(b []byte) error {
	v, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
