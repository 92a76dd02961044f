package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/transferometer/transferometer/internal/ipaddr"
	"github.com/transferometer/transferometer/internal/uci"
)

// LAN is the set of prefixes whose hosts get accounted. The zero LAN
// contains nothing.
type LAN struct {
	prefixes []netip.Prefix
	ipv6     bool
}

// DevicePrefixes returns the prefixes of the addresses now on a device
// (links.DevicePrefixes on a router; nil when it has none or is missing).
type DevicePrefixes func(dev string) []netip.Prefix

// LAN works out the LAN prefixes: the subnet list if it is set, otherwise
// the addresses of interface s.Network in <dir>/network (ipaddr with
// netmask or CIDR, ip6addr) plus the live addresses of that interface's
// device as live reports them, which include IPv6 prefixes delegated by
// the ISP that no file names. A device that does not exist (yet) only
// contributes nothing. live may be nil (files only).
func (s Settings) LAN(dir string, live DevicePrefixes) (LAN, error) {
	if len(s.Subnets) > 0 {
		return newLAN(s.Subnets, s.IPv6), nil
	}
	cfgPath := filepath.Join(dir, FileName)
	if s.Network == "" {
		return LAN{}, fmt.Errorf("no LAN subnets: set list subnet in %s", cfgPath)
	}
	netPath := filepath.Join(dir, "network")
	hint := fmt.Sprintf("no LAN subnets: set list subnet in %s or configure interface '%s' in %s", cfgPath, s.Network, netPath)
	f, err := uci.ParseFile(netPath)
	if err != nil {
		return LAN{}, fmt.Errorf("%s: %w", hint, err)
	}
	sec := f.Section(s.Network)
	if sec == nil || sec.Type != "interface" {
		return LAN{}, fmt.Errorf("%s: there is no such interface", hint)
	}
	prefixes, err := configPrefixes(netPath, sec)
	if err != nil {
		return LAN{}, err
	}
	dev := deviceName(s.Network, sec)
	if dev != "" && live != nil {
		prefixes = append(prefixes, live(dev)...)
	}
	if len(prefixes) == 0 {
		return LAN{}, fmt.Errorf("%s: the interface has no static address and its device %q has none either", hint, dev)
	}
	return newLAN(prefixes, s.IPv6), nil
}

// newLAN copies the prefixes, masked and without duplicates, in order.
func newLAN(prefixes []netip.Prefix, ipv6 bool) LAN {
	l := LAN{ipv6: ipv6}
	seen := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		p = p.Masked()
		if !seen[p] {
			seen[p] = true
			l.prefixes = append(l.prefixes, p)
		}
	}
	return l
}

// Prefixes returns the LAN prefixes. IPv6 ones are listed even when IPv6
// accounting is off; Contains is what applies that switch.
func (l LAN) Prefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), l.prefixes...)
}

// Contains reports whether a is a LAN host to account. Besides lying in a
// LAN prefix, a must be a usable unicast host address: not unspecified,
// loopback, multicast or link-local (dnsmasq reports fe80:: neighbours and
// 169.254/16 is never routed), not an IPv6 address while IPv6 is off, and
// not IPv4-mapped IPv6 or zoned (dnsmasq never reports those, so such input
// is not a real neighbour and is not unmapped to pass as one).
func (l LAN) Contains(a netip.Addr) bool {
	switch {
	case !a.IsValid(), a.Zone() != "", a.Is4In6(),
		a.IsUnspecified(), a.IsLoopback(), a.IsMulticast(),
		a.IsLinkLocalUnicast(), a.Is6() && !l.ipv6:
		return false
	}
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// configPrefixes reads the static addresses of an interface section the
// way netifd's proto static does: ipaddr (IPv4, netmask option or /len,
// default /32) and ip6addr (IPv6, /len, default /128). Other protocols
// ignore these options, and so do we.
func configPrefixes(path string, sec *uci.Section) ([]netip.Prefix, error) {
	if proto := first(sec, "proto"); proto != "" && proto != "static" {
		return nil, nil
	}
	bits4 := 32
	if nm := first(sec, "netmask"); nm != "" {
		b, err := maskBits(nm, false)
		if err != nil {
			return nil, fmt.Errorf("%s: interface '%s': option netmask: %q %w", path, sec.Name, nm, err)
		}
		bits4 = b
	}
	var out []netip.Prefix
	for _, f := range []struct {
		name string
		v6   bool
		bits int
	}{{"ipaddr", false, bits4}, {"ip6addr", true, 128}} {
		o, ok := sec.Get(f.name)
		if !ok {
			continue
		}
		for _, v := range listValues(o) {
			p, err := parseAddr(v, f.v6, f.bits)
			if err != nil {
				return nil, fmt.Errorf("%s: interface '%s': option %s: %q %w", path, sec.Name, f.name, v, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// parseAddr parses ADDR or ADDR/MASK like netifd's parse_ip_and_netmask.
func parseAddr(v string, v6 bool, bits int) (netip.Prefix, error) {
	family := "an IPv4"
	if v6 {
		family = "an IPv6"
	}
	bad := fmt.Errorf("is not %s address with optional /prefix length", family)
	addrPart, maskPart, hasMask := strings.Cut(v, "/")
	a, err := ipaddr.ParseAddr(addrPart)
	if err != nil || a.Zone() != "" || a.Is4() == v6 || a.Is4In6() {
		return netip.Prefix{}, bad
	}
	if hasMask {
		if bits, err = maskBits(maskPart, v6); err != nil {
			return netip.Prefix{}, bad
		}
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// maskBits reads a prefix length, or for IPv4 a dotted netmask, as
// netifd's parse_netmask_string does (decimal only; contiguous masks only).
func maskBits(v string, v6 bool) (int, error) {
	limit := 32
	if v6 {
		limit = 128
	}
	if !v6 && strings.Contains(v, ".") {
		m, err := netip.ParseAddr(v)
		if err == nil && m.Is4() {
			b := m.As4()
			if ones, size := net.IPMask(b[:]).Size(); size == 32 {
				return ones, nil
			}
		}
		return 0, errors.New("is not a netmask")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > limit || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("is not a prefix length (0-%d)", limit)
	}
	return n, nil
}

// deviceName finds the Linux device of an interface section: `device`
// (21.02+, may be a bridge such as br-lan), else the bridge netifd creates
// as br-<interface> for `type bridge` (19.07), else `ifname`. An alias
// ("@wan") names another interface, not a device, and is not followed.
func deviceName(network string, sec *uci.Section) string {
	if d := first(sec, "device"); d != "" {
		if strings.HasPrefix(d, "@") {
			return ""
		}
		return d
	}
	if first(sec, "type") == "bridge" {
		return "br-" + network
	}
	return first(sec, "ifname")
}

// first returns the first word of an option (or first list item), or "".
func first(sec *uci.Section, name string) string {
	o, ok := sec.Get(name)
	if !ok {
		return ""
	}
	if vs := listValues(o); len(vs) > 0 {
		return vs[0]
	}
	return ""
}
