package account

import (
	"context"
	"net/netip"

	"github.com/transferometer/transferometer/internal/ledger"
)

// HostInfo is one device in the hosts listing.
type HostInfo struct {
	MAC       string   `json:"mac"`
	Hostname  string   `json:"hostname"`
	IPs       []string `json:"ips"`
	FirstSeen int64    `json:"first_seen"`
	LastSeen  int64    `json:"last_seen"`
	Active    bool     `json:"active"`
	// Rules says every address of the device has its rules in the kernel.
	Rules bool `json:"rules"`
}

// HostsReply is what `hosts --json` prints and ubus hosts returns.
type HostsReply struct {
	Hosts    []HostInfo `json:"hosts"`
	Warnings []Warning  `json:"warnings"`
}

// Hosts lists the known devices and whether their rules are in place
// (after repairing them, which is what a collect does).
func (c *Core) Hosts(ctx context.Context) (HostsReply, error) {
	var hosts *ledger.Hosts
	var warnings []Warning
	inPlace := map[netip.Addr]bool{}
	if c.settings.Enabled {
		tx, err := c.transact(ctx, nil)
		if err != nil {
			return HostsReply{}, err
		}
		hosts, warnings = tx.hosts, tx.warnings
		for _, a := range c.wanted(tx) {
			inPlace[a] = true // Sync succeeded, so every wanted address has its rules
		}
	} else {
		h, _, err := c.peek()
		if err != nil {
			return HostsReply{}, err
		}
		hosts = h
		warnings = append(warnings, Warning{Code: "disabled", Message: ErrDisabled.Error()})
	}
	out := []HostInfo{}
	addrs := hosts.AddrsByMAC()
	for _, mac := range devices(hosts, ledger.NewTransfer()) {
		h := HostInfo{MAC: mac.String(), IPs: []string{}, Rules: true}
		if d := hosts.Devices[mac]; d != nil {
			h.Hostname, h.FirstSeen, h.LastSeen = d.Hostname, d.FirstSeen, d.LastSeen
		}
		for _, a := range addrs[mac] {
			h.IPs = append(h.IPs, a.String())
			h.Rules = h.Rules && inPlace[a]
		}
		h.Active = len(h.IPs) > 0
		h.Rules = h.Rules && h.Active
		out = append(out, h)
	}
	if warnings == nil {
		warnings = []Warning{}
	}
	return HostsReply{Hosts: out, Warnings: warnings}, nil
}
