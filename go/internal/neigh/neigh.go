// Package neigh reads the kernel's neighbour table (ARP and NDP) over
// rtnetlink, with no process launch: at daemon start it tells which LAN
// hosts are already there, since dnsmasq's first rescan can be 90 s away.
package neigh

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// Entry is one neighbour with a usable link-layer address.
type Entry struct {
	MAC  macaddr.MAC
	Addr netip.Addr
}

// Neighbour states (linux/neighbour.h) that mean the host was really seen.
const (
	nudReachable = 0x02
	nudStale     = 0x04
	nudDelay     = 0x08
	nudProbe     = 0x10
	nudPermanent = 0x80
	live         = nudReachable | nudStale | nudDelay | nudProbe | nudPermanent

	ndaDst    = 1
	ndaLLAddr = 2
	ndmsgLen  = 12
)

// Read dumps the neighbour table of the current network namespace.
func Read() ([]Entry, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETNEIGH, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("neigh: dump: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("neigh: parse: %w", err)
	}
	var out []Entry
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWNEIGH {
			continue
		}
		if e, ok := parse(m.Data); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// parse reads one ndmsg and its attributes (netlink uses host byte order).
func parse(b []byte) (Entry, bool) {
	var e Entry
	if len(b) < ndmsgLen {
		return e, false
	}
	if binary.NativeEndian.Uint16(b[8:10])&live == 0 {
		return e, false
	}
	var haveMAC, haveAddr bool
	for rest := b[ndmsgLen:]; len(rest) >= 4; {
		l := int(binary.NativeEndian.Uint16(rest[0:2]))
		if l < 4 || l > len(rest) {
			break
		}
		data := rest[4:l]
		switch binary.NativeEndian.Uint16(rest[2:4]) {
		case ndaDst:
			e.Addr, haveAddr = netip.AddrFromSlice(data)
		case ndaLLAddr:
			if len(data) == 6 {
				copy(e.MAC[:], data)
				haveMAC = !e.MAC.IsZero()
			}
		}
		next := (l + 3) &^ 3
		if next >= len(rest) {
			break
		}
		rest = rest[next:]
	}
	return e, haveMAC && haveAddr
}
