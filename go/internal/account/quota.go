package account

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/safepath"
)

// QuotaState is where a quota stands.
type QuotaState string

// The states of a quota: under every notify threshold, past one, and used
// up (what then happens depends on the action).
const (
	QuotaOK        QuotaState = "ok"
	QuotaWarning   QuotaState = "warning"
	QuotaBlocked   QuotaState = "blocked"
	QuotaThrottled QuotaState = "throttled"
	QuotaExhausted QuotaState = "exhausted" // action none, used >= limit
)

// QuotaStatus is one quota (or, for a quota without members, one device's
// allowance under it) as the ledger has it: the ledger, not the kernel, is
// what every reader is told, and the kernel's objects are set from it.
type QuotaStatus struct {
	Name string `json:"name"`
	// Device is set for the per-device instances of a quota without
	// members.
	Device  *macaddr.MAC  `json:"device,omitempty"`
	Members []macaddr.MAC `json:"members"`
	// Limit is the configured allowance; Extra what was added for today;
	// Remaining is Limit+Extra-Used, at least 0.
	Limit     uint64 `json:"limit"`
	Used      uint64 `json:"used"`
	Remaining uint64 `json:"remaining"`
	Per       string `json:"per"`
	Direction string `json:"direction"`
	Action    string `json:"action"`
	// RateKbit is a throttle's rate in kbit/s.
	RateKbit uint64     `json:"rate,omitempty"`
	State    QuotaState `json:"state"`
	// Crossed lists the notify thresholds reached this period or day.
	Crossed []int  `json:"crossed"`
	Extra   uint64 `json:"extra"`
	// Lifted: the block (or throttle) is lifted until the period or day
	// ends.
	Lifted bool `json:"lifted"`
	// Key names the period or day the usage is of (its first day).
	Key string `json:"key"`
}

// ID names the instance: the quota, and for a per-device instance the
// device ("kids", "everyone/02:00:00:00:00:01").
func (q QuotaStatus) ID() string {
	if q.Device != nil {
		return q.Name + "/" + q.Device.String()
	}
	return q.Name
}

// Allowance is what the instance may use now: the limit and today's extra.
func (q QuotaStatus) Allowance() uint64 {
	if a := q.Limit + q.Extra; a >= q.Limit {
		return a
	}
	return ^uint64(0)
}

// quotaAdjust is what the page's buttons changed of one instance: a lift
// valid while its period or day (LiftKey) lasts, an extra allowance valid
// on ExtraDay.
type quotaAdjust struct {
	LiftKey  string `json:"lift_key,omitempty"`
	ExtraDay string `json:"extra_day,omitempty"`
	Extra    uint64 `json:"extra,omitempty"`
}

// quotaAdjustments are all of them, by instance ID.
type quotaAdjustments map[string]quotaAdjust

// QuotaAdjustFile holds the lifts and extra allowances, in persist_dir: an
// admin's decision must survive a reboot, and it is written only when a
// button is pressed.
const QuotaAdjustFile = "quota-adjust.json"

// maxAdjustments bounds the file: one entry per quota instance at most.
const maxAdjustments = 65536

func loadAdjustments(dir string) (quotaAdjustments, error) {
	b, err := os.ReadFile(filepath.Join(dir, QuotaAdjustFile))
	if errors.Is(err, fs.ErrNotExist) {
		return quotaAdjustments{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quota adjustments: %w", err)
	}
	var a quotaAdjustments
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("quota adjustments: %s: %w: %v", filepath.Join(dir, QuotaAdjustFile), errAdjustDamaged, err)
	}
	if a == nil {
		a = quotaAdjustments{}
	}
	return a, nil
}

// errAdjustDamaged is a quota-adjust.json that does not parse (edited
// by hand, or flash gone bad).
var errAdjustDamaged = errors.New("unreadable")

// setAsideAdjustments keeps a damaged quota-adjust.json aside as
// NAME.corrupt-UNIXTIME (a locked cycle's job: it is a write) and says
// so; its lifts and extra allowances are lost, so the quotas hold as
// configured. Without this the file would stop usage, the kernel's
// quotas and the very buttons that could replace it, until removed by
// hand. "" when there was nothing to set aside.
func setAsideAdjustments(dir string, now time.Time) (string, error) {
	_, err := loadAdjustments(dir)
	if !errors.Is(err, errAdjustDamaged) {
		return "", nil
	}
	p := filepath.Join(dir, QuotaAdjustFile)
	moved := fmt.Sprintf("%s.corrupt-%d", p, now.Unix())
	if rerr := os.Rename(p, moved); rerr != nil {
		return "", fmt.Errorf("%v, and could not be moved aside: %w", err, rerr)
	}
	return fmt.Sprintf("%v; kept aside as %s: quota lifts and extra allowances are lost", err, moved), nil
}

func saveAdjustments(dir string, a quotaAdjustments) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := safepath.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("quota adjustments: %w", err)
	}
	return ledger.WriteAtomic(filepath.Join(dir, QuotaAdjustFile), b, 0o600)
}

// quotaInput is what statuses are computed from.
type quotaInput struct {
	quotas   []config.Quota
	names    map[macaddr.MAC]config.DeviceName
	hosts    *ledger.Hosts
	transfer *ledger.Transfer
	// stamp names the current day and period: a bucket of another key
	// is stale (no collection since the rollover) and counts as empty.
	stamp  ledger.Stamp
	adjust quotaAdjustments
	// kernel is what the last sync saw of the kernel's objects.
	kernel map[string]quotaKernelEntry
}

// quotaStatuses computes every quota instance, in config order (per-device
// instances in order of MAC).
func quotaStatuses(in quotaInput) []QuotaStatus {
	var out []QuotaStatus
	for _, q := range in.quotas {
		if !q.PerDevice() {
			out = append(out, in.status(q, nil, quotaMembers(q, in.names)))
			continue
		}
		for _, m := range devices(in.hosts, in.transfer) {
			m := m
			out = append(out, in.status(q, &m, []macaddr.MAC{m}))
		}
	}
	return out
}

// quotaMembers lists a quota's devices: its MACs and every device named
// into one of its groups, in order.
func quotaMembers(q config.Quota, names map[macaddr.MAC]config.DeviceName) []macaddr.MAC {
	seen := map[macaddr.MAC]bool{}
	out := []macaddr.MAC{}
	for _, m := range q.MACs {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	for m, n := range names {
		if seen[m] || n.Group == "" {
			continue
		}
		for _, g := range q.Groups {
			if n.Group == g {
				seen[m] = true
				out = append(out, m)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (in quotaInput) status(q config.Quota, dev *macaddr.MAC, members []macaddr.MAC) QuotaStatus {
	st := QuotaStatus{Name: q.Name, Device: dev, Members: members, Limit: q.Limit, Per: string(q.Per),
		Direction: string(q.Direction), Action: string(q.Action), RateKbit: q.RateKbit, Crossed: []int{}}
	bucket := &in.transfer.Period
	st.Key = in.stamp.Period
	if q.Per == config.QuotaPerDay {
		bucket, st.Key = &in.transfer.Day, in.stamp.Day
	}
	if bucket.Key == st.Key {
		for _, m := range members {
			u := bucket.Usage[m]
			if q.Direction != config.QuotaUp {
				st.Used += u.DownloadBytes
			}
			if q.Direction != config.QuotaDown {
				st.Used += u.UploadBytes
			}
		}
	}
	adj := in.adjust[st.ID()]
	if adj.ExtraDay != "" && adj.ExtraDay == in.stamp.Day {
		st.Extra = adj.Extra
	}
	st.Lifted = adj.LiftKey != "" && adj.LiftKey == st.Key
	allow := st.Allowance()
	if st.Used < allow {
		st.Remaining = allow - st.Used
	}
	for _, p := range q.Notify {
		// used/allowance >= p%, in integers that cannot overflow.
		if reached(st.Used, allow, p) {
			st.Crossed = append(st.Crossed, p)
		}
	}
	// The kernel drops the packet that would cross the allowance, so the
	// ledger's count stays just below it: the kernel's object, depleted
	// at this allowance in this period or day, says the quota acts.
	if e, ok := in.kernel[quotaObjectName(st)]; ok && e.Depleted && e.Key == st.Key && e.Bytes == allow && !st.Lifted {
		st.Remaining = 0
		if q.Action != config.QuotaNone {
			st.State = usedUpState(q.Action)
			return st
		}
	}
	switch {
	case st.Used >= allow && !st.Lifted:
		st.State = usedUpState(q.Action)
	case st.Used >= allow:
		st.State = QuotaExhausted
	case len(st.Crossed) > 0:
		st.State = QuotaWarning
	default:
		st.State = QuotaOK
	}
	return st
}

// usedUpState is the state of an instance that used its allowance.
func usedUpState(a config.QuotaAction) QuotaState {
	switch a {
	case config.QuotaBlock:
		return QuotaBlocked
	case config.QuotaThrottle:
		return QuotaThrottled
	}
	return QuotaExhausted
}

// reached reports used >= pct% of allow without overflow.
func reached(used, allow uint64, pct int) bool {
	p := uint64(pct)
	// used*100 >= allow*p, computed on quotient and remainder.
	q, r := allow/100, allow%100
	need := q*p + (r*p+99)/100
	return used >= need
}

// hostQuota picks, for each device, the tightest quota that applies to
// it: the one with the least remaining (for the usage reply's per-host
// field).
func hostQuota(sts []QuotaStatus) map[macaddr.MAC]*HostQuota {
	out := map[macaddr.MAC]*HostQuota{}
	for _, s := range sts {
		for _, m := range s.Members {
			if cur := out[m]; cur == nil || s.Remaining < cur.Remaining {
				out[m] = &HostQuota{Name: s.Name, Limit: s.Allowance(), Used: s.Used, Remaining: s.Remaining, State: s.State}
			}
		}
	}
	return out
}

// HostQuota is the per-host quota field of a usage reply.
type HostQuota struct {
	Name      string     `json:"name"`
	Limit     uint64     `json:"limit"`
	Used      uint64     `json:"used"`
	Remaining uint64     `json:"remaining"`
	State     QuotaState `json:"state"`
}

// quotaStatusesOf computes the statuses from a ledger at now, with the
// saved lifts and extra allowances.
func (c *Core) quotaStatusesOf(hosts *ledger.Hosts, transfer *ledger.Transfer, now time.Time) ([]QuotaStatus, error) {
	if len(c.settings.Quotas) == 0 {
		return nil, nil
	}
	adj, err := loadAdjustments(c.settings.PersistDir)
	if errors.Is(err, errAdjustDamaged) {
		// Read as none until a locked cycle sets it aside and says so.
		adj, err = quotaAdjustments{}, nil
	}
	if err != nil {
		return nil, err
	}
	kernel, _ := c.loadQuotaKernel()
	return quotaStatuses(quotaInput{quotas: c.settings.Quotas, names: c.settings.Names, hosts: hosts,
		transfer: transfer, stamp: c.stamp(now), adjust: adj, kernel: kernel}), nil
}

// loadQuotaKernel reads QuotaKernelFile (empty when missing or unreadable:
// every object then starts from the ledger) and its bytes.
func (c *Core) loadQuotaKernel() (map[string]quotaKernelEntry, []byte) {
	saved := map[string]quotaKernelEntry{}
	b, err := os.ReadFile(filepath.Join(c.settings.DBDir, QuotaKernelFile))
	if err != nil || json.Unmarshal(b, &saved) != nil {
		return map[string]quotaKernelEntry{}, b
	}
	return saved, b
}

// Quotas reports every quota instance from the saved ledger (no lock, no
// collection: the daemon's last one, or the last door's).
func (c *Core) Quotas() ([]QuotaStatus, error) {
	hosts, transfer, err := c.peek()
	if err != nil {
		return nil, err
	}
	return c.quotaStatusesOf(hosts, transfer, c.now())
}

// QuotaKernelFile remembers, per quota object, the period or day and the
// ledger's count it was last synced with (in db_dir, which a reboot
// empties as it empties the kernel's tables): a new key, or a count that
// went down (a reset), makes the kernel start again from the ledger's.
const QuotaKernelFile = "quota-kernel.json"

type quotaKernelEntry struct {
	Key  string `json:"key"`
	Used uint64 `json:"used"`
	// Bytes is the allowance the object had, Depleted whether the kernel
	// found it used up (it has dropped or limited a packet).
	Bytes    uint64 `json:"bytes"`
	Depleted bool   `json:"depleted,omitempty"`
}

// quotaLateSlack is how far the ledger may be ahead of a kernel object
// before the object is made again from the ledger.
const quotaLateSlack = 1 << 20

// quotaObjectName names an instance's kernel objects: q_<quota>, and for a
// per-device instance q_<quota>_<mac without colons>.
func quotaObjectName(s QuotaStatus) string {
	if s.Device == nil {
		return "q_" + s.Name
	}
	return "q_" + s.Name + "_" + strings.ReplaceAll(s.Device.String(), ":", "")
}

// quotaRules turns statuses into what the kernel enforces: every instance
// with an action and not lifted, its members' LAN addresses, its
// allowance and the ledger's count.
func quotaRules(sts []QuotaStatus, addrs map[macaddr.MAC][]netip.Addr, lan func(netip.Addr) bool, saved map[string]quotaKernelEntry, objs map[string]netfilter.QuotaObject, reset func([]macaddr.MAC) bool) ([]netfilter.QuotaRule, map[string]quotaKernelEntry) {
	var rules []netfilter.QuotaRule
	next := map[string]quotaKernelEntry{}
	for _, s := range sts {
		if s.Lifted || (s.Action != string(config.QuotaBlock) && s.Action != string(config.QuotaThrottle)) {
			continue
		}
		name := quotaObjectName(s)
		r := netfilter.QuotaRule{Name: name, Bytes: s.Allowance(), Used: s.Used,
			Down: s.Direction != string(config.QuotaUp), Up: s.Direction != string(config.QuotaDown)}
		if s.Action == string(config.QuotaThrottle) {
			r.RateKbit = s.RateKbit
		}
		prev, ok := saved[name]
		r.Fresh = !ok || prev.Key != s.Key || s.Used < prev.Used || reset(s.Members)
		// Bytes credited that the kernel's object never saw (an address
		// counted before its owner was known, a restored backup) put the
		// ledger ahead of it; normally the kernel is ahead (it counts
		// since the ledger's read). Past a slack that the packets between
		// a read and the object's making stay under, start it again from
		// the ledger.
		if o, have := objs[name]; have && o.Consumed < o.Bytes && s.Used > o.Consumed+quotaLateSlack {
			r.Fresh = true
		}
		for _, m := range s.Members {
			for _, a := range addrs[m] {
				if lan(a) {
					r.Addrs = append(r.Addrs, a)
				}
			}
		}
		rules = append(rules, r)
		o, ok := objs[name]
		next[name] = quotaKernelEntry{Key: s.Key, Used: s.Used, Bytes: r.Bytes,
			Depleted: ok && !r.Fresh && o.Bytes == r.Bytes && o.Consumed >= o.Bytes}
	}
	return rules, next
}

// syncQuotas brings the kernel's quotas in line with the ledger, in the
// locked cycle that has just brought the counting rules in line. A
// failure is a warning: counting goes on.
func (c *Core) syncQuotas(ctx context.Context, tx *txn) {
	if len(c.settings.Quotas) > 0 {
		if msg, err := setAsideAdjustments(c.settings.PersistDir, tx.at); err != nil || msg != "" {
			if err != nil {
				msg = err.Error()
			}
			tx.warnings = append(tx.warnings, Warning{Code: "quota_adjust", Message: msg})
		}
	}
	qe, ok := c.current().(netfilter.QuotaEnforcer)
	if k := c.Kind(); k != netfilter.KindNFTables && k != netfilter.KindNFTablesNetdev {
		ok = false // the fake stands in for every kind
	}
	if !ok {
		c.dropStaleQuotaTable(ctx, tx)
		if len(c.settings.Quotas) > 0 {
			tx.warnings = append(tx.warnings, Warning{Code: "quota_backend", Message: "Quotas are counted and reported, but enforced in the kernel with the nftables backend only (the iptables backend blocks and throttles nothing): set option backend 'nftables' (OpenWrt 22.03 and later)."})
		}
		return
	}
	sts, err := c.quotaStatusesOf(tx.hosts, tx.transfer, tx.at)
	if err == nil {
		path := filepath.Join(c.settings.DBDir, QuotaKernelFile)
		saved, old := c.loadQuotaKernel()
		lan, lerr := c.lanSet()
		inLAN := func(a netip.Addr) bool { return lerr != nil || lan.Contains(a) }
		var next map[string]quotaKernelEntry
		plan := func(objs map[string]netfilter.QuotaObject) []netfilter.QuotaRule {
			var rules []netfilter.QuotaRule
			rules, next = quotaRules(sts, tx.hosts.AddrsByMAC(), inLAN, saved, objs, tx.wasReset)
			return rules
		}
		if _, err = qe.PlanQuotas(ctx, plan); err == nil {
			var b []byte
			if b, err = json.Marshal(next); err == nil && !bytes.Equal(b, old) {
				err = ledger.WriteAtomic(path, b, 0o600)
			}
		}
	}
	if err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "quota_kernel", Message: "quotas are not enforced: " + err.Error()})
	}
	switch off := c.chosen().Offload; {
	case len(c.settings.Quotas) == 0:
	case off.Hardware:
		tx.warnings = append(tx.warnings, Warning{Code: "quota_offload", Message: "Hardware flow offloading is on: offloaded flows never reach the CPU, so no quota sees them and a device can go past its allowance. Turn it off in Network → Firewall for quotas that hold."})
	case off.Software && c.Placement() == netfilter.PlacementForward:
		tx.warnings = append(tx.warnings, Warning{Code: "quota_offload", Message: "Software flow offloading is on and quotas are enforced in the forward hook, which established flows skip: a device can go past its allowance. Use the netdev placement (Linux 5.16 or later; placement 'auto' picks it) or turn offloading off in Network → Firewall."})
	}
	tx.quotas = sts
}

// resetQuotas notes a reset of macs (nil: all devices): the kernel's
// objects of quotas they are members of start again from the ledger. The
// ledger's count alone cannot tell: what the reset cycle credited before
// zeroing was never synced.
func (tx *txn) resetQuotas(macs []macaddr.MAC) {
	if tx.quotaReset == nil {
		tx.quotaReset = map[macaddr.MAC]bool{}
	}
	if macs == nil {
		tx.quotaReset[ledger.ExpiredKey] = true // all
	}
	for _, m := range macs {
		tx.quotaReset[m] = true
	}
}

func (tx *txn) wasReset(members []macaddr.MAC) bool {
	if tx.quotaReset == nil {
		return false
	}
	if tx.quotaReset[ledger.ExpiredKey] {
		return true
	}
	for _, m := range members {
		if tx.quotaReset[m] {
			return true
		}
	}
	return false
}

// dropStaleQuotaTable removes the quota table an nftables backend left
// (the backend switched to iptables): it would go on enforcing allowances
// nobody updates. quota-kernel.json says whether there may be one.
func (c *Core) dropStaleQuotaTable(ctx context.Context, tx *txn) {
	if err := c.dropStaleQuotas(ctx); err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "quota_kernel", Message: "the quota table of the nftables backend could not be removed: " + err.Error()})
	}
}

func (c *Core) dropStaleQuotas(ctx context.Context) error {
	path := filepath.Join(c.settings.DBDir, QuotaKernelFile)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	n, err := netfilter.NewNFTables(netfilter.NFTablesOptions{ChainPrefix: c.settings.ChainPrefix})
	if err == nil {
		err = n.TeardownQuotas(ctx)
	}
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// teardownQuotas removes the quota table (accounting switched off).
func (c *Core) teardownQuotas(ctx context.Context) error {
	qe, ok := c.current().(netfilter.QuotaEnforcer)
	if k := c.Kind(); !ok || k != netfilter.KindNFTables && k != netfilter.KindNFTablesNetdev {
		return c.dropStaleQuotas(ctx)
	}
	if err := qe.TeardownQuotas(ctx); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(c.settings.DBDir, QuotaKernelFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// fillQuotas adds the quotas to a usage report: every instance, and on
// each device the tightest that applies to it.
func (c *Core) fillQuotas(r *Report, now time.Time, hosts *ledger.Hosts, transfer *ledger.Transfer) error {
	sts, err := c.quotaStatusesOf(hosts, transfer, now)
	if err != nil {
		return err
	}
	r.Quotas = sts
	if r.Quotas == nil {
		r.Quotas = []QuotaStatus{}
	}
	per := hostQuota(sts)
	for i := range r.Hosts {
		if m, err := macaddr.Parse(r.Hosts[i].MAC); err == nil {
			r.Hosts[i].Quota = per[m]
		}
	}
	return nil
}

// ErrNoQuota is a quota_lift or quota_extra for a quota (or device) the
// settings do not have.
var ErrNoQuota = errors.New("no such quota")

// ErrQuotaArgument is a quota_lift or quota_extra with arguments that do
// not fit the quota (a device for a shared quota that is not a member,
// none for a per-device one).
var ErrQuotaArgument = errors.New("bad quota argument")

// maxExtra bounds one day's extra allowance.
const maxExtra = uint64(1) << 62

// QuotaLift lifts a quota's block or throttle until its period (or day)
// ends; mac names the device of a quota without members. The kernel stops
// enforcing it in the same locked cycle.
func (c *Core) QuotaLift(ctx context.Context, name string, mac *macaddr.MAC) (QuotaStatus, error) {
	return c.adjustQuota(ctx, name, mac, func(a *quotaAdjust, st QuotaStatus, day string) {
		a.LiftKey = st.Key
	})
}

// QuotaExtra adds bytes to a quota's allowance for today (until the
// router's midnight); several calls add up.
func (c *Core) QuotaExtra(ctx context.Context, name string, mac *macaddr.MAC, bytes uint64) (QuotaStatus, error) {
	if bytes == 0 || bytes > maxExtra {
		return QuotaStatus{}, fmt.Errorf("%w: bytes must be from 1 to %d", ErrQuotaArgument, maxExtra)
	}
	return c.adjustQuota(ctx, name, mac, func(a *quotaAdjust, st QuotaStatus, day string) {
		if a.ExtraDay != day {
			a.ExtraDay, a.Extra = day, 0
		}
		a.Extra += bytes
		if a.Extra > maxExtra {
			a.Extra = maxExtra
		}
	})
}

// adjustQuota finds the instance, changes its adjustment and saves it in
// one locked cycle, which then syncs the kernel with it.
func (c *Core) adjustQuota(ctx context.Context, name string, mac *macaddr.MAC, change func(a *quotaAdjust, st QuotaStatus, day string)) (QuotaStatus, error) {
	if !c.settings.Enabled {
		return QuotaStatus{}, ErrDisabled
	}
	var q *config.Quota
	for i := range c.settings.Quotas {
		if c.settings.Quotas[i].Name == name {
			q = &c.settings.Quotas[i]
		}
	}
	if q == nil {
		return QuotaStatus{}, fmt.Errorf("%w %q", ErrNoQuota, truncate(name, 40))
	}
	if q.PerDevice() && mac == nil {
		return QuotaStatus{}, fmt.Errorf("%w: quota %q gives every device its own allowance: name the device (mac)", ErrQuotaArgument, name)
	}
	var out QuotaStatus
	_, err := c.transact(ctx, func(tx *txn) error {
		if msg, err := setAsideAdjustments(c.settings.PersistDir, tx.at); err != nil {
			return err
		} else if msg != "" {
			tx.warnings = append(tx.warnings, Warning{Code: "quota_adjust", Message: msg})
		}
		adj, err := loadAdjustments(c.settings.PersistDir)
		if err != nil {
			return err
		}
		sts := quotaStatuses(quotaInput{quotas: []config.Quota{*q}, names: c.settings.Names, hosts: tx.hosts,
			transfer: tx.transfer, stamp: c.stamp(tx.at), adjust: adj})
		found := -1
		for i, s := range sts {
			switch {
			case s.Device != nil && mac != nil && *s.Device == *mac:
				found = i
			case s.Device == nil && (mac == nil || slices.Contains(s.Members, *mac)):
				found = i
			}
		}
		if found < 0 {
			if q.PerDevice() {
				return fmt.Errorf("%w: device %s under quota %q", ErrNoQuota, mac, name)
			}
			return fmt.Errorf("%w: %s is not a member of quota %q", ErrQuotaArgument, mac, name)
		}
		st := sts[found]
		a := adj[st.ID()]
		change(&a, st, c.stamp(tx.at).Day)
		adj[st.ID()] = a
		pruneAdjustments(adj, c.stamp(tx.at))
		if err := saveAdjustments(c.settings.PersistDir, adj); err != nil {
			return storageHint(err, "persist_dir", c.settings.PersistDir)
		}
		return nil
	})
	if err != nil {
		return QuotaStatus{}, err
	}
	sts, err := c.Quotas()
	if err != nil {
		return QuotaStatus{}, err
	}
	for _, s := range sts {
		if s.Name == name && (s.Device == nil || mac != nil && *s.Device == *mac) {
			out = s
		}
	}
	return out, nil
}

// pruneAdjustments drops what no longer applies (a lift of a past period
// or day, an extra of a past day) and keeps the file within its bound.
func pruneAdjustments(adj quotaAdjustments, at ledger.Stamp) {
	for id, a := range adj {
		if a.ExtraDay != at.Day {
			a.ExtraDay, a.Extra = "", 0
		}
		if a.LiftKey != at.Day && a.LiftKey != at.Period {
			a.LiftKey = ""
		}
		if a == (quotaAdjust{}) {
			delete(adj, id)
		} else {
			adj[id] = a
		}
	}
	if len(adj) > maxAdjustments {
		ids := make([]string, 0, len(adj))
		for id := range adj {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids[maxAdjustments:] {
			delete(adj, id)
		}
	}
}
