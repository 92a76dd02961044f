package account

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
)

// The working ledger lives in db_dir (tmpfs on OpenWrt: no flash wear, but
// gone at reboot). Commit copies it to persist_dir on flash; the first run
// after a boot — whichever door it is — merges that copy back. Flash is
// written only by commits.

// Commit collects, then copies the ledger to persist_dir, under the lock.
func (c *Core) Commit(ctx context.Context) error {
	if !c.settings.Enabled {
		return ErrDisabled
	}
	_, err := c.transact(ctx, func(tx *txn) error {
		tx.commit = true
		return nil
	})
	return err
}

// Persist copies the saved ledger to persist_dir without reading or
// changing the kernel (for a daemon stopping after accounting was
// switched off and its rules removed).
func (c *Core) Persist(ctx context.Context) error {
	l, err := lock.Acquire(ctx, c.lockOptions())
	if err != nil {
		return err
	}
	defer l.Release()
	now := c.now()
	hosts, transfer, _, err := c.store.Load(now)
	if err != nil {
		return err
	}
	return c.commit(&txn{hosts: hosts, transfer: transfer, now: now.Unix(), at: now})
}

// LastCommit returns when the committed copy was written (0: never).
func (c *Core) LastCommit() int64 {
	_, t, err := ledger.Store{Dir: c.settings.PersistDir}.Peek()
	if err != nil {
		return 0
	}
	return t.SavedAt
}

// commit copies the ledger tx holds to persist_dir. It never overwrites a
// file a newer version wrote there, and never replaces the committed
// history with a damaged RAM one (that history stays as committed, with
// a warning).
func (c *Core) commit(tx *txn) error {
	st := ledger.Store{Dir: c.settings.PersistDir}
	if err := st.Ensure(); err != nil {
		return fmt.Errorf("commit: %w", storageHint(err, "persist_dir", c.settings.PersistDir))
	}
	if err := st.CheckNotNewer(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	var h *ledger.History
	if c.store.HasHistory() {
		var err error
		h, err = c.store.ReadHistory()
		if errors.Is(err, ledger.ErrDamaged) {
			tx.warnings = append(tx.warnings, Warning{Code: "history_damaged", Message: err.Error() + "; the history on flash was kept as it was"})
			h = nil
		} else if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	cp := *tx.transfer
	cp.Restored = false
	cp.SavedAt = tx.now
	if err := st.SaveHosts(tx.hosts); err != nil {
		return fmt.Errorf("commit: %w", storageHint(err, "persist_dir", c.settings.PersistDir))
	}
	if err := st.SaveTransfer(&cp); err != nil {
		return fmt.Errorf("commit: %w", storageHint(err, "persist_dir", c.settings.PersistDir))
	}
	if h != nil {
		if err := st.SaveHistory(h); err != nil {
			return fmt.Errorf("commit: %w", storageHint(err, "persist_dir", c.settings.PersistDir))
		}
	}
	if err := c.commitHours(tx, st); err != nil {
		return err
	}
	if err := c.commitAlerts(st.Dir); err != nil {
		return fmt.Errorf("commit: %w", storageHint(err, "persist_dir", c.settings.PersistDir))
	}
	return nil
}

// storageHint says what a full or read-only directory means for the
// numbers: the files there are as they were, and nothing counted is lost.
func storageHint(err error, option, dir string) error {
	var what string
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		what = "is full"
	case errors.Is(err, syscall.EROFS):
		what = "is read-only"
	default:
		return err
	}
	return fmt.Errorf("%w (%s %s %s: its files are as they were, and nothing counted is lost: the kernel counters keep it for the next run that can write)", err, option, dir, what)
}

// historyAsClosed turns a committed history into buckets to store again.
func historyAsClosed(h *ledger.History) []ledger.Closed {
	var out []ledger.Closed
	for k, u := range h.Days {
		out = append(out, ledger.Closed{Day: &ledger.Bucket{Key: k, Usage: u}})
	}
	for k, u := range h.Periods {
		out = append(out, ledger.Closed{Period: &ledger.Bucket{Key: k, Usage: u}})
	}
	return out
}

// restore merges the committed copy into a RAM ledger that does not hold it
// yet. Totals, router counts and history add up; device names are kept.
// Addresses and baselines come back only within the same boot: after a
// reboot the kernel counters restart, and hosts that left while the
// router was down would never get an arp-del.
func (c *Core) restore(tx *txn) {
	boot := c.bootID()
	retry := false
	defer func() {
		if retry {
			return
		}
		tx.transfer.Restored = true
		tx.transfer.BootID = boot
		tx.hostsDirty = true
	}()
	if c.settings.PersistDir == "" {
		return
	}
	cp, err := ledger.Store{Dir: c.settings.PersistDir}.LoadCopy(tx.at)
	if err != nil {
		// A newer version's copy, or one that cannot be read: restore
		// nothing and try again next run, so that it is never merged
		// into nothing and then overwritten (commit refuses too).
		code := "restore_failed"
		if errors.Is(err, ledger.ErrNewer) {
			code = "flash_newer"
		}
		tx.warnings = append(tx.warnings, Warning{Code: code, Message: err.Error() + "; the copy on flash was not restored"})
		retry = true
		return
	}
	for _, r := range cp.Recovered {
		tx.warnings = append(tx.warnings, Warning{Code: "flash_recovered", Message: "copy on flash: " + r.String() + "; the rest was restored"})
	}
	c.restoreAlerts(tx, c.settings.PersistDir)
	ph, pt := cp.Hosts, cp.Transfer
	same := boot != "" && pt.BootID == boot
	if closed := tx.transfer.Merge(pt, same); closed.Any() {
		tx.closed = append(tx.closed, closed)
	}
	// The committed history comes back too; archive() writes it with any
	// bucket closed just now.
	if h := cp.History; len(h.Periods)+len(h.Days) > 0 {
		tx.closed = append(tx.closed, historyAsClosed(h)...)
	}
	if len(cp.Hours.Hours) > 0 {
		tx.closed = append(tx.closed, ledger.Closed{Hours: cp.Hours.Hours})
	}
	for mac, d := range ph.Devices {
		cur := tx.hosts.Devices[mac]
		if cur == nil {
			cp := *d
			tx.hosts.Devices[mac] = &cp
			continue
		}
		if cur.Hostname == "" {
			cur.Hostname = d.Hostname
		}
		if d.FirstSeen != 0 && d.FirstSeen < cur.FirstSeen {
			cur.FirstSeen = d.FirstSeen
		}
		if d.LastSeen > cur.LastSeen {
			cur.LastSeen = d.LastSeen
		}
	}
	if same {
		for a, e := range ph.IPs {
			if _, ok := tx.hosts.IPs[a]; !ok {
				tx.hosts.IPs[a] = e
			}
		}
	}
}
