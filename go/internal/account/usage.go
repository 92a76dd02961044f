package account

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/period"
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
	// Today is the device's usage in the current calendar day.
	Today ledger.Usage `json:"today"`
}

// PeriodInfo names the period a report covers: Key "all" is everything
// since the last reset; otherwise Key is the period's first day.
type PeriodInfo struct {
	Key   string `json:"key"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

// LiveInfo tells the page where the daemon's live feed listens (0: off).
type LiveInfo struct {
	Port    int `json:"port"`
	TLSPort int `json:"tls_port"`
}

// Report is what `usage --json` prints and ubus usage returns.
type Report struct {
	Enabled bool   `json:"enabled"`
	Backend string `json:"backend"`
	// Placement says where forwarded bytes are counted ("forward" or
	// "netdev") and PlacementReason why.
	Placement       string     `json:"placement"`
	PlacementReason string     `json:"placement_reason"`
	CollectedAt     int64      `json:"collected_at"`
	Period          PeriodInfo `json:"period"`
	// Periods lists the periods with history, newest first.
	Periods      []string           `json:"periods"`
	Live         LiveInfo           `json:"live"`
	Hosts        []HostUsage        `json:"hosts"`
	Totals       ledger.Usage       `json:"totals"`
	Router       ledger.RouterUsage `json:"router"`
	Unattributed ledger.Usage       `json:"unattributed"`
	Warnings     []Warning          `json:"warnings"`
}

// ErrNoPeriod reports a period that has no history.
var ErrNoPeriod = errors.New("no such period")

// Usage collects fresh counts (when enabled) and reports them. If the lock
// cannot be had in time it reports the last saved numbers with a warning
// rather than failing: the page stays useful while a long operation runs.
// only, when non-nil, narrows the report to one device. sel picks the
// period: "" or "current", "all" (since the last reset), or a period's
// first day as listed in Periods.
func (c *Core) Usage(ctx context.Context, only *macaddr.MAC, sel string) (Report, error) {
	return c.report(ctx, only, sel, true)
}

// Saved reports the last saved numbers without collecting: no lock, no
// write, no process launch (for scrapers polling a busy router, and for
// ubus usage while the daemon collects).
func (c *Core) Saved(ctx context.Context, only *macaddr.MAC, sel string) (Report, error) {
	return c.report(ctx, only, sel, false)
}

// newReport starts a report made at now.
func (c *Core) newReport(now time.Time) Report {
	r := Report{Enabled: c.settings.Enabled, CollectedAt: now.Unix(), Warnings: []Warning{},
		Live: LiveInfo{Port: c.settings.LivePort, TLSPort: c.settings.LiveTLSPort}}
	// The daemon opens the TLS port only with uhttpd's certificate and key;
	// do not send the page to a port nobody listens on.
	if !fileExists(c.settings.LiveCert) || !fileExists(c.settings.LiveKey) {
		r.Live.TLSPort = 0
	}
	return r
}

// txWarnings are what a collection has to tell the reader.
func txWarnings(tx *txn) []Warning {
	out := append([]Warning(nil), tx.warnings...)
	for _, n := range tx.changes.Notes {
		out = append(out, Warning{Code: "placement_device", Message: n})
	}
	return out
}

func (c *Core) report(ctx context.Context, only *macaddr.MAC, sel string, collect bool) (Report, error) {
	now := c.now()
	r := c.newReport(now)
	cur := c.periods().Containing(now)
	if sel != "" && sel != "current" && sel != "all" && sel != cur.Key() {
		// An unknown period is bad input: refuse it before collecting.
		_, t, err := c.peek()
		if err != nil {
			return Report{}, err
		}
		if !contains(t.History, sel) {
			return Report{}, fmt.Errorf("%w %q (have: %s)", ErrNoPeriod, sel, strings.Join(periodKeys(t, cur.Key()), ", "))
		}
	}
	var hosts *ledger.Hosts
	var transfer *ledger.Transfer
	if c.settings.Enabled && collect {
		tx, err := c.transact(ctx, nil)
		switch {
		case err == nil:
			hosts, transfer = tx.hosts, tx.transfer
			r.Warnings = append(r.Warnings, txWarnings(tx)...)
		case errors.Is(err, lock.ErrTimeout):
			r.Warnings = append(r.Warnings, Warning{Code: "lock_timeout", Message: err.Error() + "; showing the last saved numbers"})
		default:
			return Report{}, err
		}
	} else if !c.settings.Enabled {
		r.Warnings = append(r.Warnings, Warning{Code: "disabled", Message: ErrDisabled.Error() + "; nothing is being counted"})
	}
	if hosts == nil {
		var err error
		if hosts, transfer, err = c.peek(); err != nil {
			return Report{}, err
		}
		// The saved numbers are as of transfer.db's last write.
		if st, err := os.Stat(filepath.Join(c.settings.DBDir, ledger.TransferFile)); err == nil {
			r.CollectedAt = st.ModTime().Unix()
		}
	}
	return c.fill(r, now, only, sel, hosts, transfer)
}

// fill completes r from a ledger: the period sel (of the day now), the
// devices (only the one when only is set), totals and router counters.
func (c *Core) fill(r Report, now time.Time, only *macaddr.MAC, sel string, hosts *ledger.Hosts, transfer *ledger.Transfer) (Report, error) {
	cur := c.periods().Containing(now)
	r.Backend = c.be().Name()
	r.Placement, r.PlacementReason = c.placement(&r.Warnings)
	r.Periods = periodKeys(transfer, cur.Key())
	bucket := transfer.Totals
	switch sel {
	case "all":
		r.Period = PeriodInfo{Key: "all"}
	case "", "current", cur.Key():
		r.Period = PeriodInfo{Key: cur.Key(), Start: cur.Start.Unix(), End: cur.End.Unix()}
		bucket = nil
		if transfer.Period.Key == cur.Key() {
			bucket = transfer.Period.Usage
		}
	default:
		h, err := c.store.PeekHistory()
		if err != nil {
			return Report{}, err
		}
		b, ok := h.Periods[sel]
		if !ok {
			return Report{}, fmt.Errorf("%w %q (have: %s)", ErrNoPeriod, sel, strings.Join(r.Periods, ", "))
		}
		start, _ := period.ParseKey(sel, now.Location())
		p := c.periods().Containing(start)
		r.Period = PeriodInfo{Key: sel, Start: p.Start.Unix(), End: p.End.Unix()}
		bucket = b
	}
	var today map[macaddr.MAC]ledger.Usage
	if transfer.Day.Key == period.DayKey(now) {
		today = transfer.Day.Usage
	}
	addrs := hosts.AddrsByMAC()
	for _, mac := range devices(hosts, transfer) {
		if only != nil && mac != *only {
			continue
		}
		h := HostUsage{MAC: mac.String(), IPs: []string{}, Usage: bucket[mac], Today: today[mac]}
		if d := hosts.Devices[mac]; d != nil {
			h.Hostname, h.FirstSeen, h.LastSeen = d.Hostname, d.FirstSeen, d.LastSeen
		}
		for _, a := range addrs[mac] {
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

// periodKeys lists the periods with history plus the current one, newest
// first.
func periodKeys(t *ledger.Transfer, current string) []string {
	keys := []string{current}
	for _, k := range t.History {
		if k != current {
			keys = append(keys, k)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
	if err := c.teardownOthers(ctx, hosts, transfer); err != nil {
		return err
	}
	snap, err := c.be().Read(ctx)
	if err != nil {
		return err
	}
	if len(snap.Counters) == 0 && len(snap.Hosts()) == 0 {
		return nil // nothing of ours in the kernel
	}
	// No history here: a rollover is archived by the next normal run.
	transfer.Apply(snap.Counters, hosts.Owner, ledger.Stamp{Day: transfer.Day.Key, Period: transfer.Period.Key})
	if err := c.store.SaveTransfer(transfer); err != nil {
		return err
	}
	// Rules vanish here; their baselines are dropped by the next Apply.
	return c.be().Teardown(ctx)
}

// placement reports where the backend counts and why, and warns where
// flow offloading makes numbers incomplete: never silently wrong.
func (c *Core) placement(w *[]Warning) (string, string) {
	ch, err := c.resolved()
	if err != nil {
		*w = append(*w, Warning{Code: "placement", Message: err.Error()})
		return "", ""
	}
	if ch.Offload.Hardware {
		*w = append(*w, Warning{Code: "flow_offloading_hw", Message: "Hardware flow offloading is on: flows handed to the switch or NIC never reach the CPU, so no kernel hook (forward or netdev) sees their packets and per-host numbers miss them. Turn it off in Network → Firewall for exact counts. (conntrack's flowtable counters — fw4 gives its flowtable a counter — do keep per-flow totals; per-host numbers from them would need a conntrack reader, which Transferometer does not have.)"})
	}
	switch {
	case ch.Placement == config.PlacementNetdev:
		*w = append(*w, Warning{Code: "placement_netdev", Message: "Counting on the LAN devices' ingress and egress hooks because " + ch.Reason + "."})
	case ch.Offload.Software:
		*w = append(*w, Warning{Code: "flow_offloading", Message: "Software flow offloading is on and counting happens in the forward hook (" + ch.Reason + "): established TCP/UDP flows bypass it, so per-host numbers miss most forwarded traffic. Use the nftables backend on Linux 5.16 or later (option placement 'auto' or 'netdev'), or turn offloading off in Network → Firewall."})
	}
	return ch.Placement, ch.Reason
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
