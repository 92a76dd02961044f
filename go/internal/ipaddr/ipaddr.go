// Package ipaddr parses IP addresses and prefixes at the input boundary
// (hook arguments, UCI options) by one set of rules whatever Go builds the
// binary: net/netip's as of Go 1.22. Go 1.21 — OpenWrt 23.05's, which the
// router build uses — also takes IPv6 groups of more than four digits
// ("fd00::00001") and prefix lengths with leading zeros or a sign ("/08",
// "/+8", "/-0"); no tool writes those, and the same input must mean the same
// thing, or be refused the same way, on every build.
package ipaddr

import (
	"errors"
	"net/netip"
	"strings"
)

// ParseAddr parses an IPv4 or IPv6 address, as netip.ParseAddr (zones
// included: callers refuse them where they must).
func ParseAddr(s string) (netip.Addr, error) {
	if err := checkGroups(s); err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(s)
}

// ParsePrefix parses ADDRESS/BITS, as netip.ParsePrefix: BITS in plain
// decimal without leading zeros or sign.
func ParsePrefix(s string) (netip.Prefix, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return netip.Prefix{}, errors.New("no /prefix length")
	}
	bits := s[i+1:]
	if bits == "" || bits[0] == '0' && len(bits) > 1 || strings.Trim(bits, "0123456789") != "" {
		return netip.Prefix{}, errors.New("bad prefix length " + quote(bits))
	}
	if err := checkGroups(s[:i]); err != nil {
		return netip.Prefix{}, err
	}
	return netip.ParsePrefix(s)
}

// checkGroups refuses an IPv6 group of more than four hex digits (the
// embedded IPv4 part and a zone are netip's to check).
func checkGroups(s string) error {
	if !strings.Contains(s, ":") {
		return nil
	}
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	for _, g := range strings.Split(s, ":") {
		if len(g) > 4 && !strings.Contains(g, ".") {
			return errors.New("IPv6 group " + quote(g) + " has more than 4 digits")
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + s + `"`
}
