package links

import (
	"fmt"
	"net/netip"

	"github.com/jsimonetti/rtnetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// WANAddrs returns the addresses of the devices that carry a default route
// (IPv4 or IPv6, main table): the router's face to the internet, where no
// service of ours may listen. netns 0 is the caller's namespace.
func WANAddrs(netns int) ([]netip.Addr, error) {
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("links: open rtnetlink: %w", err)
	}
	defer c.Close()
	routes, err := c.Route.List()
	if err != nil {
		return nil, fmt.Errorf("links: routes: %w", err)
	}
	devs := map[uint32]bool{}
	for _, r := range routes {
		table := uint32(r.Table)
		if r.Attributes.Table != 0 {
			table = r.Attributes.Table
		}
		if r.DstLength != 0 || r.Type != unix.RTN_UNICAST || table != unix.RT_TABLE_MAIN {
			continue
		}
		if r.Attributes.OutIface != 0 {
			devs[r.Attributes.OutIface] = true
		}
		for _, nh := range r.Attributes.Multipath {
			devs[nh.Hop.IfIndex] = true
		}
	}
	addrs, err := c.Address.List()
	if err != nil {
		return nil, fmt.Errorf("links: addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if !devs[a.Index] || a.Attributes == nil {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.Attributes.Address); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}
