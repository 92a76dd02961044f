package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
)

func TestNeighboursOffer(t *testing.T) {
	n := newNeighbours()
	m, _ := macaddr.Parse("02:77:00:00:00:01")
	m2, _ := macaddr.Parse("02:77:00:00:00:02")
	a := netip.MustParseAddr("10.77.0.11")
	if n.offer(neigh.Event{Entry: neigh.Entry{Addr: a}, Gone: true}) {
		t.Error("gone for an address never handed over: queued")
	}
	if !n.offer(neigh.Event{Entry: neigh.Entry{MAC: m, Addr: a}}) {
		t.Fatal("a new neighbour: not queued")
	}
	n.remember(n.adds)
	n.adds = nil
	if n.offer(neigh.Event{Entry: neigh.Entry{MAC: m, Addr: a}}) {
		t.Error("the same neighbour again (REACHABLE, STALE, ...): queued")
	}
	if !n.offer(neigh.Event{Entry: neigh.Entry{MAC: m2, Addr: a}}) {
		t.Error("the address under another MAC: not queued")
	}
	if !n.offer(neigh.Event{Entry: neigh.Entry{Addr: a}, Gone: true}) || len(n.gone) != 1 {
		t.Error("gone for a known address: not queued")
	}
}

// The daemon applies the kernel's announcements itself: a new neighbour
// gets its rules, a deleted one loses them, with no event from dnsmasq.
func TestDaemonAppliesNeighbourAnnouncements(t *testing.T) {
	dir, s := testSettings(t)
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, nil)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	announce := make(chan neigh.Event)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	never := make(chan time.Time)
	go func() {
		done <- Run(ctx, Options{Core: core, ConfigDir: dir, Log: testWriter{t},
			Neighbours: func() ([]neigh.Entry, error) { return nil, nil },
			Watch: func(ctx context.Context, fn func(neigh.Event)) error {
				for {
					select {
					case <-ctx.Done():
						return nil
					case e := <-announce:
						fn(e)
					}
				}
			},
			Tick: func(time.Duration) (<-chan time.Time, func()) { return never, func() {} }})
	}()
	has := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.Has(counter.HostKey(counter.Download, ip)) != want {
			if time.Now().After(deadline) {
				t.Fatalf("rules for %v: want %v", ip, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	announce <- neigh.Event{Entry: neigh.Entry{MAC: mac, Addr: ip}}
	has(true)
	announce <- neigh.Event{Entry: neigh.Entry{Addr: ip}, Gone: true}
	has(false)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
