package owpkg

import (
	"fmt"
	"strings"
)

// ParseDepends turns an OpenWrt DEPENDS value into package names, as
// package-pack.mk does for the control file: $(variables) and @conditions
// (build-time selections) are dropped, the + prefix removed, and a
// CONFIG:pkg condition taken as set (IPV6:ip6tables -> ip6tables; IPv6 is on
// in every default build). libc, every package's default dependency
// (PKG_DEFAULT_DEPENDS), comes first.
func ParseDepends(value string) []string {
	out := []string{"libc"}
	for _, d := range strings.Fields(value) {
		if strings.HasPrefix(d, "$(") || strings.HasPrefix(d, "@") || strings.HasPrefix(d, "+@") {
			continue
		}
		d = strings.TrimPrefix(d, "+")
		if i := strings.LastIndexByte(d, ':'); i >= 0 {
			d = d[i+1:]
		}
		if d != "" && d != "libc" {
			out = append(out, d)
		}
	}
	return out
}

// Release families the packages are built for. The binary is static and
// the same for all; what differs is the firewall, and so what the backend
// `auto` counts with: fw3 (OpenWrt 21.02) means iptables, fw4 (22.03 and
// later) nftables.
type Release int

const (
	// Opkg is 21.02 to 24.10: one .ipk per architecture for fw3 and fw4
	// alike.
	Opkg Release = iota
	// Apk is 25.12 and later (apk-tools 3, fw4 only).
	Apk
)

// Deps are a package's runtime dependencies per firewall: FW4 from the
// package Makefile's DEPENDS (what the SDK builds for 23.05 and later, all
// fw4), FW3 from its TRANSFEROMETER_FW3_DEPENDS.
type Deps struct {
	FW4 []string // libc first
	FW3 []string // without libc
}

// ReadDeps reads both lists from the package Makefile.
func ReadDeps(m *Makefile, pkg string) (Deps, error) {
	v := m.DefineVar("Package/"+pkg, "DEPENDS")
	if v == "" {
		return Deps{}, fmt.Errorf("%s: Package/%s has no DEPENDS", m.path, pkg)
	}
	fw3, err := m.Var("TRANSFEROMETER_FW3_DEPENDS")
	if err != nil {
		return Deps{}, err
	}
	return Deps{FW4: ParseDepends(v), FW3: strings.Fields(fw3)}, nil
}

// APK is the apk `depends` list (25.12: fw4 only).
func (d Deps) APK() []string { return append([]string(nil), d.FW4...) }

// Opkg is the opkg Depends field for one .ipk that serves fw3 and fw4
// releases: libc, then "either every fw3 dependency or every fw4 one",
// written in the conjunctive form opkg reads — one `a | b` clause per pair.
// opkg takes a clause as met when any alternative is installed, so a stock
// 22.03+ image (kmod-nft-core installed with firewall4) pulls nothing, and
// a stock 21.02 image (iptables, ip6tables installed) pulls nothing either;
// only where neither is installed does opkg fetch the first alternative,
// the fw3 one, which is what `auto` picks without /sbin/fw4.
func (d Deps) Opkg() string {
	parts := []string{"libc"}
	var fw4 []string
	for _, p := range d.FW4 {
		if p != "libc" {
			fw4 = append(fw4, p)
		}
	}
	switch {
	case len(d.FW3) == 0:
		parts = append(parts, fw4...)
	case len(fw4) == 0:
		parts = append(parts, d.FW3...)
	default:
		for _, a := range d.FW3 {
			for _, b := range fw4 {
				parts = append(parts, a+" | "+b)
			}
		}
	}
	return strings.Join(parts, ", ")
}
