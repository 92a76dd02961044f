package daemon

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/handoff"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// TestDaemonAppliesHandedOverEvents: what a previous daemon took and did
// not apply (its spool, with a damaged line) is applied at start, in
// order; events handed over while it runs are applied through the core
// (rules made and removed); the spool is empty after.
func TestDaemonAppliesHandedOverEvents(t *testing.T) {
	dir, s := testSettings(t)
	if err := os.MkdirAll(s.DBDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	mac2, _ := macaddr.Parse("02:77:00:00:00:02")
	ip1, ip2, ip3 := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.12"), netip.MustParseAddr("10.77.0.13")
	sp, _, err := handoff.OpenSpool(s.DBDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []handoff.Message{
		{Action: "arp-add", MAC: mac, Addr: ip1},
		{Action: "add", MAC: mac2, Addr: ip2, Hostname: "printer"},
		{Action: "arp-add", MAC: mac, Addr: ip3},
		{Action: "arp-del", MAC: mac, Addr: ip3}, // after its add: gone
	} {
		if err := sp.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	never := make(chan time.Time)
	go func() {
		done <- Run(ctx, Options{Core: core, ConfigDir: dir, Log: testWriter{t},
			Neighbours: func() ([]neigh.Entry, error) { return nil, nil },
			Watch:      func(ctx context.Context, fn func(neigh.Event)) error { <-ctx.Done(); return nil },
			Tick:       func(time.Duration) (<-chan time.Time, func()) { return never, func() {} }})
	}()
	rules := func(ip netip.Addr, want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.Has(counter.HostKey(counter.Download, ip)) != want {
			if time.Now().After(deadline) {
				t.Fatalf("rules for %v: want %v", ip, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	rules(ip1, true)
	rules(ip2, true)
	rules(ip3, false)
	h, _, err := ledger.Store{Dir: s.DBDir}.Peek()
	if err != nil {
		t.Fatal(err)
	}
	if d := h.Devices[mac2]; d == nil || d.Hostname != "printer" {
		t.Fatalf("the replayed DHCP event's name: %+v", d)
	}
	if _, ok := h.IPs[ip3]; ok {
		t.Fatal("the replayed arp-del did not follow its arp-add")
	}

	// While it runs: this process is the daemon the socket answers for.
	deadline := time.Now().Add(10 * time.Second)
	for handoff.CheckSocket(s.DBDir) != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := handoff.Send(ctx, s.DBDir, os.Getpid(), handoff.Message{Action: "arp-add", MAC: mac2, Addr: ip3}); err != nil {
		t.Fatal(err)
	}
	rules(ip3, true)
	if err := handoff.Send(ctx, s.DBDir, os.Getpid(), handoff.Message{Action: "arp-del", MAC: mac2, Addr: ip3}); err != nil {
		t.Fatal(err)
	}
	rules(ip3, false)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(s.DBDir + "/" + handoff.SpoolName); err != nil || st.Size() != 0 {
		t.Fatalf("spool after the daemon: %v %v", st, err)
	}
	if _, err := os.Lstat(s.DBDir + "/" + handoff.SocketName); !os.IsNotExist(err) {
		t.Fatalf("socket left after the daemon stopped: %v", err)
	}
}
