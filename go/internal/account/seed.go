package account

import (
	"context"

	"github.com/transferometer/transferometer/internal/neigh"
)

// Seed gives rules to the LAN hosts already in the kernel's neighbour
// table, in one locked run: at daemon start dnsmasq's first rescan can be
// 90 s away, and its startup scan may have run before our hook existed.
func (c *Core) Seed(ctx context.Context, entries []neigh.Entry) (Outcome, error) {
	if !c.settings.Enabled {
		return Outcome{Disabled: true}, c.Teardown(ctx)
	}
	var lan []neigh.Entry
	for _, e := range entries {
		if !e.MAC.IsDevice() {
			continue
		}
		if ok, err := c.IsLAN(e.Addr); err != nil {
			return Outcome{}, err
		} else if ok {
			lan = append(lan, e)
		}
	}
	tx, err := c.transact(ctx, func(tx *txn) error {
		for _, e := range lan {
			c.addHost(tx, Event{Kind: NeighAdd, MAC: e.MAC, Addr: e.Addr})
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Changes: tx.changes, Warnings: tx.warnings}, nil
}
