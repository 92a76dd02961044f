package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// With quotas set, the daemon collects at the router's midnight (its
// one-second tick sees the day change), not only at refresh_interval: the
// kernel's objects start the new day from the ledger then.
func TestMidnightCollectsForQuotas(t *testing.T) {
	dir, s := testSettings(t)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	s.Quotas = []config.Quota{{Name: "daily", MACs: []macaddr.MAC{mac}, Limit: 1000, Per: config.QuotaPerDay,
		Direction: config.QuotaBoth, Action: config.QuotaBlock}}
	clk := &clock{t: time.Date(2026, 11, 25, 23, 59, 58, 0, time.Local)}
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, clk.now)
	secs, never := make(chan time.Time), make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Core: core, ConfigDir: dir, Now: clk.now, Log: testWriter{t},
			Neighbours: func() ([]neigh.Entry, error) { return []neigh.Entry{{MAC: mac, Addr: ip}}, nil },
			Tick: func(d time.Duration) (<-chan time.Time, func()) {
				if d == time.Second {
					return secs, func() {}
				}
				return never, func() {}
			},
		})
	}()
	rule := func() netfilter.QuotaRule {
		// A send returns once the loop took it; a second one, once the
		// first was handled.
		secs <- clk.now()
		secs <- clk.now()
		if len(f.QuotaRules) != 1 {
			t.Fatalf("kernel quota rules %+v", f.QuotaRules)
		}
		return f.QuotaRules[0]
	}
	if r := rule(); r.Used != 0 || r.Name != "q_daily" {
		t.Fatalf("at start: %+v", r)
	}
	for !f.Traffic(counter.HostKey(counter.Download, ip), 2, 2000) {
		time.Sleep(time.Millisecond)
	}
	clk.add(time.Second) // 23:59:59: no collection
	if r := rule(); r.Used != 0 {
		t.Fatalf("before midnight: %+v, want no collection", r)
	}
	clk.add(time.Second) // midnight
	if r := rule(); !r.Fresh || r.Used != 2000 {
		t.Fatalf("at midnight: %+v, want a collection starting the new day's object", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
