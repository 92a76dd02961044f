package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/period"
)

// HostUsage is one device in a usage report.
type HostUsage struct {
	MAC string `json:"mac"`
	// Name is what the device is shown by: the name the admin gave it
	// (a `config host` section), else its DHCP hostname. Hostname is the
	// latter alone, Group the group the admin put it in ("": none).
	Name     string   `json:"name"`
	Hostname string   `json:"hostname"`
	Group    string   `json:"group"`
	IPs      []string `json:"ips"`
	ledger.Usage
	FirstSeen int64 `json:"first_seen"`
	LastSeen  int64 `json:"last_seen"`
	// Active means the device has LAN addresses we account right now.
	Active bool `json:"active"`
	// Today is the device's usage in the current calendar day.
	Today ledger.Usage `json:"today"`
	// Quota is the tightest quota that applies to the device (quota.go).
	Quota *HostQuota `json:"quota,omitempty"`
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
	Periods []string    `json:"periods"`
	Live    LiveInfo    `json:"live"`
	Hosts   []HostUsage `json:"hosts"`
	// Groups adds the devices up per group, in order of name.
	Groups []GroupUsage       `json:"groups"`
	Totals ledger.Usage       `json:"totals"`
	Router ledger.RouterUsage `json:"router"`
	// Unattributed is what no device was credited with: addresses still
	// waiting for their owner (listed in UnattributedAddresses, since
	// the last reset or the start) and those that never got one.
	Unattributed          ledger.Usage   `json:"unattributed"`
	UnattributedAddresses []AddressUsage `json:"unattributed_addresses"`
	// Expired is what devices the ledger let go (max_devices, or gone
	// longer than the kept history) had counted.
	Expired ExpiredUsage `json:"expired"`
	// Quotas is every quota instance in the current period or day.
	Quotas   []QuotaStatus `json:"quotas"`
	Warnings []Warning     `json:"warnings"`
}

// GroupUsage is a group's devices added up.
type GroupUsage struct {
	Group   string `json:"group"`
	Devices int    `json:"devices"`
	ledger.Usage
	Today ledger.Usage `json:"today"`
}

// AddressUsage is what one address counted while no device owned it.
type AddressUsage struct {
	IP string `json:"ip"`
	ledger.Usage
	FirstSeen int64 `json:"first_seen"`
	LastSeen  int64 `json:"last_seen"`
}

// ExpiredUsage is the usage of the devices the ledger let go, in the
// report's period, and how many they were (since the last reset of all).
type ExpiredUsage struct {
	Devices int `json:"devices"`
	ledger.Usage
}

// ErrNoPeriod reports a period that has no history.
var ErrNoPeriod = errors.New("no such period")

// UsageQuery asks for a usage report.
type UsageQuery struct {
	// MAC narrows the report to one device; nil means every device.
	MAC *macaddr.MAC
	// Period is "" or "current", "all" (since the last reset), or a
	// period's first day as listed in Report.Periods.
	Period string
	// Fresh collects before reporting even while the daemon runs (the
	// CLI's `usage` promises numbers read just now).
	Fresh bool
}

// UsageReply is a report, or the daemon's ready-made encoding of one.
type UsageReply struct {
	report  Report
	encoded []byte
}

// JSON returns the reply as `usage --json` prints it.
func (r UsageReply) JSON() ([]byte, error) {
	if r.encoded != nil {
		return r.encoded, nil
	}
	b, err := json.Marshal(r.report)
	if err != nil {
		return nil, fmt.Errorf("encode usage: %w", err)
	}
	return b, nil
}

// Report returns the reply as a Report.
func (r UsageReply) Report() (Report, error) {
	if r.encoded == nil {
		return r.report, nil
	}
	var out Report
	if err := json.Unmarshal(r.encoded, &out); err != nil {
		return Report{}, fmt.Errorf("usage snapshot: %w", err)
	}
	return out, nil
}

// Usage answers a usage query by the one policy every door shares:
//   - While the daemon runs (and for its own core), from its last
//     collection, at most refresh_interval old, with no lock, no counter
//     read and no write — the page polls: for the default arguments its
//     ready-made reply (the snapshot) while transfer.db is the one it was
//     made from, otherwise the saved ledger.
//   - Otherwise, or when q.Fresh, collect first (when enabled). If the
//     lock cannot be had in time, the last saved numbers with a warning
//     rather than failing: the page stays useful while a long operation
//     runs.
func (c *Core) Usage(ctx context.Context, q UsageQuery) (UsageReply, error) {
	if b, ok := c.ready(q); ok { // the snapshot: ReadyUsage, resident.go
		return UsageReply{encoded: b}, nil
	}
	if !q.Fresh && (c.resident || c.DaemonRunning()) {
		r, err := c.report(ctx, q.MAC, q.Period, false)
		return UsageReply{report: r}, err
	}
	r, err := c.report(ctx, q.MAC, q.Period, true)
	return UsageReply{report: r}, err
}

// newReport starts a report made at now.
func (c *Core) newReport(now time.Time) Report {
	r := Report{Enabled: c.settings.Enabled, CollectedAt: now.Unix(), Warnings: []Warning{},
		Live: LiveInfo{Port: c.settings.LivePort, TLSPort: c.settings.LiveTLSPort}}
	// The daemon opens the TLS port only with uhttpd's certificate and key;
	// do not send the page to a port nobody listens on.
	if !c.LiveTLS() {
		r.Live.TLSPort = 0
	}
	return r
}

// txWarnings are what a collection has to tell the reader.
func txWarnings(tx *txn) []Warning {
	out := append([]Warning(nil), tx.warnings...)
	for _, n := range tx.changes.Notes {
		out = append(out, Warning{Code: n.Code, Message: n.Message})
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
		if !slices.Contains(t.History, sel) {
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
	r.Backend = c.Kind().String()
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
		given := c.settings.Names[mac]
		h.Name, h.Group = given.Name, given.Group
		if h.Name == "" {
			h.Name = h.Hostname
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
	r.Groups = groups(r.Hosts)
	r.Router, r.Unattributed = transfer.Router, transfer.Unattributed
	r.UnattributedAddresses = []AddressUsage{}
	for _, a := range transfer.PendingAddrs() {
		p := transfer.Pending[a]
		r.UnattributedAddresses = append(r.UnattributedAddresses, AddressUsage{IP: a.String(), Usage: p.Usage, FirstSeen: p.FirstSeen, LastSeen: p.LastSeen})
		r.Unattributed = r.Unattributed.Add(p.Usage)
	}
	r.Expired = ExpiredUsage{Devices: transfer.ExpiredDevices, Usage: bucket[ledger.ExpiredKey]}
	if err := c.fillQuotas(&r, now, hosts, transfer); err != nil {
		return Report{}, err
	}
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

// peek reads the ledger without the lock: files are replaced atomically,
// so an unlocked read sees a whole old or a whole new file. Damage is
// reported, not repaired, since repairing is a write.
func (c *Core) peek() (*ledger.Hosts, *ledger.Transfer, error) {
	return c.store.Peek()
}

// devices lists every device that has a name, an address or counted bytes
// (not the expired devices' entry).
func devices(h *ledger.Hosts, t *ledger.Transfer) []macaddr.MAC {
	seen := map[macaddr.MAC]bool{ledger.ExpiredKey: true}
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
		if m != ledger.ExpiredKey {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// groups adds the devices of each group up, in order of name.
func groups(hs []HostUsage) []GroupUsage {
	by := map[string]*GroupUsage{}
	for _, h := range hs {
		if h.Group == "" {
			continue
		}
		g := by[h.Group]
		if g == nil {
			g = &GroupUsage{Group: h.Group}
			by[h.Group] = g
		}
		g.Devices++
		g.Usage = g.Usage.Add(h.Usage)
		g.Today = g.Today.Add(h.Today)
	}
	out := make([]GroupUsage, 0, len(by))
	for _, g := range by {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
