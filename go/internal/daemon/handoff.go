package daemon

import (
	"context"
	"fmt"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/handoff"
	"github.com/transferometer/transferometer/internal/logline"
	"github.com/transferometer/transferometer/internal/neigh"
)

// While the daemon runs, a hook (dnsmasq's dhcp-script, the hotplug
// handlers) hands its event over (internal/handoff) instead of running a
// whole locked cycle in its own process: the daemon makes the event
// durable in its spool, acknowledges, and applies it through the core
// under the lock like the neighbour announcements (gathered for
// neighbourSettle, the additions in one Seed). A spool left by a crash is
// applied at start, before the neighbour table is read.

type handoffs struct {
	spool *handoff.Spool
	ready chan struct{}
	stop  func() // stops the listener and waits for its connections
}

// startHandoff replays nothing by itself: apply does. A daemon that cannot
// listen (or open its spool) still counts; the hooks then run their events
// themselves, as without a daemon.
func startHandoff(ctx context.Context, c *account.Core, lg *logline.Logger) *handoffs {
	dir := c.Settings().DBDir
	sp, dropped, err := handoff.OpenSpool(dir)
	if err != nil {
		lg.Warningf("%v (hooks run their events themselves)", err)
		return nil
	}
	if dropped > 0 {
		lg.Warningf("handoff spool: %d damaged line(s) dropped (never acknowledged: their hooks ran them)", dropped)
	}
	h := &handoffs{spool: sp, ready: make(chan struct{}, 1), stop: func() {}}
	srv, err := handoff.Listen(dir)
	if err != nil {
		lg.Warningf("%v (hooks run their events themselves)", err)
		return h
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(sctx, func(m handoff.Message) error {
			if err := sp.Append(m); err != nil {
				return err
			}
			select {
			case h.ready <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	h.stop = func() { cancel(); <-done }
	return h
}

// close stops taking events; what waits in the spool stays for the next
// start.
func (h *handoffs) close() {
	if h == nil {
		return
	}
	h.stop()
	h.spool.Close()
}

// readyC signals events taken (nil without a spool: never ready).
func (h *handoffs) readyC() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.ready
}

// apply applies what waits in the spool, in order, and removes it from
// the spool once applied. On an error it stops there: the rest stays
// spooled and is tried again at the next event or collection.
func (h *handoffs) apply(ctx context.Context, c *account.Core, nb *neighbours, lg *logline.Logger, w *warnings) {
	if h == nil {
		return
	}
	batch := h.spool.Pending()
	done := 0
	for done < len(batch) {
		ev, err := handoffEvent(batch[done])
		if err != nil {
			lg.Warningf("handoff: %v (dropped)", err)
			done++
			continue
		}
		if ev.Kind == account.NeighAdd {
			// A run of additions is one locked run, as the kernel's.
			var adds []neigh.Entry
			j := done
			for ; j < len(batch) && batch[j].Action == "arp-add"; j++ {
				adds = append(adds, neigh.Entry{MAC: batch[j].MAC, Addr: batch[j].Addr})
			}
			out, err := c.Seed(ctx, adds)
			if err != nil {
				if ctx.Err() == nil {
					lg.Errorf("handed-over events: %v", err)
				}
				break
			}
			w.note(out.Warnings)
			nb.remember(adds)
			done = j
			continue
		}
		out, err := c.Handle(ctx, ev)
		if err != nil {
			if ctx.Err() == nil {
				lg.Errorf("handed-over %s: %v", batch[done].Action, err)
			}
			break
		}
		w.note(out.Warnings)
		if ev.Kind == account.NeighDel && nb.known[ev.Addr] == ev.MAC {
			delete(nb.known, ev.Addr)
		}
		done++
	}
	if err := h.spool.Done(done); err != nil {
		lg.Errorf("%v", err)
	}
}

// pending says whether events wait (one failed to apply, or came while
// the daemon was down).
func (h *handoffs) pending() bool { return h != nil && h.spool.Len() > 0 }

// handoffEvent is the core's event for a handed-over message, checked as
// the hook checks its arguments.
func handoffEvent(m handoff.Message) (account.Event, error) {
	kind, ok := account.HookKind(m.Action)
	if !ok {
		return account.Event{}, fmt.Errorf("unknown action %q", m.Action)
	}
	ev := account.Event{Kind: kind, MAC: m.MAC, Addr: m.Addr}
	if m.Hostname != "" {
		h, err := account.ParseHostname(m.Hostname)
		if err != nil {
			return ev, err
		}
		ev.Hostname = h
	}
	return ev, nil
}
