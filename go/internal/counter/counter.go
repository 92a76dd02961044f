// Package counter names the kernel counters the ledger credits: what one
// measures (Kind), which one it is (Key: kind and address) and its value.
// It is the vocabulary shared by the kernel layer (netfilter) and the
// on-disk model (ledger), so the ledger does not import the kernel layer.
package counter

import (
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
	// RestUp and RestDown count forwarded bytes from and to the addresses
	// of a LAN prefix that have no counter of their own (yet): the
	// iptables backend's catch-all after its per-host rules.
	RestUp
	RestDown
)

var kindNames = [...]string{Upload: "up", Download: "down", RouterIn: "in", RouterOut: "out", RestUp: "rest-up", RestDown: "rest-down"}

// Rest reports whether k counts a prefix's rest.
func (k Kind) Rest() bool { return k == RestUp || k == RestDown }

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Key names one kernel counter. Router counters carry the family's
// unspecified address (0.0.0.0 or ::) so that each family has its own;
// rest counters a prefix's address and Bits its length.
type Key struct {
	Kind Kind
	Addr netip.Addr
	Bits uint8
}

// RestKey returns the key of the rest counter of a LAN prefix.
func RestKey(k Kind, p netip.Prefix) Key {
	p = p.Masked()
	return Key{Kind: k, Addr: p.Addr(), Bits: uint8(p.Bits())}
}

// Prefix is the prefix of a rest key.
func (k Key) Prefix() netip.Prefix { return netip.PrefixFrom(k.Addr, int(k.Bits)) }

// HostKey and RouterKey build keys; RouterKey takes any address of the family.
func HostKey(k Kind, a netip.Addr) Key { return Key{Kind: k, Addr: a} }

// RouterKey returns the key of the router counter of a's family.
func RouterKey(k Kind, a netip.Addr) Key {
	if a.Is4() {
		return Key{Kind: k, Addr: netip.IPv4Unspecified()}
	}
	return Key{Kind: k, Addr: netip.IPv6Unspecified()}
}

// String is the stable text form used as a ledger map key: "up 10.0.0.5",
// "rest-up 10.0.0.0/24".
func (k Key) String() string {
	if k.Kind.Rest() {
		return k.Kind.String() + " " + k.Prefix().String()
	}
	return k.Kind.String() + " " + k.Addr.String()
}

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
	if k.Kind.Rest() {
		p, err := netip.ParsePrefix(addr)
		if err != nil || p != p.Masked() || p.IsSingleIP() {
			return Key{}, fmt.Errorf("counter key %q: bad prefix", s)
		}
		return RestKey(k.Kind, p), nil
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
