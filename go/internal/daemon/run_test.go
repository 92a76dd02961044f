package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// runDaemon runs Run(o) in the background (Log to the test, no ticks
// unless o.Tick says otherwise) and returns stop, which cancels it and
// returns Run's error. A test that fails before stop still stops it: a
// daemon left writing into the test's directories fails its cleanup.
func runDaemon(t *testing.T, o Options) (stop func() error) {
	t.Helper()
	if o.Log == nil {
		o.Log = testWriter{t}
	}
	if o.Tick == nil {
		o.Tick = tickOn(0, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// tickOn is a Tick that delivers ticks for the period every and never
// fires for any other.
func tickOn(every time.Duration, ticks chan time.Time) func(time.Duration) (<-chan time.Time, func()) {
	never := make(chan time.Time)
	return func(d time.Duration) (<-chan time.Time, func()) {
		if ticks != nil && d == every {
			return ticks, func() {}
		}
		return never, func() {}
	}
}

// waitFor polls cond until it holds, and fails the test if it does not
// within a bound generous for a loaded machine or qemu-user.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRules waits until ip's download rule is there (want) or gone.
func waitRules(t *testing.T, f *netfilter.Fake, ip netip.Addr, want bool) {
	t.Helper()
	what := "rules for " + ip.String() + " removed"
	if want {
		what = "rules for " + ip.String() + " made"
	}
	waitFor(t, what, func() bool {
		return f.Has(counter.HostKey(counter.Download, ip)) == want
	})
}
