package account

import (
	"context"
	"fmt"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// teardownOthers credits and removes the backends other than the current
// one that the ledger still names (a switch and a disable in one reload).
// Like Teardown it credits into the current buckets.
func (c *Core) teardownOthers(ctx context.Context, hosts *ledger.Hosts, t *ledger.Transfer) error {
	cur := c.Kind().Family()
	stamp := ledger.Stamp{Day: t.Day.Key, Period: t.Period.Key, Now: c.now().Unix()}
	var others []ledger.Retired
	if t.Retired != nil {
		others = append(others, *t.Retired)
	}
	if t.Backend != "" && t.Backend != cur {
		others = append(others, ledger.Retired{Backend: t.Backend, Baselines: t.Baselines})
		t.Baselines = map[counter.Key]ledger.Baseline{}
	}
	if len(others) == 0 {
		return nil
	}
	saved := t.Baselines
	for _, o := range others {
		b, err := c.backendOf(o.Backend)
		if err != nil {
			return err
		}
		snap, err := b.Read(ctx)
		if err != nil {
			return fmt.Errorf("previous backend %s: %w", o.Backend, err)
		}
		t.Baselines = o.Baselines
		if t.Baselines == nil {
			t.Baselines = map[counter.Key]ledger.Baseline{}
		}
		t.Apply(snap.Counters, hosts.Owner, stamp)
		if err := c.store.SaveTransfer(t); err != nil {
			return err
		}
		if err := b.Teardown(ctx); err != nil {
			return fmt.Errorf("remove previous backend %s: %w", o.Backend, err)
		}
	}
	t.Baselines, t.Retired, t.Backend = saved, nil, cur
	return c.store.SaveTransfer(t)
}

// switchBackends handles a change of backend (option backend, or 'auto'
// seeing fw4 appear). Baselines belong to one backend, so:
//  1. the old backend is read once and credited against its own
//     baselines — its final counts, exactly;
//  2. its baselines move to Retired and the current backend starts with
//     none (its counters are new, or were credited as Retired before);
//  3. transact saves, syncs the current backend, then retire() removes
//     the old one's rules and clears Retired.
//
// A crash after the save leaves Retired set: the next run credits the old
// counters' growth against Retired and retires it then. Between the final
// read and the old rules' removal (milliseconds, and only at a switch)
// packets are counted by neither or both backends; nothing else is lost
// or counted twice.
func (c *Core) switchBackends(ctx context.Context, tx *txn) error {
	t := tx.transfer
	cur := c.Kind().Family()
	if t.Backend == "" && len(t.Baselines) > 0 && !c.Kind().IPTables() {
		// Ledgers from before the choice existed hold iptables baselines.
		t.Backend = netfilter.KindIPTablesLegacy.Family()
	}
	if t.Retired != nil {
		b, err := c.creditOther(ctx, tx, t.Retired.Backend, t.Retired.Baselines)
		if err != nil {
			return err
		}
		t.Retired.Baselines = b
	}
	if t.Backend == "" || t.Backend == cur {
		t.Backend = cur
		return nil
	}
	b, err := c.creditOther(ctx, tx, t.Backend, t.Baselines)
	if err != nil {
		return err
	}
	fresh := map[counter.Key]ledger.Baseline{}
	if t.Retired != nil && t.Retired.Backend == cur {
		fresh = t.Retired.Baselines // switched back before the retire finished
	}
	t.Retired = &ledger.Retired{Backend: t.Backend, Baselines: b}
	t.Baselines = fresh
	t.Backend = cur
	tx.warnings = append(tx.warnings, Warning{Code: "backend_switched", Message: fmt.Sprintf("backend switched from %s to %s: totals carried over, old rules removed", t.Retired.Backend, cur)})
	return nil
}

// creditOther reads the backend of a rule family (not the current one)
// and credits its growth since base, returning the moved baselines.
func (c *Core) creditOther(ctx context.Context, tx *txn, family string, base map[counter.Key]ledger.Baseline) (map[counter.Key]ledger.Baseline, error) {
	b, err := c.backendOf(family)
	if err != nil {
		return nil, err
	}
	snap, err := b.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("previous backend %s: %w", family, err)
	}
	if base == nil {
		base = map[counter.Key]ledger.Baseline{}
	}
	t := tx.transfer
	saved := t.Baselines
	t.Baselines = base
	grew, closed := t.Apply(snap.Counters, tx.hosts.Owner, c.stamp(tx.at))
	out := t.Baselines
	t.Baselines = saved
	if closed.Any() {
		tx.closed = append(tx.closed, closed)
	}
	for mac := range grew {
		tx.hosts.Device(mac, tx.now).LastSeen = tx.now
		tx.hostsDirty = true
	}
	return out, nil
}

// retire removes the retired backend's rules after the current one's are
// in place, then forgets it.
func (c *Core) retire(ctx context.Context, tx *txn) error {
	r := tx.transfer.Retired
	if r == nil {
		return nil
	}
	b, err := c.backendOf(r.Backend)
	if err != nil {
		return err
	}
	if err := b.Teardown(ctx); err != nil {
		return fmt.Errorf("remove previous backend %s: %w", r.Backend, err)
	}
	tx.transfer.Retired = nil
	if err := c.store.SaveTransfer(tx.transfer); err != nil {
		return fmt.Errorf("save after backend switch: %w", err)
	}
	return nil
}
