package daemon

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

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
	stop := runDaemon(t, Options{Core: core, ConfigDir: dir,
		Neighbours: func() ([]neigh.Entry, error) { return nil, nil },
		Watch:      func(ctx context.Context, fn func(neigh.Event)) error { <-ctx.Done(); return nil }})
	// The replay is done when the spool is emptied, after the last event:
	// ip3's rules are absent before its arp-add as after its arp-del, so
	// only the spool says the replay has got past both.
	spool := filepath.Join(s.DBDir, handoff.SpoolName)
	waitFor(t, "the spool replayed and emptied", func() bool {
		st, err := os.Stat(spool)
		return err == nil && st.Size() == 0
	})
	for ip, want := range map[netip.Addr]bool{ip1: true, ip2: true, ip3: false} {
		if f.Has(counter.HostKey(counter.Download, ip)) != want {
			t.Fatalf("after the replay, rules for %v: want %v", ip, want)
		}
	}
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
	waitFor(t, "the handoff socket", func() bool { return handoff.CheckSocket(s.DBDir) == nil })
	ctx := context.Background()
	if err := handoff.Send(ctx, s.DBDir, os.Getpid(), handoff.Message{Action: "arp-add", MAC: mac2, Addr: ip3}); err != nil {
		t.Fatal(err)
	}
	waitRules(t, f, ip3, true)
	if err := handoff.Send(ctx, s.DBDir, os.Getpid(), handoff.Message{Action: "arp-del", MAC: mac2, Addr: ip3}); err != nil {
		t.Fatal(err)
	}
	waitRules(t, f, ip3, false)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(spool); err != nil || st.Size() != 0 {
		t.Fatalf("spool after the daemon: %v %v", st, err)
	}
	if _, err := os.Lstat(filepath.Join(s.DBDir, handoff.SocketName)); !os.IsNotExist(err) {
		t.Fatalf("socket left after the daemon stopped: %v", err)
	}
}
