package account

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
)

// Deciding when to alert. Every locked cycle compares the quotas'
// statuses, once the kernel's quota objects are in line with the ledger,
// with what was already told this period (or day), and queues what is new
// in the outbox (internal/alert) before it remembers it as told: a crash
// in between tells it twice, one before decides again from the saved
// ledger. New devices are queued before the ledger that knows them is
// saved, for the same reason. So an alert is queued at least once and,
// barring such a crash, exactly once.
//
// - threshold: a quota instance's usage reached one of its notify
//   percentages; once per threshold per period (per day for per-day
//   quotas). A threshold the usage falls below again (a reset, an extra
//   allowance for today) is armed again.
// - blocked / throttled: the instance used its allowance and its action
//   took effect; once per period or day, armed again by a lift. The
//   kernel drops the packet that would cross the allowance, so the ledger
//   stays just short of it: a blocked or throttled instance has reached
//   every one of its thresholds.
// - new_device: a MAC the ledger did not know (never seen, or let go as
//   expired). A cycle that starts with an empty ledger (a fresh install,
//   RAM and flash copies lost) takes the devices it finds as the starting
//   point and announces none of them: a first install is not fifty
//   alerts.
//
// Where no channel exists at all (no webhook, no ubus, no hotplug-call:
// not OpenWrt) alerts are decided and remembered but not queued.
//
// What was told lives in alerts.db in db_dir, committed to persist_dir
// with the ledger and merged back after a reboot, so a restart or reboot
// refires nothing; a new period or day starts afresh.

// AlertsFile holds what was told, in db_dir and in persist_dir (there with
// the outbox's undelivered alerts too).
const AlertsFile = "alerts.db"

const alertsVersion = 1

// alertState is alerts.db.
type alertState struct {
	Version int `json:"version"`
	// Fired is what was told per quota instance (QuotaStatus.ID).
	Fired map[string]fired `json:"fired"`
	// Queue is the outbox's content, in the committed copy only.
	Queue []alert.Entry `json:"queue,omitempty"`
}

// fired is what was told of one instance in the period or day Key.
type fired struct {
	Key        string `json:"key"`
	Thresholds []int  `json:"thresholds,omitempty"`
	// State is "blocked" or "throttled" once told, until lifted.
	State string `json:"state,omitempty"`
}

// alertTxn is what a cycle notes for its decisions.
type alertTxn struct {
	// empty: the ledger held no device when the cycle started.
	empty bool
	// before holds the devices already first seen at the cycle's time
	// (another run in the same second): not new to this cycle.
	before map[macaddr.MAC]bool
	// queued counts the alerts this cycle queued.
	queued int
}

// alertsBegin notes the ledger's devices before the cycle changes them.
func (c *Core) alertsBegin(tx *txn) {
	tx.alerts.empty = len(tx.hosts.Devices) == 0
	for m, d := range tx.hosts.Devices {
		if d.FirstSeen >= tx.now {
			if tx.alerts.before == nil {
				tx.alerts.before = map[macaddr.MAC]bool{}
			}
			tx.alerts.before[m] = true
		}
	}
}

// alertsDecide queues the new devices of the cycle, before the ledger
// that knows them is saved. A failure is a warning: counting goes on.
func (c *Core) alertsDecide(tx *txn) {
	if !c.settings.Alerts.NewDevice || tx.alerts.empty {
		return
	}
	if err := c.queueAlerts(tx, c.newDevices(tx, c.shownNames(tx.hosts))); err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: err.Error()})
	}
}

// alertsQuotas queues the quota alerts of the cycle (once the kernel's
// objects are in line: their state is part of the statuses) and has the
// queued alerts delivered. A failure is a warning: counting goes on, and
// the quotas are decided again next cycle.
func (c *Core) alertsQuotas(tx *txn) {
	if err := c.decideQuotas(tx); err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: err.Error()})
	}
	if tx.alerts.queued > 0 && c.alertsQueued != nil && !c.resident && !c.DaemonRunning() {
		// No daemon to deliver: a detached deliverer does, so that this
		// door never waits for a script or a webhook.
		c.alertsQueued()
	}
}

func (c *Core) decideQuotas(tx *txn) error {
	// Computed again rather than taken from the sync: the kernel's objects
	// as the sync left them (a reset or a lift refreshed them) count.
	sts, err := c.quotaStatusesOf(tx.hosts, tx.transfer, tx.at)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	st, serr := c.alertCache.load(c.settings.DBDir)
	if serr != nil && st == nil {
		return serr
	}
	if serr != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: serr.Error()})
	}
	notify := make(map[string][]int, len(c.settings.Quotas))
	for _, q := range c.settings.Quotas {
		notify[q.Name] = q.Notify
	}
	out, changed := decideQuotaAlerts(st, sts, notify, tx.at, c.shownNames(tx.hosts))
	if err := c.queueAlerts(tx, out); err != nil {
		// Not remembered as told either (st was changed in memory only):
		// decided again next cycle.
		c.alertCache.drop()
		return err
	}
	if changed || serr != nil {
		return c.alertCache.save(c.settings.DBDir, st)
	}
	return nil
}

// alertCache keeps the decoded alerts.db of the last cycle, used again
// while the file is the one it was decoded from (same inode, size and
// time): the daemon's collections then decode nothing, the file being
// rewritten only when something is told. Cycles are serialised by the
// lock; the mutex only keeps a stray caller safe.
type alertCache struct {
	mu    sync.Mutex
	stamp fileStamp
	st    *alertState
}

type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func stampOf(p string) (fileStamp, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return fileStamp{}, false
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{}, false
	}
	return fileStamp{dev: uint64(sys.Dev), ino: uint64(sys.Ino), size: fi.Size(), mtime: fi.ModTime().UnixNano()}, true
}

// load returns the state to decide on; the caller may change it and must
// then save it (or the cache is dropped by the next load's stamp).
func (a *alertCache) load(dir string) (*alertState, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := filepath.Join(dir, AlertsFile)
	if s, ok := stampOf(p); ok && a.st != nil && s == a.stamp {
		return a.st, nil
	}
	a.st = nil
	st, err := loadAlertState(dir)
	if err == nil {
		if s, ok := stampOf(p); ok {
			a.st, a.stamp = st, s
		}
	}
	return st, err
}

// drop forgets the decoded state: the next load reads the file.
func (a *alertCache) drop() {
	a.mu.Lock()
	a.st = nil
	a.mu.Unlock()
}

func (a *alertCache) save(dir string, st *alertState) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st = nil
	if err := saveAlertState(dir, st); err != nil {
		return err
	}
	if s, ok := stampOf(filepath.Join(dir, AlertsFile)); ok {
		a.st, a.stamp = st, s
	}
	return nil
}

// queueAlerts adds alerts to the outbox, unless there is no channel at
// all to deliver them to.
func (c *Core) queueAlerts(tx *txn, out []alert.Alert) error {
	if len(out) == 0 || !alert.HasChannel(c.settings.Alerts.Webhook) {
		// Where nobody can be told, they count as told.
		return nil
	}
	dropped, err := alert.Queue{Dir: c.settings.DBDir}.Add(out)
	if err != nil {
		return err
	}
	tx.alerts.queued += len(out) - dropped
	if dropped > 0 {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts_dropped", Message: fmt.Sprintf(
			"the alert outbox is full (%d waiting): %d alert(s) not queued", alert.DefaultMax, dropped)})
	}
	return nil
}

// shownNames returns a device's shown name: the given name, else the
// hostname (as usage shows it).
func (c *Core) shownNames(h *ledger.Hosts) func(macaddr.MAC) string {
	return func(m macaddr.MAC) string {
		if n := c.settings.Names[m].Name; n != "" {
			return n
		}
		if d := h.Devices[m]; d != nil {
			return d.Hostname
		}
		return ""
	}
}

// newDevices lists the devices this cycle added to the ledger.
func (c *Core) newDevices(tx *txn, name func(macaddr.MAC) string) []alert.Alert {
	var macs []macaddr.MAC
	for m, d := range tx.hosts.Devices {
		if d.FirstSeen >= tx.now && !tx.alerts.before[m] {
			macs = append(macs, m)
		}
	}
	if len(macs) == 0 {
		return nil
	}
	sort.Slice(macs, func(i, j int) bool { return macs[i].String() < macs[j].String() })
	addrs := tx.hosts.AddrsByMAC()
	per := c.stamp(tx.at)
	out := make([]alert.Alert, 0, len(macs))
	for _, m := range macs {
		a := alert.Alert{ID: fmt.Sprintf("%s/%s@%d", alert.KindNewDevice, m, tx.now), Kind: alert.KindNewDevice,
			MAC: m, Name: name(m), Period: per.Period, Time: tx.at}
		for _, ip := range addrs[m] { // IPv4 sorts first
			a.IP = ip.String()
			break
		}
		out = append(out, a)
	}
	return out
}

// decideQuotaAlerts compares the statuses with what st says was told,
// updates st, and returns the alerts to queue (in the statuses' order,
// thresholds ascending). notify holds each quota's thresholds, all of
// which a blocked or throttled instance has reached. Instances no status
// names any more (a quota removed, a device let go) are forgotten.
func decideQuotaAlerts(st *alertState, sts []QuotaStatus, notify map[string][]int, now time.Time, name func(macaddr.MAC) string) ([]alert.Alert, bool) {
	var out []alert.Alert
	changed := false
	seen := make(map[string]bool, len(sts))
	for _, s := range sts {
		id := s.ID()
		seen[id] = true
		old, had := st.Fired[id]
		reached := reachedOf(s, notify)
		state := ""
		if s.State == QuotaBlocked || s.State == QuotaThrottled {
			state = string(s.State)
		}
		if had && old.Key == s.Key && old.State == state && slices.Equal(old.Thresholds, reached) {
			continue // the steady state: all told already
		}
		if !had && len(reached) == 0 && state == "" {
			continue
		}
		var told fired
		if had && old.Key == s.Key {
			told = old
		}
		base := alert.Alert{Quota: s.Name, Limit: s.Allowance(), Used: s.Used, Per: s.Per, Period: s.Key, Time: now}
		if s.Device != nil {
			base.MAC = *s.Device
		} else if len(s.Members) == 1 {
			base.MAC = s.Members[0]
		}
		if !base.MAC.IsZero() {
			base.Name = name(base.MAC)
		}
		for _, p := range reached {
			if slices.Contains(told.Thresholds, p) {
				continue
			}
			a := base
			a.Kind, a.Percent = alert.KindThreshold, p
			a.ID = fmt.Sprintf("%s/%s/%s/%d@%d", a.Kind, id, s.Key, p, now.Unix())
			out = append(out, a)
		}
		if state != "" && told.State != state {
			a := base
			a.Kind = state
			a.ID = fmt.Sprintf("%s/%s/%s@%d", a.Kind, id, s.Key, now.Unix())
			out = append(out, a)
		}
		// What is told from now on is what is reached: a threshold no
		// longer reached (a reset, an extra allowance) is armed again, and
		// so is the block after a lift.
		changed = true
		if len(reached) == 0 && state == "" {
			delete(st.Fired, id)
			continue
		}
		st.Fired[id] = fired{Key: s.Key, Thresholds: append([]int(nil), reached...), State: state}
	}
	for id := range st.Fired {
		if !seen[id] {
			delete(st.Fired, id)
			changed = true
		}
	}
	return out, changed
}

// reachedOf lists the thresholds the instance has reached, ascending: all
// of its quota's when blocked or throttled (the kernel stops it a packet
// short of the allowance).
func reachedOf(s QuotaStatus, notify map[string][]int) []int {
	if s.State != QuotaBlocked && s.State != QuotaThrottled && sort.IntsAreSorted(s.Crossed) {
		return s.Crossed
	}
	out := append([]int(nil), s.Crossed...)
	if s.State == QuotaBlocked || s.State == QuotaThrottled {
		for _, p := range notify[s.Name] {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	sort.Ints(out)
	return out
}

// maxAlertsFile bounds what is read: the state holds one small entry per
// quota instance, the committed copy the outbox too.
const maxAlertsFile = 16 << 20

// loadAlertState reads alerts.db in dir; missing is empty. A damaged file
// gives an empty state and an error saying so (it is overwritten by the
// next save: what it held is told again at worst).
func loadAlertState(dir string) (*alertState, error) {
	st := &alertState{Version: alertsVersion, Fired: map[string]fired{}}
	p := filepath.Join(dir, AlertsFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	var got alertState
	if len(data) > maxAlertsFile {
		err = fmt.Errorf("larger than %d bytes", maxAlertsFile)
	} else if err = json.Unmarshal(data, &got); err == nil && got.Version != alertsVersion {
		err = errors.New("unknown format version " + strconv.Itoa(got.Version))
	}
	if err != nil {
		return st, fmt.Errorf("alerts: %s was unreadable (%v); alerts already sent may be sent again", p, err)
	}
	if got.Fired == nil {
		got.Fired = map[string]fired{}
	}
	return &got, nil
}

func saveAlertState(dir string, st *alertState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if err := ledger.WriteAtomic(filepath.Join(dir, AlertsFile), append(b, '\n'), ledger.FileMode); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return nil
}

// commitAlerts copies what was told, and the alerts not yet delivered, to
// dir (persist_dir). Nothing is written when nothing would change: with
// no quota told and nothing waiting there is no file at all.
func (c *Core) commitAlerts(dir string) error {
	st, err := loadAlertState(c.settings.DBDir)
	if st == nil {
		return err
	}
	if st.Queue, err = (alert.Queue{Dir: c.settings.DBDir}).Entries(); err != nil {
		return err
	}
	p := filepath.Join(dir, AlertsFile)
	old, rerr := os.ReadFile(p)
	if len(st.Fired) == 0 && len(st.Queue) == 0 {
		if errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if rerr == nil && string(old) == string(b) {
		return nil
	}
	return ledger.WriteAtomic(p, b, ledger.FileMode)
}

// restoreAlerts merges the committed copy in dir (persist_dir) into
// db_dir: what was told, and the alerts that were waiting (queued again
// unless still there). At worst an alert is delivered twice, never lost.
func (c *Core) restoreAlerts(tx *txn, dir string) {
	cp, err := loadAlertState(dir)
	if err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: "copy on flash: " + err.Error()})
	}
	if cp == nil || len(cp.Fired) == 0 && len(cp.Queue) == 0 {
		return
	}
	st, err := loadAlertState(c.settings.DBDir)
	if st == nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: err.Error()})
		return
	}
	for id, f := range cp.Fired {
		cur, ok := st.Fired[id]
		if !ok || cur.Key != f.Key {
			st.Fired[id] = f
			continue
		}
		seen := map[int]bool{}
		for _, p := range cur.Thresholds {
			seen[p] = true
		}
		for _, p := range f.Thresholds {
			if !seen[p] {
				cur.Thresholds = append(cur.Thresholds, p)
			}
		}
		sort.Ints(cur.Thresholds)
		if cur.State == "" {
			cur.State = f.State
		}
		st.Fired[id] = cur
	}
	if err := saveAlertState(c.settings.DBDir, st); err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: err.Error()})
	}
	as := make([]alert.Alert, 0, len(cp.Queue))
	for _, e := range cp.Queue {
		as = append(as, e.Alert)
	}
	if dropped, err := (alert.Queue{Dir: c.settings.DBDir}).Add(as); err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "alerts", Message: err.Error()})
	} else {
		tx.alerts.queued += len(as) - dropped // to be delivered, as the cycle's own
	}
}
