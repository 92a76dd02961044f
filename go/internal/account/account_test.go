package account

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// These tests use the fake backend to pin the core's pure logic (crediting,
// ordering, event races). The same flows run against real iptables in
// network namespaces in cmd/transferometer.

var (
	macA = mustMAC("02:00:00:00:00:0a")
	macB = mustMAC("02:00:00:00:00:0b")
	ipA  = netip.MustParseAddr("10.77.0.10")
	ipA6 = netip.MustParseAddr("fd77::10")
	wan  = netip.MustParseAddr("10.78.0.2")
	ll   = netip.MustParseAddr("fe80::1")
)

func mustMAC(s string) macaddr.MAC {
	m, err := macaddr.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func newCore(t *testing.T) (*Core, *netfilter.Fake) {
	t.Helper()
	dir := t.TempDir()
	s := config.Defaults()
	s.LockDir = filepath.Join(dir, "lock")
	s.PIDFile = filepath.Join(dir, "pid")
	s.DBDir = filepath.Join(dir, "db")
	s.LeaseFile = filepath.Join(dir, "leases")
	s.LockTimeout = 2 * time.Second
	s.Subnets = []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24"), netip.MustParsePrefix("fd77::/64")}
	s.Backend = "nftables"
	k := newFakeKernel()
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	c := openFake(t, s, dir, k, Options{Now: now, BootID: func() string { return "boot-1" }})
	return c, k.fake(netfilter.KindNFTables)
}

// reopen makes another core on the same settings, clock and fake kernel,
// as the next process (or a reboot, with a new boot id) would.
func reopen(t *testing.T, c *Core, boot string) *Core {
	t.Helper()
	c2, err := Open(c.settings, c.configDir, Options{Now: c.now, BootID: func() string { return boot }, Backends: c.backends, Host: c.host})
	if err != nil {
		t.Fatal(err)
	}
	return c2
}

// powerCut loses what a power cut loses, RAM (db_dir) and the kernel's
// counters, and opens the core again as the next boot.
func powerCut(t *testing.T, c *Core, f *netfilter.Fake, boot string) *Core {
	t.Helper()
	if err := os.RemoveAll(c.settings.DBDir); err != nil {
		t.Fatal(err)
	}
	f.Flush()
	return reopen(t, c, boot)
}

func handle(t *testing.T, c *Core, kind EventKind, mac macaddr.MAC, ip netip.Addr) Outcome {
	t.Helper()
	out, err := c.Handle(context.Background(), Event{Kind: kind, MAC: mac, Addr: ip})
	if err != nil {
		t.Fatalf("Handle(%v %v %v): %v", kind, mac, ip, err)
	}
	return out
}

func usageOf(t *testing.T, c *Core, mac macaddr.MAC) HostUsage {
	t.Helper()
	r, err := fresh(c, &mac, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hosts) != 1 {
		t.Fatalf("usage for %v: %d hosts", mac, len(r.Hosts))
	}
	return r.Hosts[0]
}

func up(a netip.Addr) counter.Key   { return counter.HostKey(counter.Upload, a) }
func down(a netip.Addr) counter.Key { return counter.HostKey(counter.Download, a) }

func TestAddCountDelKeepsBytes(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macA, ipA6)
	if !f.Traffic(up(ipA), 10, 10280) || !f.Traffic(down(ipA), 10, 10280) || !f.Traffic(down(ipA6), 1, 1000) {
		t.Fatal("rules missing after arp-add")
	}
	handle(t, c, NeighDel, macA, ipA)
	if f.Has(up(ipA)) || !f.Has(up(ipA6)) {
		t.Fatal("arp-del removed the wrong rules")
	}
	h := usageOf(t, c, macA)
	if h.UploadBytes != 10280 || h.DownloadBytes != 11280 || h.DownloadPackets != 11 {
		t.Fatalf("usage = %+v", h.Usage)
	}
	if len(h.IPs) != 1 || h.IPs[0] != "fd77::10" || !h.Active {
		t.Fatalf("ips = %v", h.IPs)
	}
}

func TestNonLANIgnored(t *testing.T) {
	c, f := newCore(t)
	for _, a := range []netip.Addr{wan, ll, netip.MustParseAddr("10.77.1.1"), netip.MustParseAddr("::ffff:10.77.0.10")} {
		if out := handle(t, c, NeighAdd, macA, a); !out.Ignored {
			t.Errorf("%v not ignored", a)
		}
	}
	if f.Batches != 0 {
		t.Fatal("ignored events touched the kernel")
	}
}

func TestMACChangeMovesAddress(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(up(ipA), 1, 100)
	// Hotplug runs handlers concurrently: the add for the new MAC may come
	// before the delete for the old one.
	handle(t, c, NeighAdd, macB, ipA)
	f.Traffic(up(ipA), 1, 50)
	handle(t, c, NeighDel, macA, ipA)
	if !f.Has(up(ipA)) {
		t.Fatal("late arp-del of the old MAC removed the new owner's rules")
	}
	f.Traffic(up(ipA), 1, 7)
	if a, b := usageOf(t, c, macA).UploadBytes, usageOf(t, c, macB).UploadBytes; a != 100 || b != 57 {
		t.Fatalf("A=%d B=%d, want 100 and 57", a, b)
	}
}

func TestCrashBeforeRuleChangeIsRepaired(t *testing.T) {
	c, f := newCore(t)
	f.FailSync = errors.New("killed")
	if _, err := c.Handle(context.Background(), Event{Kind: NeighAdd, MAC: macA, Addr: ipA}); err == nil {
		t.Fatal("want the injected failure")
	}
	// The event is in host.db: the next run of anything adds the rules.
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	if !f.Traffic(up(ipA), 3, 300) {
		t.Fatal("rules not repaired")
	}
	if got := usageOf(t, c, macA).UploadBytes; got != 300 {
		t.Fatalf("upload = %d", got)
	}
}

func TestFirewallFlushRecovered(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 2, 2000)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	f.Flush()
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	f.Traffic(down(ipA), 1, 5)
	if got := usageOf(t, c, macA).DownloadBytes; got != 2005 {
		t.Fatalf("download = %d, want 2005", got)
	}
}

func TestResetNoLossNoResurrection(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macB, ipA6)
	f.Traffic(up(ipA), 1, 100)
	f.Traffic(up(ipA6), 1, 200)
	got, err := c.Reset(context.Background(), &macA)
	if err != nil || len(got) != 1 || got[0].UploadBytes != 100 {
		t.Fatalf("reset = %+v, %v", got, err)
	}
	f.Traffic(up(ipA), 1, 30)
	if a, b := usageOf(t, c, macA).UploadBytes, usageOf(t, c, macB).UploadBytes; a != 30 || b != 200 {
		t.Fatalf("A=%d B=%d", a, b)
	}
	all, err := c.Reset(context.Background(), nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("reset all = %+v, %v", all, err)
	}
	if a := usageOf(t, c, macA).UploadBytes; a != 0 {
		t.Fatalf("A=%d after reset all", a)
	}
}

func TestDisabledDoesNothing(t *testing.T) {
	c, f := newCore(t)
	c.settings.Enabled = false
	if out := handle(t, c, NeighAdd, macA, ipA); !out.Disabled || f.Batches != 0 {
		t.Fatalf("disabled core acted: %+v", out)
	}
	r, err := fresh(c, nil, "")
	if err != nil || r.Enabled || len(r.Warnings) == 0 || r.Warnings[0].Code != "disabled" {
		t.Fatalf("usage = %+v, %v", r, err)
	}
	if _, err := c.Reset(context.Background(), nil); !errors.Is(err, ErrDisabled) {
		t.Fatalf("reset err = %v", err)
	}
}

func TestLeaseHostname(t *testing.T) {
	c, _ := newCore(t)
	writeFile(t, c.settings.LeaseFile, "1764100000 02:00:00:00:00:0a 10.77.0.10 laptop 01:02:00:00:00:00:0a\n1764100000 02:00:00:00:00:0b 10.77.0.11 * *\n")
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macB, netip.MustParseAddr("10.77.0.11"))
	if got := usageOf(t, c, macA).Hostname; got != "laptop" {
		t.Fatalf("hostname = %q", got)
	}
	if got := usageOf(t, c, macB).Hostname; got != "" {
		t.Fatalf("hostname = %q for a lease without a name", got)
	}
	if _, err := c.Handle(context.Background(), Event{Kind: LeaseAdd, MAC: macB, Addr: netip.MustParseAddr("10.77.0.11"), Hostname: "phone"}); err != nil {
		t.Fatal(err)
	}
	if got := usageOf(t, c, macB).Hostname; got != "phone" {
		t.Fatalf("hostname = %q", got)
	}
}

func TestFlowOffloadingWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, backend, kernel, firewall string
		placement                       string
		want, absent                    []string
	}{
		{"iptables, offloading", "iptables", "6.6.0", "option flow_offloading '1'", "forward", []string{"flow_offloading"}, []string{"placement_netdev"}},
		{"nftables, offloading, 6.6", "nftables", "6.6.73", "option flow_offloading '1'", "netdev", []string{"placement_netdev"}, []string{"flow_offloading", "flow_offloading_hw"}},
		{"nftables, offloading, 5.15", "nftables", "5.15.167", "option flow_offloading '1'", "forward", []string{"flow_offloading"}, []string{"placement_netdev"}},
		{"nftables, hardware", "nftables", "6.6.73", "option flow_offloading '1'\n\toption flow_offloading_hw '1'", "netdev", []string{"flow_offloading_hw", "placement_netdev"}, []string{"flow_offloading"}},
		{"nftables, no offloading", "nftables", "6.6.73", "option flow_offloading '0'", "forward", nil, []string{"flow_offloading", "flow_offloading_hw", "placement_netdev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c0, _ := newCore(t)
			writeFile(t, filepath.Join(c0.configDir, "firewall"), "config defaults\n\toption input 'ACCEPT'\n\t"+tc.firewall+"\n")
			s := c0.settings
			s.Backend = tc.backend
			h := testHost(c0.configDir)
			h.KernelRelease = tc.kernel
			c := openFake(t, s, c0.configDir, newFakeKernel(), Options{Host: h})
			r, err := fresh(c, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if r.Placement != tc.placement || r.PlacementReason == "" {
				t.Errorf("placement = %q (%q), want %q", r.Placement, r.PlacementReason, tc.placement)
			}
			codes := map[string]bool{}
			for _, w := range r.Warnings {
				codes[w.Code] = true
			}
			for _, c := range tc.want {
				if !codes[c] {
					t.Errorf("no %s warning in %+v", c, r.Warnings)
				}
			}
			for _, c := range tc.absent {
				if codes[c] {
					t.Errorf("unexpected %s warning in %+v", c, r.Warnings)
				}
			}
		})
	}
}

func TestPeriodRolloverAndGenerations(t *testing.T) {
	c, f := newCore(t)
	c.settings.Generations = 2
	now := time.Date(2026, 11, 30, 23, 59, 0, 0, time.Local)
	c.now = func() time.Time { return now }
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 1000)
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})
	now = time.Date(2026, 12, 1, 0, 0, 30, 0, time.Local) // the new period
	f.Traffic(down(ipA), 1, 7)
	r, err := fresh(c, &macA, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Period.Key != "2026-12-01" || r.Hosts[0].DownloadBytes != 7 || r.Hosts[0].Today.DownloadBytes != 7 {
		t.Fatalf("current period: %+v %+v", r.Period, r.Hosts[0])
	}
	if len(r.Periods) != 2 || r.Periods[0] != "2026-12-01" || r.Periods[1] != "2026-11-01" {
		t.Fatalf("periods = %v", r.Periods)
	}
	old, err := fresh(c, &macA, "2026-11-01")
	if err != nil || old.Hosts[0].DownloadBytes != 1000 {
		t.Fatalf("November: %+v %v", old.Hosts, err)
	}
	all, _ := fresh(c, &macA, "all")
	if all.Hosts[0].DownloadBytes != 1007 || all.Period.Key != "all" {
		t.Fatalf("all: %+v", all)
	}
	// Two more months: November falls out of the two generations kept.
	now = time.Date(2027, 1, 2, 0, 0, 0, 0, time.Local)
	r, _ = fresh(c, &macA, "")
	if len(r.Periods) != 2 || r.Periods[1] != "2026-12-01" {
		t.Fatalf("after pruning: %v", r.Periods)
	}
	if _, err := fresh(c, &macA, "2026-11-01"); !errors.Is(err, ErrNoPeriod) {
		t.Fatalf("pruned period: %v", err)
	}
}

func TestCommitRestoreAcrossReboot(t *testing.T) {
	c, f := newCore(t)
	c.settings.PersistDir = filepath.Join(c.configDir, "flash")
	writeFile(t, c.settings.LeaseFile, "0 02:00:00:00:00:0a 10.77.0.10 laptop *\n")
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 2, 2000)
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Traffic(down(ipA), 1, 300) // after the commit: lost in a power cut
	handle(t, c, Collect, macaddr.MAC{}, netip.Addr{})

	// Power cut and reboot: RAM (db_dir) and kernel counters are gone.
	c2 := powerCut(t, c, f, "boot-2")
	handle(t, c2, Collect, macaddr.MAC{}, netip.Addr{})
	if f.Has(up(ipA)) {
		t.Fatal("an address from before the reboot got rules (no arp-del would ever remove them)")
	}
	r, err := fresh(c2, &macA, "")
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Hosts[0]; h.DownloadBytes != 2000 || h.Hostname != "laptop" || h.Active {
		t.Fatalf("restored: %+v", h)
	}
	handle(t, c2, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 5)
	if got := usageOf(t, c2, macA).DownloadBytes; got != 2005 {
		t.Fatalf("after reboot and new traffic: %d, want 2005 (merged once)", got)
	}
	// Restarting the daemon (same boot, RAM intact) does not merge again.
	c3 := reopen(t, c, "boot-2")
	if got := usageOf(t, c3, macA).DownloadBytes; got != 2005 {
		t.Fatalf("merged twice: %d", got)
	}
}
