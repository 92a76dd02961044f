// Package macaddr holds the Ethernet MAC address type used past the input
// boundary, with the strict parser every door uses.
package macaddr

import (
	"errors"
	"fmt"
)

// MAC is a 48-bit Ethernet address. It is comparable, so it keys maps.
type MAC [6]byte

// ErrNotEthernet reports a dnsmasq address of another hardware type
// ("<type>-xx:xx:..."). It is well-formed input that simply has no place in
// per-host Ethernet accounting, so callers ignore it quietly.
var ErrNotEthernet = errors.New("not an Ethernet address")

const hexdigits = "0123456789abcdef"

// Parse accepts exactly "xx:xx:xx:xx:xx:xx" (either case; '-' also accepted
// as separator for hand-typed input). Anything else is an error that quotes
// the input safely.
func Parse(s string) (MAC, error) {
	var m MAC
	if len(s) > 64 {
		return m, fmt.Errorf("invalid MAC address %q: too long", s[:64]+"...")
	}
	if isTypedHW(s) {
		return m, fmt.Errorf("MAC address %q: %w", s, ErrNotEthernet)
	}
	if len(s) != 17 {
		return m, fmt.Errorf("invalid MAC address %q: want six hex pairs like 02:00:00:00:00:01", s)
	}
	sep := s[2]
	if sep != ':' && sep != '-' {
		return m, fmt.Errorf("invalid MAC address %q: want six hex pairs like 02:00:00:00:00:01", s)
	}
	for i := 0; i < 6; i++ {
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 || (i < 5 && s[3*i+2] != sep) {
			return m, fmt.Errorf("invalid MAC address %q: want six hex pairs like 02:00:00:00:00:01", s)
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

// isTypedHW matches dnsmasq's "<type>-hex:hex..." form for non-Ethernet
// hardware: a decimal type, '-', then colon-separated hex pairs.
func isTypedHW(s string) bool {
	i := 0
	for i < len(s) && i < 4 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(s) || s[i] != '-' {
		return false
	}
	rest := s[i+1:]
	if len(rest) < 2 || (len(rest)+1)%3 != 0 {
		return false
	}
	for j := 0; j < len(rest); j++ {
		if j%3 == 2 {
			if rest[j] != ':' {
				return false
			}
			continue
		}
		if _, ok := unhex(rest[j]); !ok {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String gives dnsmasq's form: lowercase, colon-separated.
func (m MAC) String() string {
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&15])
	}
	return string(b)
}

// IsZero reports the all-zero address (used for "no MAC known").
func (m MAC) IsZero() bool { return m == MAC{} }

// IsDevice reports whether m can be one device's address: not all zeros,
// and not a group address (the I/G bit: broadcast and multicast), which
// a neighbour entry or a DHCP client may show but no device owns.
func (m MAC) IsDevice() bool { return !m.IsZero() && m[0]&1 == 0 }

// MarshalText and UnmarshalText let MAC key JSON maps in the ledger files.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses strictly, so a corrupt ledger is detected, not guessed.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
