package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/uci"
)

func parsePlacement(s *Settings, v string) error {
	if err := netfilter.CheckPlacementOption(v); err != nil {
		return err
	}
	s.Placement = v
	return nil
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
