package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/transferometer/transferometer/internal/uci"
)

// Placements of the nftables backend's per-host counters.
const (
	PlacementForward = "forward"
	PlacementNetdev  = "netdev"
)

func parsePlacement(s *Settings, v string) error {
	switch v {
	case "auto", PlacementForward, PlacementNetdev:
		s.Placement = v
		return nil
	}
	return errors.New("is not one of auto, forward, netdev")
}

// parseDevice accepts a Linux interface name: 1..15 bytes, no '/', no
// whitespace, not "." or "..", and not option-like.
func parseDevice(s *Settings, v string) error {
	if len(v) == 0 || len(v) > 15 || v == "." || v == ".." || strings.HasPrefix(v, "-") {
		return errors.New("is not a network device name (1 to 15 characters)")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == '/' || c == ':' || c >= 0x7f {
			return errors.New("is not a network device name (no spaces, '/' or ':')")
		}
	}
	s.LANDevice = v
	return nil
}

// Offload is the flow offloading state of the firewall (fw3 and fw4 read
// the same options of `config defaults` in /etc/config/firewall).
type Offload struct {
	Software bool // flow_offloading '1': a flowtable in the kernel
	Hardware bool // flow_offloading_hw '1': flows handed to the switch/NIC
}

// ReadOffload reads <dir>/firewall. A missing or unreadable file means no
// offloading, as on a router without a firewall package.
func ReadOffload(dir string) Offload {
	var o Offload
	f, err := uci.ParseFile(filepath.Join(dir, "firewall"))
	if err != nil {
		return o
	}
	for _, sec := range f.SectionsOfType("defaults") {
		o.Software = o.Software || isOn(sec, "flow_offloading")
		o.Hardware = o.Hardware || isOn(sec, "flow_offloading_hw")
	}
	// Hardware offloading is an addition to software offloading: fw4 only
	// sets `flags offload` on a flowtable it creates for flow_offloading.
	o.Hardware = o.Hardware && o.Software
	return o
}

func isOn(sec *uci.Section, name string) bool {
	v := first(sec, name)
	b, err := parseBool(v)
	return v != "" && err == nil && b
}

// Choice is the backend and placement that run, and why.
type Choice struct {
	Backend   string // "iptables" or "nftables"
	Placement string // PlacementForward or PlacementNetdev
	Reason    string // one sentence for usage and the README's table
	Offload   Offload
}

// Kind names the choice as the ledger records which counters its
// baselines belong to: placements count different packets, so a change of
// placement is a backend switch.
func (c Choice) Kind() string {
	if c.Backend == "nftables" && c.Placement == PlacementNetdev {
		return "nftables-netdev"
	}
	return c.Backend
}

// Resolve decides backend and placement from the settings, the firewall's
// flow offloading options in dir and the running kernel. 'auto' picks the
// netdev placement exactly when software flow offloading is on (offloaded
// packets skip the forward hook) and the kernel has the netdev egress hook
// (Linux 5.16; OpenWrt 23.05 runs 5.15, 24.10 runs 6.6). Forcing netdev
// where it cannot work is an error rather than silently wrong numbers.
func (s Settings) Resolve(dir string) (Choice, error) {
	c := Choice{Backend: s.ResolveBackend(), Placement: PlacementForward, Offload: ReadOffload(dir)}
	egress, rel := s.hasEgressHook()
	switch {
	case c.Backend != "nftables":
		if s.Placement == PlacementNetdev {
			return c, errors.New("option placement 'netdev' needs the nftables backend (option backend 'nftables', or 'auto' on fw4)")
		}
		c.Reason = "the iptables backend counts in the forward hook"
	case s.Placement == PlacementNetdev:
		if !egress {
			return c, fmt.Errorf("option placement 'netdev' needs the netdev egress hook of Linux 5.16 or later; this kernel is %s", rel)
		}
		c.Placement, c.Reason = PlacementNetdev, "option placement is 'netdev'"
	case s.Placement == PlacementForward:
		c.Reason = "option placement is 'forward'"
	case !c.Offload.Software:
		c.Reason = "flow offloading is off, so the forward hook sees every forwarded packet"
	case !egress:
		c.Reason = fmt.Sprintf("flow offloading is on but kernel %s has no netdev egress hook (Linux 5.16+)", rel)
	default:
		c.Placement = PlacementNetdev
		c.Reason = "software flow offloading is on: offloaded packets skip the forward hook but not the LAN devices' ingress and egress hooks"
	}
	return c, nil
}

// hasEgressHook reports whether the kernel is Linux 5.16 or later, the
// first with the netdev egress hook, and the release it read.
func (s Settings) hasEgressHook() (bool, string) {
	rel := s.KernelRelease
	if rel == "" {
		b, err := os.ReadFile("/proc/sys/kernel/osrelease")
		if err != nil {
			return false, "unknown"
		}
		rel = strings.TrimSpace(string(b))
	}
	major, rest, _ := strings.Cut(rel, ".")
	minor, _, _ := strings.Cut(rest, ".")
	minor = strings.TrimRightFunc(minor, func(r rune) bool { return r < '0' || r > '9' })
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false, rel
	}
	return ma > 5 || ma == 5 && mi >= 16, rel
}

// ResolveLANDevice names the device whose ports the netdev placement
// counts on: lan_device, else the device of interface Network.
func (s Settings) ResolveLANDevice(dir string) (string, error) {
	if s.LANDevice != "" {
		return s.LANDevice, nil
	}
	netPath := filepath.Join(dir, "network")
	hint := fmt.Sprintf("no LAN device for the netdev placement: set option lan_device in %s", filepath.Join(dir, FileName))
	if s.Network == "" {
		return "", errors.New(hint)
	}
	f, err := uci.ParseFile(netPath)
	if err != nil {
		return "", fmt.Errorf("%s: %w", hint, err)
	}
	sec := f.Section(s.Network)
	if sec == nil || sec.Type != "interface" {
		return "", fmt.Errorf("%s: interface '%s' is not in %s", hint, s.Network, netPath)
	}
	dev := deviceName(s.Network, sec)
	if dev == "" {
		return "", fmt.Errorf("%s: interface '%s' names no device", hint, s.Network)
	}
	return dev, nil
}
