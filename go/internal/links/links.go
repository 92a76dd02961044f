// Package links reads the kernel's network devices over rtnetlink (no
// process launch) and works out the LAN's lowest devices: the ports of
// the LAN bridge, or the LAN device itself when it is not a bridge. The
// nftables backend counts there when flow offloading would hide forwarded
// packets from the forward hook.
package links

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Link is one network device.
type Link struct {
	Index  int
	Name   string
	Master int    // index of the bridge (or bond) it is enslaved to; 0: none
	Parent int    // IFLA_LINK: for a VLAN device, the device it tags on
	Kind   string // IFLA_INFO_KIND: "bridge", "veth", "vlan", ... ("" for plain NICs)
	Type   uint16 // ARPHRD_*: 1 is Ethernet
}

// Ethernet reports whether frames on the device carry a 14-byte Ethernet
// header (ARPHRD_ETHER: NICs, veth, VLAN devices, Wi-Fi interfaces).
func (l Link) Ethernet() bool { return l.Type == unix.ARPHRD_ETHER }

// List dumps every device of the network namespace netns (an open fd; 0
// means the caller's own).
func List(netns int) ([]Link, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("links: open rtnetlink: %w", err)
	}
	defer c.Close()
	req := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfInfomsg),
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("links: dump: %w", err)
	}
	out := make([]Link, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		l, err := parse(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// parse reads one ifinfomsg and the attributes we use.
func parse(b []byte) (Link, error) {
	var l Link
	if len(b) < unix.SizeofIfInfomsg {
		return l, fmt.Errorf("links: short ifinfomsg (%d bytes)", len(b))
	}
	l.Type = binary.NativeEndian.Uint16(b[2:4])
	l.Index = int(int32(binary.NativeEndian.Uint32(b[4:8])))
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfInfomsg:])
	if err != nil {
		return l, fmt.Errorf("links: attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			l.Name = ad.String()
		case unix.IFLA_MASTER:
			l.Master = int(ad.Uint32())
		case unix.IFLA_LINK:
			l.Parent = int(ad.Uint32())
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == unix.IFLA_INFO_KIND {
						l.Kind = nad.String()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return l, fmt.Errorf("links: attributes of %q: %w", l.Name, err)
	}
	return l, nil
}

// Ports returns the devices to count on for the LAN device dev, sorted:
// its lowest devices, found the way fw4 finds the devices of its flowtable
// (resolve_lower_devices): a bridge stands for its ports, a VLAN device for
// the device it tags on, recursively; anything else for itself. Counting
// where the flowtable sits matters: an offloaded packet enters and leaves
// through those devices only, never through the bridge or VLAN devices
// above them (DSA's br-lan.1 on br-lan on lan1..lan4, say). The physical
// device under a VLAN may carry other networks too; the address sets and
// LAN filters keep their traffic out of the counts. The second result
// lists devices left out and why (only Ethernet devices are counted on:
// every bridge port is one); found is false when dev does not exist.
func Ports(all []Link, dev string) (ports []string, skipped []string, found bool) {
	byName, byIndex := map[string]*Link{}, map[int]*Link{}
	for i := range all {
		byName[all[i].Name], byIndex[all[i].Index] = &all[i], &all[i]
	}
	lan := byName[dev]
	if lan == nil {
		return nil, nil, false
	}
	seen := map[int]bool{}
	var walk func(l *Link)
	walk = func(l *Link) {
		if seen[l.Index] {
			return
		}
		seen[l.Index] = true
		switch {
		case l.Kind == "bridge":
			for i := range all {
				if all[i].Master == l.Index && all[i].Index != l.Index {
					walk(&all[i])
				}
			}
		case l.Kind == "vlan" && byIndex[l.Parent] != nil:
			walk(byIndex[l.Parent])
		case l.Ethernet():
			ports = append(ports, l.Name)
		default:
			skipped = append(skipped, fmt.Sprintf("%s (link type %d is not Ethernet)", l.Name, l.Type))
		}
	}
	walk(lan)
	sort.Strings(ports)
	return ports, skipped, true
}

// Watch reports changes of the device list (a device added, removed,
// renamed, enslaved to or released from a bridge) of the caller's network
// namespace: one value on the returned channel per burst of rtnetlink
// link messages, coalesced, never blocking the reader. It stops when ctx
// ends.
func Watch(ctx context.Context) (<-chan struct{}, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Groups: unix.RTMGRP_LINK})
	if err != nil {
		return nil, fmt.Errorf("links: subscribe: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		c.Close() // unblocks Receive
	}()
	go func() {
		for {
			msgs, err := c.Receive()
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				// Closed (ctx ended) or broken: the daemon's periodic
				// collection still follows the devices, only later.
				return
			}
			// ENOBUFS: messages were dropped, so the list may have
			// changed: report it like a message.
			if len(msgs) > 0 || err != nil {
				select {
				case out <- struct{}{}:
				default: // one pending notice covers this burst
				}
			}
		}
	}()
	return out, nil
}
