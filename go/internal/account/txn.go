package account

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

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
	alerts alertTxn // alerts.go
	// quotas is every quota's status after this cycle's credit (quota.go).
	quotas []QuotaStatus
	// quotaReset names the devices a reset zeroed (nil: none; empty: all).
	quotaReset map[macaddr.MAC]bool
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
	if c.resident {
		// The snapshot stays the answer while this cycle writes.
		defer c.snapshotThrough()()
	}
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
	c.alertsBegin(tx)
	if c.resident {
		if err := c.rechoose(); err != nil {
			tx.warnings = append(tx.warnings, Warning{Code: "placement", Message: err.Error() + "; counting stays where it was"})
		}
	}
	if err := c.switchBackends(ctx, tx); err != nil {
		return nil, err
	}
	tx.snap, err = c.current().Read(ctx)
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
	for a := range transfer.Pending { // Resolve deletes the entry: allowed while ranging
		if mac, ok := hosts.Owner(a); ok && transfer.Resolve(a, mac) {
			hosts.Device(mac, tx.now).LastSeen = tx.now
			tx.hostsDirty = true
		}
	}
	c.bound(tx)
	wanted := c.wanted(tx)
	for _, a := range wanted {
		mac, _ := hosts.Owner(a)
		transfer.Assign(a, mac, tx.snap.Counters)
	}
	// New devices are queued before the ledger is saved: see alerts.go.
	c.alertsDecide(tx)
	if tx.hostsDirty {
		if err := c.store.SaveHosts(hosts); err != nil {
			return nil, c.dbError(err)
		}
	}
	if len(tx.closed) > 0 {
		// history.db first: storing a bucket twice is harmless, losing
		// one is not.
		if err := c.archive(tx); err != nil {
			return nil, c.dbError(err)
		}
	}
	if err := c.store.SaveTransfer(transfer); err != nil {
		return nil, c.dbError(err)
	}
	// The working ledger is saved: a failed commit (flash full or
	// read-only) loses nothing and must not keep the rules from changing.
	var commitErr error
	if tx.commit {
		commitErr = c.commit(tx)
	}
	tx.changes, err = c.current().Sync(ctx, tx.snap, wanted)
	if err != nil {
		return nil, err
	}
	if len(tx.changes.Removed) > 0 {
		// A removed counter can be made again by the packet path (the
		// nftables sets packets fill) before the next read, from zero:
		// its old baseline must go, or that growth would be credited
		// short. Its counts were credited above, from this cycle's read.
		for _, a := range tx.changes.Removed {
			delete(transfer.Baselines, counter.HostKey(counter.Upload, a))
			delete(transfer.Baselines, counter.HostKey(counter.Download, a))
		}
		if err := c.store.SaveTransfer(transfer); err != nil {
			return nil, c.dbError(err)
		}
	}
	c.syncQuotas(ctx, tx)
	c.alertsQuotas(tx)
	if err := c.retire(ctx, tx); err != nil {
		return nil, err
	}
	if commitErr != nil {
		return nil, commitErr
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

// An address that counted bytes while no device owned it waits this long
// for its owner, and at most maxPending such addresses wait; then its bytes
// go to unattributed.
const (
	pendingTTL = 24 * time.Hour
	maxPending = 4096
)

// bound keeps the ledger within its limits (ledger.Bound): devices that
// left long ago expire; past max_devices the idle, longest-unseen go first.
// Their usage stays in the totals as expired devices; evicting a device
// that still has addresses (the table full of active ones) is warned of.
func (c *Core) bound(tx *txn) {
	since := c.periods().Oldest(tx.at, c.settings.Generations).Start.Unix()
	b := ledger.Bound(tx.hosts, tx.transfer, ledger.Limits{MaxDevices: c.settings.MaxDevices, MaxAddrs: ledger.MaxAddrsPerDevice, Since: since})
	tx.transfer.ExpirePending(tx.now-int64(pendingTTL/time.Second), maxPending)
	if !b.Any() {
		return
	}
	tx.hostsDirty = true
	if len(b.Evicted) > 0 {
		tx.warnings = append(tx.warnings, Warning{Code: "device_limit", Message: fmt.Sprintf(
			"more than max_devices (%d) devices: let go of %d that still had addresses, longest unseen first (their bytes are under expired devices); raise max_devices to keep them", c.settings.MaxDevices, len(b.Evicted))})
	}
}

// dbError adds to a failed write in db_dir what it means for the numbers.
func (c *Core) dbError(err error) error {
	return storageHint(err, "db_dir", c.settings.DBDir)
}

// archive moves closed buckets into history.db and prunes it to the
// periods kept.
func (c *Core) archive(tx *txn) error {
	if err := c.archiveHours(tx); err != nil {
		return err
	}
	if !closedDays(tx.closed) {
		return nil // an hour closed: history.db stays as it is
	}
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
	out := make([]netip.Addr, 0, len(tx.hosts.IPs)+len(tx.transfer.Pending))
	for a := range tx.hosts.IPs {
		if lan == nil || lan.Contains(a) {
			out = append(out, a)
		}
	}
	// Addresses counting while their owner is not known yet keep their
	// counters until it is (or they expire): removing one would lose the
	// packets between its last read and its removal at every cycle.
	for a := range tx.transfer.Pending {
		if _, owned := tx.hosts.IPs[a]; !owned && lan != nil && lan.Contains(a) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
