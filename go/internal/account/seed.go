package account

import (
	"context"

	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
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

// Sample reads every device's current counter sums without the lock: a
// read changes nothing, and the live feed only needs differences between
// successive samples. Counters whose address no device owns are left out.
func (c *Core) Sample(ctx context.Context) (map[macaddr.MAC][2]uint64, error) {
	hosts, _, err := c.peek()
	if err != nil {
		return nil, err
	}
	snap, err := c.be().Read(ctx)
	if err != nil {
		return nil, err
	}
	out := map[macaddr.MAC][2]uint64{}
	for k, v := range snap.Counters {
		mac, ok := hosts.Owner(k.Addr)
		if !ok {
			continue
		}
		s := out[mac]
		switch k.Kind {
		case netfilter.Download:
			s[0] += v.Bytes
		case netfilter.Upload:
			s[1] += v.Bytes
		default:
			continue
		}
		out[mac] = s
	}
	return out, nil
}
