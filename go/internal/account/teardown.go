package account

import (
	"context"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
)

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
	if err := c.teardownQuotas(ctx); err != nil {
		return err
	}
	snap, err := c.current().Read(ctx)
	if err != nil {
		return err
	}
	if len(snap.Counters) == 0 && len(snap.Hosts()) == 0 {
		return nil // nothing of ours in the kernel
	}
	// No history here: a rollover is archived by the next normal run.
	transfer.Apply(snap.Counters, hosts.Owner, ledger.Stamp{Day: transfer.Day.Key, Period: transfer.Period.Key, Now: c.now().Unix()})
	if err := c.store.SaveTransfer(transfer); err != nil {
		return err
	}
	// Rules vanish here; their baselines are dropped by the next Apply.
	return c.current().Teardown(ctx)
}
