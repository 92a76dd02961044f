package daemon

import (
	"context"
	"net/netip"
	"sync"
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
	stop := runDaemon(t, Options{Core: core, ConfigDir: dir,
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
		}})
	announce <- neigh.Event{Entry: neigh.Entry{MAC: mac, Addr: ip}}
	waitRules(t, f, ip, true)
	announce <- neigh.Event{Entry: neigh.Entry{Addr: ip}, Gone: true}
	waitRules(t, f, ip, false)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// An announcement the kernel dropped (or the feed could not queue) is
// repaired by the next collection, which reads the table whole.
func TestLostAnnouncementRepairedAtCollection(t *testing.T) {
	dir, s := testSettings(t)
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, nil)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	var table []neigh.Entry // what the kernel's table holds
	var mu sync.Mutex
	ticks := make(chan time.Time)
	stop := runDaemon(t, Options{Core: core, ConfigDir: dir,
		Neighbours: func() ([]neigh.Entry, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]neigh.Entry(nil), table...), nil
		},
		// The watch hears nothing: every announcement is lost.
		Watch: func(ctx context.Context, fn func(neigh.Event)) error { <-ctx.Done(); return nil },
		Tick:  tickOn(s.RefreshInterval, ticks)})
	ticks <- time.Now() // started, with an empty table
	mu.Lock()
	table = []neigh.Entry{{MAC: mac, Addr: ip}}
	mu.Unlock()
	if f.Has(counter.HostKey(counter.Download, ip)) {
		t.Fatal("rules before any collection")
	}
	ticks <- time.Now() // one refresh_interval later
	ticks <- time.Now() // taken only once the collection before it is done
	if !f.Has(counter.HostKey(counter.Download, ip)) {
		t.Fatal("the lost neighbour was not repaired at the collection")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
