package account

import (
	"context"
	"fmt"

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

func (c *Core) commit(tx *txn) error {
	st := ledger.Store{Dir: c.settings.PersistDir}
	if err := st.Ensure(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	cp := *tx.transfer
	cp.Restored = false
	cp.SavedAt = tx.now
	if err := st.SaveHosts(tx.hosts); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := st.SaveTransfer(&cp); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c.store.HasHistory() {
		h, err := c.store.PeekHistory()
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if err := st.SaveHistory(h); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
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
	defer func() {
		tx.transfer.Restored = true
		tx.transfer.BootID = boot
		tx.hostsDirty = true
	}()
	if c.settings.PersistDir == "" {
		return
	}
	ph, pt, err := ledger.Store{Dir: c.settings.PersistDir}.Peek()
	if err != nil {
		tx.warnings = append(tx.warnings, Warning{Code: "restore_failed", Message: err.Error()})
		return
	}
	same := boot != "" && pt.BootID == boot
	if closed := tx.transfer.Merge(pt, same); closed.Any() {
		tx.closed = append(tx.closed, closed)
	}
	// The committed history comes back too; archive() writes it with any
	// bucket closed just now.
	if ph, err := (ledger.Store{Dir: c.settings.PersistDir}).PeekHistory(); err == nil && len(ph.Periods)+len(ph.Days) > 0 {
		tx.closed = append(tx.closed, historyAsClosed(ph)...)
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
