package links

import (
	"net"
	"net/netip"
)

// DevicePrefixes returns the prefixes of the addresses now on device dev,
// read through the standard library (netlink, no process). Link-local
// prefixes are left out: every interface has fe80::/64 and no LAN host
// is accounted by such an address anyway. Errors mean no addresses: the device
// may not exist yet, and the config-derived prefixes still count.
func DevicePrefixes(dev string) []netip.Prefix {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ones, size := ipn.Mask.Size()
		if size == 0 {
			continue // non-contiguous mask
		}
		if ip.Is4In6() {
			ip = ip.Unmap()
			if size == 128 {
				ones -= 96
			}
		}
		if ip.IsLinkLocalUnicast() {
			continue
		}
		p, err := ip.Prefix(ones)
		if err != nil {
			continue
		}
		out = append(out, p)
	}
	return out
}
