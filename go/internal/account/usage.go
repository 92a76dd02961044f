package account

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sort"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/uci"
)

// HostUsage is one device in a usage report.
type HostUsage struct {
	MAC      string   `json:"mac"`
	Hostname string   `json:"hostname"`
	IPs      []string `json:"ips"`
	ledger.Usage
	FirstSeen int64 `json:"first_seen"`
	LastSeen  int64 `json:"last_seen"`
	// Active means the device has LAN addresses we account right now.
	Active bool `json:"active"`
}

// Report is what `usage --json` prints and ubus usage returns.
type Report struct {
	Enabled      bool               `json:"enabled"`
	Backend      string             `json:"backend"`
	CollectedAt  int64              `json:"collected_at"`
	Hosts        []HostUsage        `json:"hosts"`
	Totals       ledger.Usage       `json:"totals"`
	Router       ledger.RouterUsage `json:"router"`
	Unattributed ledger.Usage       `json:"unattributed"`
	Warnings     []Warning          `json:"warnings"`
}

// Usage collects fresh counts (when enabled) and reports them. If the lock
// cannot be had in time it reports the last saved numbers with a warning
// rather than failing: the page stays useful while a long operation runs.
// only, when non-nil, narrows the report to one device.
func (c *Core) Usage(ctx context.Context, only *macaddr.MAC) (Report, error) {
	r := Report{Enabled: c.settings.Enabled, Backend: c.backend.Name(), CollectedAt: c.now().Unix(), Warnings: []Warning{}}
	var hosts *ledger.Hosts
	var transfer *ledger.Transfer
	if c.settings.Enabled {
		tx, err := c.transact(ctx, nil)
		switch {
		case err == nil:
			hosts, transfer = tx.hosts, tx.transfer
			r.Warnings = append(r.Warnings, tx.warnings...)
		case errors.Is(err, lock.ErrTimeout):
			r.Warnings = append(r.Warnings, Warning{Code: "lock_timeout", Message: err.Error() + "; showing the last saved numbers"})
		default:
			return Report{}, err
		}
	} else {
		r.Warnings = append(r.Warnings, Warning{Code: "disabled", Message: ErrDisabled.Error() + "; nothing is being counted"})
	}
	if hosts == nil {
		var err error
		if hosts, transfer, err = c.peek(); err != nil {
			return Report{}, err
		}
	}
	r.Warnings = append(r.Warnings, c.firewallWarnings()...)
	for _, mac := range devices(hosts, transfer) {
		if only != nil && mac != *only {
			continue
		}
		h := HostUsage{MAC: mac.String(), IPs: []string{}, Usage: transfer.Totals[mac]}
		if d := hosts.Devices[mac]; d != nil {
			h.Hostname, h.FirstSeen, h.LastSeen = d.Hostname, d.FirstSeen, d.LastSeen
		}
		for _, a := range hosts.AddrsOf(mac) {
			h.IPs = append(h.IPs, a.String())
		}
		h.Active = len(h.IPs) > 0
		r.Hosts = append(r.Hosts, h)
		r.Totals = r.Totals.Add(h.Usage)
	}
	if r.Hosts == nil {
		r.Hosts = []HostUsage{}
	}
	r.Router, r.Unattributed = transfer.Router, transfer.Unattributed
	return r, nil
}

// peek reads the ledger without the lock: files are replaced atomically,
// so an unlocked read sees a whole old or a whole new file. Damage is
// reported, not repaired, since repairing is a write.
func (c *Core) peek() (*ledger.Hosts, *ledger.Transfer, error) {
	return c.store.Peek()
}

// devices lists every device that has a name, an address or counted bytes.
func devices(h *ledger.Hosts, t *ledger.Transfer) []macaddr.MAC {
	seen := map[macaddr.MAC]bool{}
	for m := range h.Devices {
		seen[m] = true
	}
	for _, e := range h.IPs {
		seen[e.MAC] = true
	}
	for m := range t.Totals {
		seen[m] = true
	}
	out := make([]macaddr.MAC, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

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

// Hosts lists the known devices and whether their rules are in place
// (after repairing them, which is what a collect does).
func (c *Core) Hosts(ctx context.Context) ([]HostInfo, []Warning, error) {
	var hosts *ledger.Hosts
	var warnings []Warning
	inPlace := map[netip.Addr]bool{}
	if c.settings.Enabled {
		tx, err := c.transact(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		hosts, warnings = tx.hosts, tx.warnings
		for _, a := range c.wanted(tx) {
			inPlace[a] = true // Sync succeeded, so every wanted address has its rules
		}
	} else {
		h, _, err := c.peek()
		if err != nil {
			return nil, nil, err
		}
		hosts = h
		warnings = append(warnings, Warning{Code: "disabled", Message: ErrDisabled.Error()})
	}
	out := []HostInfo{}
	for _, mac := range devices(hosts, ledger.NewTransfer()) {
		h := HostInfo{MAC: mac.String(), IPs: []string{}, Rules: true}
		if d := hosts.Devices[mac]; d != nil {
			h.Hostname, h.FirstSeen, h.LastSeen = d.Hostname, d.FirstSeen, d.LastSeen
		}
		for _, a := range hosts.AddrsOf(mac) {
			h.IPs = append(h.IPs, a.String())
			h.Rules = h.Rules && inPlace[a]
		}
		h.Active = len(h.IPs) > 0
		h.Rules = h.Rules && h.Active
		out = append(out, h)
	}
	return out, warnings, nil
}

// ResetEntry is what one reset zeroed.
type ResetEntry struct {
	MAC string `json:"mac"`
	ledger.Usage
}

// Reset collects first, then zeroes the device's totals (all devices when
// only is nil) in the same locked cycle: bytes counted before the reset are
// gone for good, bytes after it keep counting from the kernel baselines.
func (c *Core) Reset(ctx context.Context, only *macaddr.MAC) ([]ResetEntry, error) {
	if !c.settings.Enabled {
		return nil, ErrDisabled
	}
	var zeroed map[macaddr.MAC]ledger.Usage
	_, err := c.transact(ctx, func(tx *txn) error {
		var macs []macaddr.MAC
		if only != nil {
			macs = []macaddr.MAC{*only}
		}
		zeroed = tx.transfer.Reset(macs)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []ResetEntry{}
	for m, u := range zeroed {
		out = append(out, ResetEntry{MAC: m.String(), Usage: u})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out, nil
}

// Teardown credits the final counts, then removes every rule and chain we
// own. The ledger keeps the totals.
func (c *Core) Teardown(ctx context.Context) error {
	l, err := lock.Acquire(ctx, c.lockOptions())
	if err != nil {
		return err
	}
	defer l.Release()
	hosts, transfer, _, err := c.store.Load(c.now())
	if err != nil {
		return err
	}
	snap, err := c.backend.Read(ctx)
	if err != nil {
		return err
	}
	transfer.Apply(snap.Counters, hosts.Owner)
	if err := c.store.SaveTransfer(transfer); err != nil {
		return err
	}
	// Rules vanish here; their baselines are dropped by the next Apply.
	return c.backend.Teardown(ctx)
}

// firewallWarnings reads /etc/config/firewall (in the config dir) for flow
// offloading, which makes established flows skip the forward hook.
func (c *Core) firewallWarnings() []Warning {
	f, err := uci.ParseFile(filepath.Join(c.configDir, "firewall"))
	if err != nil {
		return nil
	}
	var out []Warning
	for _, s := range f.SectionsOfType("defaults") {
		if isTrue(s, "flow_offloading_hw") {
			out = append(out, Warning{Code: "flow_offloading_hw", Message: "Hardware flow offloading is on: offloaded flows never reach the CPU, so per-host numbers miss most forwarded traffic. Turn it off in Network → Firewall for exact counts."})
		} else if isTrue(s, "flow_offloading") {
			out = append(out, Warning{Code: "flow_offloading", Message: "Software flow offloading is on: established TCP/UDP flows bypass the forward hook, so per-host numbers miss most forwarded traffic. Turn it off in Network → Firewall for exact counts."})
		}
	}
	return out
}

func isTrue(s *uci.Section, name string) bool {
	o, ok := s.Get(name)
	if !ok || len(o.Values) == 0 {
		return false
	}
	switch o.Values[len(o.Values)-1] {
	case "1", "on", "true", "yes", "enabled":
		return true
	}
	return false
}
