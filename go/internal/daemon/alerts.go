package daemon

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/logline"
)

// alertPoll is how often the daemon looks at the outbox: one stat. Alerts
// come from its own collections and from doors that ran meanwhile (a DHCP
// event's new device); a door that sees the daemon's mark leaves the
// delivery to it.
const alertPoll = time.Second

// alertStuck is how long the daemon leaves an outbox it could not update
// (db_dir full or read-only): what it delivered stays queued and would be
// delivered again at every poll.
const alertStuck = time.Minute

// delivererHook adjusts the deliverer before it starts (Options).
type delivererHook = func(*alert.Deliverer)

// startAlerts delivers the outbox in a goroutine of its own until ctx
// ends: a script that takes its time or a webhook that hangs holds up no
// collection. The returned function waits for it to end.
func startAlerts(ctx context.Context, o Options, lg *logline.Logger) func() {
	s := o.Core.Settings()
	d := &alert.Deliverer{Queue: alert.Queue{Dir: s.DBDir}, Webhook: s.Alerts.Webhook, Log: lg, Now: o.Now}
	if o.deliverer != nil {
		o.deliverer(d)
	}
	tickFn := o.alertTick
	if tickFn == nil {
		tickFn = realTick
	}
	tick, stop := tickFn(alertPoll)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stop()
		var next time.Time // a webhook retry waiting
		var seen os.FileInfo
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
			}
			st, err := os.Stat(d.Queue.Path())
			if err != nil || !d.Queue.Pending() {
				next, seen = time.Time{}, st
				continue
			}
			changed := seen == nil || !st.ModTime().Equal(seen.ModTime()) || st.Size() != seen.Size()
			if !changed && !next.IsZero() && o.Now().Before(next) {
				continue
			}
			n, err := d.Drain(ctx)
			switch {
			case errors.Is(err, alert.ErrBusy):
				// A door's deliverer is at it; look again next tick.
				continue
			case err != nil && ctx.Err() == nil:
				lg.Errorf("alerts: %v", err)
				n = o.Now().Add(alertStuck)
			}
			next = n
			seen, _ = os.Stat(d.Queue.Path())
		}
	}()
	return func() { <-done }
}
