package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/handoff"
)

// handOver gives a hook's event to the running daemon (internal/handoff)
// instead of running the locked cycle in this process, and reports whether
// the hook is done: the daemon acknowledged the event as durable, or the
// event is one the core ignores (no device's MAC, an address outside the
// LAN: exit 0, nothing changed, as without a daemon). false means run it
// here, as without a daemon: no daemon, settings the usual path must
// report, or a daemon that did not take it in time (then said on stderr).
func handOver(ctx context.Context, cmd string, ev account.Event, stderr io.Writer) bool {
	dir := config.Dir()
	s, err := config.Load(dir)
	if err != nil || !s.Enabled {
		return false
	}
	pid, running := account.RunningDaemon(s.DBDir)
	if !running {
		return false
	}
	ok, err := account.Admits(s, dir, ev)
	if err != nil {
		return false
	}
	if !ok {
		return true
	}
	err = handoff.Send(ctx, s.DBDir, pid, handoff.Message{Action: cmd, MAC: ev.MAC, Addr: ev.Addr, Hostname: ev.Hostname})
	if err == nil {
		return true
	}
	if !errors.Is(err, handoff.ErrNoDaemon) {
		fmt.Fprintf(stderr, "transferometer: warning: %s; applying the event here\n", oneLine(err.Error()))
	}
	return false
}
