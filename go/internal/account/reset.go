package account

import (
	"context"
	"sort"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
)

// ResetEntry is what one reset zeroed.
type ResetEntry struct {
	MAC string `json:"mac"`
	ledger.Usage
}

// Reset collects first, then zeroes the device's totals (all devices when
// only is nil) in the same locked cycle: bytes counted before the reset are
// gone for good, bytes after it keep counting from the kernel baselines.
func (c *Core) Reset(ctx context.Context, only *macaddr.MAC) ([]ResetEntry, error) {
	if !c.settings.Enabled {
		return nil, ErrDisabled
	}
	var zeroed map[macaddr.MAC]ledger.Usage
	_, err := c.transact(ctx, func(tx *txn) error {
		var macs []macaddr.MAC
		if only != nil {
			macs = []macaddr.MAC{*only}
		}
		zeroed = tx.transfer.Reset(macs)
		tx.resetQuotas(macs)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []ResetEntry{}
	for m, u := range zeroed {
		if m == ledger.ExpiredKey {
			continue // the expired devices' total, zeroed with all
		}
		out = append(out, ResetEntry{MAC: m.String(), Usage: u})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out, nil
}
