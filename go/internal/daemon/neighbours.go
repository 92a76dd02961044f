package daemon

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/logline"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
)

// While the daemon runs it is the one that hears of neighbours: the kernel
// announces each one it learns or deletes (rtnetlink), and the daemon
// applies them in-process through the core, under the same lock as every
// door, with no process launched. dnsmasq rescans at most every 90 s; the
// kernel learns a neighbour with its first packet. A lost announcement
// (the kernel drops them when a listener falls behind) is repaired at the
// next collection, which reads the whole table.

// neighbourSettle gathers a burst of announcements (a host's IPv4 and
// IPv6 addresses, a switch of Wi-Fi clients) into one locked run.
const neighbourSettle = 5 * time.Millisecond

// maxNeighbourQueue bounds the announcements waiting for the loop; past
// it they are dropped and the next collection's full read repairs them.
const maxNeighbourQueue = 4096

// maxKnown bounds the addresses remembered as already handed over.
const maxKnown = 65536

// neighbourFeed runs watch until ctx ends, restarting it after an error
// (an overrun included: each restart asks for a full read through resync).
type neighbourFeed struct {
	events chan neigh.Event
	resync chan struct{}
}

func startNeighbourFeed(ctx context.Context, watch func(context.Context, func(neigh.Event)) error, lg *logline.Logger) *neighbourFeed {
	f := &neighbourFeed{events: make(chan neigh.Event, maxNeighbourQueue), resync: make(chan struct{}, 1)}
	go func() {
		backoff := time.Second
		for ctx.Err() == nil {
			err := watch(ctx, func(e neigh.Event) {
				select {
				case f.events <- e:
				default:
					f.ask()
				}
			})
			if ctx.Err() != nil {
				return
			}
			if err != nil && !errors.Is(err, neigh.ErrOverrun) {
				lg.Warningf("neighbour watch: %v (the table is read every refresh_interval instead)", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				if backoff < time.Minute {
					backoff *= 2
				}
			}
			f.ask()
		}
	}()
	return f
}

func (f *neighbourFeed) ask() {
	select {
	case f.resync <- struct{}{}:
	default:
	}
}

// neighbours gathers announcements and hands them to the core, skipping
// the ones that change nothing (a neighbour going REACHABLE, STALE and
// back is announced every time).
type neighbours struct {
	known map[netip.Addr]macaddr.MAC
	adds  []neigh.Entry
	gone  []netip.Addr
	// unreadable: the last read of the table failed (said once, not at
	// every collection).
	unreadable bool
}

func newNeighbours() *neighbours { return &neighbours{known: map[netip.Addr]macaddr.MAC{}} }

// offer queues e and reports whether it needs applying.
func (n *neighbours) offer(e neigh.Event) bool {
	if e.Gone {
		if _, ok := n.known[e.Addr]; !ok {
			return false
		}
		n.gone = append(n.gone, e.Addr)
		return true
	}
	if m, ok := n.known[e.Addr]; ok && m == e.MAC {
		return false
	}
	n.adds = append(n.adds, e.Entry)
	return true
}

// apply hands what was queued to the core: the additions in one locked
// run, each deletion in its own.
func (n *neighbours) apply(ctx context.Context, c *account.Core, lg *logline.Logger, w *warnings) {
	adds, gone := n.adds, n.gone
	n.adds, n.gone = nil, nil
	if len(adds) > 0 {
		out, err := c.Seed(ctx, adds)
		if err != nil {
			if ctx.Err() == nil {
				lg.Errorf("neighbours: %v", err)
			}
			return // not remembered: the next collection's read retries
		}
		w.note(out.Warnings)
		n.remember(adds)
	}
	for _, a := range gone {
		if _, err := c.Handle(ctx, account.Event{Kind: account.NeighGone, Addr: a}); err != nil {
			if ctx.Err() == nil {
				lg.Errorf("neighbour %s gone: %v", a, err)
			}
			continue
		}
		delete(n.known, a)
	}
}

// reconcile reads the whole table and applies it in one run that is also
// the collection: a lost announcement is repaired within one interval.
func (n *neighbours) reconcile(ctx context.Context, o Options, lg *logline.Logger, w *warnings, what string) bool {
	entries, err := o.Neighbours()
	if err != nil {
		if !n.unreadable {
			lg.Warningf("neighbour table: %v (dnsmasq's events still come)", err)
		}
		n.unreadable = true
		return collect(ctx, o.Core, lg, w, what)
	}
	n.unreadable = false
	out, err := o.Core.Seed(ctx, entries)
	if err != nil {
		if ctx.Err() == nil {
			lg.Errorf("%s: %v", what, err)
		}
		return false
	}
	w.note(out.Warnings)
	n.known = map[netip.Addr]macaddr.MAC{}
	n.remember(entries)
	return true
}

func (n *neighbours) remember(es []neigh.Entry) {
	if len(n.known)+len(es) > maxKnown {
		n.known = map[netip.Addr]macaddr.MAC{}
	}
	for _, e := range es {
		n.known[e.Addr] = e.MAC
	}
}
