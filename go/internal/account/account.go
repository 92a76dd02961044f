// Package account is the core every door (dnsmasq hook, hotplug handler,
// rpcd plugin, daemon, CLI) calls: under one lock it reads the kernel
// counters, credits them to the ledger, applies the event, saves, and only
// then changes rules — an order in which a crash at any point loses nothing.
package account

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/period"
)

// Core binds settings, a backend and the ledger store.
type Core struct {
	settings  config.Settings
	configDir string
	// backend is replaced when the placement should change (Resident):
	// mu guards it, since the daemon's /metrics handler reads its name.
	mu      sync.Mutex
	backend netfilter.Backend
	choice  *config.Choice // what backend was resolved from (nil: not resolved here)
	// resident: the daemon's core (see Resident).
	resident bool
	store    ledger.Store
	now      func() time.Time
	bootID   func() string

	// lan is derived at most every lanTTL: a hook run asks twice, the
	// daemon for months (an ISP-delegated prefix can change).
	lan    *config.LAN
	lanErr error
	lanAt  time.Time
}

const lanTTL = 30 * time.Second

// New makes a Core. now may be nil (time.Now).
func New(s config.Settings, configDir string, b netfilter.Backend, now func() time.Time) *Core {
	if now == nil {
		now = time.Now
	}
	return &Core{settings: s, configDir: configDir, backend: b, store: ledger.Store{Dir: s.DBDir}, now: now, bootID: kernelBootID}
}

// Resident marks the core of the resident daemon: every locked cycle
// re-resolves backend and placement from the firewall's flow offloading
// options (a one-shot process resolves them at start anyway, and a daemon
// that kept the old choice would switch back and forth with the hooks),
// and ends by saving the usage snapshot (see snapshotFile).
func (c *Core) Resident() { c.resident = true }

// Placement names where the current backend counts forwarded bytes.
func (c *Core) Placement() string {
	if backendKind(c.be()) == "nftables-netdev" {
		return config.PlacementNetdev
	}
	return config.PlacementForward
}

// be returns the current backend.
func (c *Core) be() netfilter.Backend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backend
}

// refollow replaces the backend when the settings now resolve to another
// one; the switch itself (credit the old, tear it down) is switchBackends'.
func (c *Core) refollow() error {
	ch, err := c.settings.Resolve(c.configDir)
	if err != nil {
		return err
	}
	var b netfilter.Backend
	switch cur := backendKind(c.be()); cur {
	case ch.Kind():
	case "iptables", "nftables", "nftables-netdev":
		if b, err = c.newBackend(ch.Kind()); err != nil {
			return err
		}
	default:
		return nil // a backend Open does not make (tests' fakes)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.choice = &ch
	if b != nil {
		c.backend = b
	}
	return nil
}

// resolved returns the choice the backend was made from, resolving it
// when the core was given its backend (tests).
func (c *Core) resolved() (config.Choice, error) {
	c.mu.Lock()
	ch := c.choice
	c.mu.Unlock()
	if ch != nil {
		return *ch, nil
	}
	return c.settings.Resolve(c.configDir)
}

// SetBootID replaces how the current kernel boot is named (tests simulate
// reboots with it).
func (c *Core) SetBootID(f func() string) { c.bootID = f }

// kernelBootID names this boot; the kernel makes a new one at every boot.
func kernelBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// periods returns the accounting period rule of the settings.
func (c *Core) periods() period.Spec {
	s := c.settings
	return period.Spec{Monthly: s.Period != "days", Day: s.PeriodDay, Anchor: s.PeriodAnchor, Days: s.PeriodDays}
}

// stamp names the history buckets of t.
func (c *Core) stamp(t time.Time) ledger.Stamp {
	return ledger.Stamp{Day: period.DayKey(t), Period: c.periods().Containing(t).Key()}
}

// Settings returns the settings the core runs with.
func (c *Core) Settings() config.Settings { return c.settings }

// ErrDisabled is returned by operations that would touch the kernel while
// option enabled is '0'.
var ErrDisabled = errors.New("transferometer is disabled (option enabled '0')")

// Warning is a condition the user should see next to the numbers.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// txn is one locked read-credit-change cycle.
type txn struct {
	hosts      *ledger.Hosts
	transfer   *ledger.Transfer
	snap       *netfilter.Snapshot
	now        int64
	hostsDirty bool
	warnings   []Warning
	changes    netfilter.Changes
	at         time.Time
	// commit asks for the ledger to be copied to persist_dir as well.
	commit bool
	// closed holds buckets a rollover (or a restore) ended, for history.db.
	closed []ledger.Closed
}

// IsLAN reports whether a is a LAN host address we account.
func (c *Core) IsLAN(a netip.Addr) (bool, error) {
	lan, err := c.lanSet()
	if err != nil {
		return false, err
	}
	return lan.Contains(a), nil
}

func (c *Core) lanSet() (*config.LAN, error) {
	if now := c.now(); now.Sub(c.lanAt) > lanTTL || now.Before(c.lanAt) {
		c.lan, c.lanErr, c.lanAt = nil, nil, now
	}
	if c.lan == nil && c.lanErr == nil {
		l, err := c.settings.LAN(c.configDir)
		if err != nil {
			c.lanErr = err
		} else {
			c.lan = &l
		}
	}
	return c.lan, c.lanErr
}

func (c *Core) lockOptions() lock.Options {
	return lock.Options{Dir: c.settings.LockDir, PIDFile: c.settings.PIDFile, Timeout: c.settings.LockTimeout}
}

// transact runs fn inside the cycle. The order is the crash-safety
// argument of the whole design:
//  1. read counters (never zeroed);
//  2. credit growth since the baselines (in memory);
//  3. fn changes host.db in memory; new rules get zero baselines;
//  4. save host.db, then transfer.db (each atomically);
//  5. change the rules.
//
// A crash before 4 leaves the kernel counters ahead of the baselines: the
// next run credits them. A crash between the two saves leaves transfer.db
// attributing by its own baselines: nothing moves to the wrong device and
// the next run repeats 3. A crash before 5 leaves wanted rules missing
// (re-added next run with the saved zero baseline) or unwanted rules
// present (credited and removed next run).
func (c *Core) transact(ctx context.Context, fn func(tx *txn) error) (*txn, error) {
	l, err := lock.Acquire(ctx, c.lockOptions())
	if err != nil {
		return nil, err
	}
	defer l.Release()
	now := c.now()
	hosts, transfer, rec, err := c.store.Load(now)
	if err != nil {
		return nil, err
	}
	tx := &txn{hosts: hosts, transfer: transfer, now: now.Unix(), at: now}
	for _, r := range rec {
		tx.warnings = append(tx.warnings, Warning{Code: "ledger_recovered", Message: r.String()})
		tx.hostsDirty = true
	}
	if w := l.Waited(); w > time.Second {
		tx.warnings = append(tx.warnings, Warning{Code: "lock_busy", Message: fmt.Sprintf("waited %.1fs for the lock", w.Seconds())})
	}
	if !transfer.Restored {
		c.restore(tx)
	}
	if c.resident {
		if err := c.refollow(); err != nil {
			tx.warnings = append(tx.warnings, Warning{Code: "placement", Message: err.Error() + "; counting stays where it was"})
		}
	}
	if err := c.switchBackends(ctx, tx); err != nil {
		return nil, err
	}
	tx.snap, err = c.be().Read(ctx)
	if err != nil {
		return nil, err
	}
	grew, closed := transfer.Apply(tx.snap.Counters, hosts.Owner, c.stamp(now))
	if closed.Any() {
		tx.closed = append(tx.closed, closed)
	}
	for mac := range grew {
		hosts.Device(mac, tx.now).LastSeen = tx.now
		tx.hostsDirty = true
	}
	if fn != nil {
		if err := fn(tx); err != nil {
			return nil, err
		}
	}
	wanted := c.wanted(tx)
	for _, a := range wanted {
		mac, _ := hosts.Owner(a)
		transfer.Assign(a, mac, tx.snap.Counters)
	}
	if tx.hostsDirty {
		if err := c.store.SaveHosts(hosts); err != nil {
			return nil, err
		}
	}
	if len(tx.closed) > 0 {
		// history.db first: storing a bucket twice is harmless, losing
		// one is not.
		if err := c.archive(tx); err != nil {
			return nil, err
		}
	}
	if err := c.store.SaveTransfer(transfer); err != nil {
		return nil, err
	}
	if tx.commit {
		if err := c.commit(tx); err != nil {
			return nil, err
		}
	}
	tx.changes, err = c.be().Sync(ctx, tx.snap, wanted)
	if err != nil {
		return nil, err
	}
	if err := c.retire(ctx, tx); err != nil {
		return nil, err
	}
	if c.resident {
		// Still under the lock: which transfer.db this cycle left, and
		// the usage reply the page's polls get until the next write.
		var id string
		var savedAt time.Time
		if id, savedAt, err = c.transferID(); err == nil {
			err = c.writeSnapshot(tx, id, savedAt)
		}
		if err != nil {
			tx.warnings = append(tx.warnings, Warning{Code: "usage_snapshot", Message: err.Error() + "; usage reads the ledger instead"})
		}
	}
	return tx, nil
}

// archive moves closed buckets into history.db and prunes it to the
// periods kept.
func (c *Core) archive(tx *txn) error {
	h, rec, err := c.store.LoadHistory(c.now())
	if err != nil {
		return err
	}
	if rec != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "ledger_recovered", Message: rec.String()})
	}
	for _, cl := range tx.closed {
		h.Put(cl)
	}
	h.Prune(c.periods().Oldest(tx.at, c.settings.Generations).Key())
	if err := c.store.SaveHistory(h); err != nil {
		return err
	}
	tx.transfer.History = h.PeriodKeys()
	return nil
}

// wanted lists the addresses that must have rules: every LAN address in
// host.db. Addresses that left the LAN (its subnets changed) lose their
// rules; when the LAN cannot be determined the known hosts stay as they are.
func (c *Core) wanted(tx *txn) []netip.Addr {
	lan, err := c.lanSet()
	if err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "lan_unknown", Message: err.Error()})
	}
	out := make([]netip.Addr, 0, len(tx.hosts.IPs))
	for a := range tx.hosts.IPs {
		if lan == nil || lan.Contains(a) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
