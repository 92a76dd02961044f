package account

import (
	"context"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
)

// Bytes is a device's forwarded bytes each way, as its counters sum.
type Bytes struct {
	Down, Up uint64
}

// Sample reads every device's current counter sums without the lock: a
// read changes nothing, and the live feed only needs differences between
// successive samples. Counters whose address no device owns are left out.
func (c *Core) Sample(ctx context.Context) (map[macaddr.MAC]Bytes, error) {
	hosts, _, err := c.peek()
	if err != nil {
		return nil, err
	}
	snap, err := c.current().Read(ctx)
	if err != nil {
		return nil, err
	}
	out := map[macaddr.MAC]Bytes{}
	for k, v := range snap.Counters {
		mac, ok := hosts.Owner(k.Addr)
		if !ok {
			continue
		}
		s := out[mac]
		switch k.Kind {
		case counter.Download:
			s.Down += v.Bytes
		case counter.Upload:
			s.Up += v.Bytes
		default:
			continue
		}
		out[mac] = s
	}
	return out, nil
}
