package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// TestBackendSwitchCarriesTotals: iptables → nftables → iptables by
// reload (a config change and the next run): totals carry over exactly,
// traffic counted before each switch is credited once, and the old
// backend's rules are gone.
func TestBackendSwitchCarriesTotals(t *testing.T) {
	r := newRig(t, "nft", 1)
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	r.ok(t, "arp-add", h.MAC.String(), h.IP6.String())
	h.Ping(t, r.lan.Internet4, 1000, 10) // not collected before the switch
	want := uint64(10280)
	check := func(stage, backend string) {
		t.Helper()
		u := r.usage(t)
		if got := u.host(h.MAC.String()); got.DownloadBytes != want || got.UploadBytes != want {
			t.Fatalf("%s: %+v, want %d each way", stage, got, want)
		}
		if u.Backend != backend {
			t.Errorf("%s: backend %q, want %q", stage, u.Backend, backend)
		}
	}
	r.variant = "nftables"
	r.writeConfig(t, "")
	r.ok(t, "collect")
	check("after switch to nftables", "nftables")
	for _, bin := range []string{"iptables-nft-save", "ip6tables-nft-save"} {
		if out := r.lan.Run(t, r.lan.Router, bin, "-t", "mangle"); strings.Contains(out, "TRANSFEROMETER") {
			t.Errorf("iptables rules left after the switch:\n%s", out)
		}
	}
	lines := strings.Join(r.ruleLines(t), "\n")
	if !r.hasRules(t, h.IP6.String()) {
		t.Fatalf("nftables has no element for %s:\n%s", h.IP6, lines)
	}
	h.Ping(t, r.lan.Internet6, 1000, 10)
	want += 10480
	check("counting on nftables", "nftables")
	r.variant = "nft"
	r.writeConfig(t, "")
	h.Ping(t, r.lan.Internet4, 500, 7) // counted by nftables, read at the switch
	want += 3696
	r.ok(t, "collect")
	check("after switch back", "iptables-nft")
	if r.nftTable(t, "ip") != "" || r.nftTable(t, "ip6") != "" {
		t.Error("nft tables left after switching back")
	}
	h.Ping(t, r.lan.Internet4, 1000, 1)
	want += 1028
	check("counting on iptables again", "iptables-nft")
}

// TestPlacementFollowsFlowOffloading: with placement 'auto', turning fw4's
// software flow offloading on in /etc/config/firewall moves counting to
// the LAN ports' netdev hooks at the next run (this kernel has the egress
// hook), and turning it off moves it back; totals carry over exactly and
// the other placement's table is gone each time.
func TestPlacementFollowsFlowOffloading(t *testing.T) {
	r := newRig(t, "nftables", 1)
	h := r.lan.Hosts[0]
	firewall := func(on string) {
		t.Helper()
		body := "config defaults\n\toption input 'ACCEPT'\n\toption flow_offloading '" + on + "'\n"
		if err := os.WriteFile(filepath.Join(r.cfgDir, "firewall"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want uint64
	check := func(stage, backend, placement string) {
		t.Helper()
		u := r.usage(t)
		if got := u.host(h.MAC.String()); got.DownloadBytes != want || got.UploadBytes != want {
			t.Fatalf("%s: %+v, want %d each way", stage, got, want)
		}
		if u.Backend != backend || u.Placement != placement {
			t.Errorf("%s: backend %q placement %q, want %q %q", stage, u.Backend, u.Placement, backend, placement)
		}
	}
	r.writeConfig(t, "\toption lan_device '"+testlan.Bridge+"'\n")
	firewall("0")
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	h.Ping(t, r.lan.Internet4, 1000, 10) // counted in the forward hook
	want += 10280
	firewall("1")
	r.ok(t, "collect")
	check("offloading on", "nftables-netdev", "netdev")
	if r.nftTable(t, "netdev") == "" || strings.Contains(r.nftTable(t, "ip"), "hook forward") {
		t.Fatalf("not on the netdev hooks:\n%s\n%s", r.nftTable(t, "ip"), r.nftTable(t, "netdev"))
	}
	h.Ping(t, r.lan.Internet4, 500, 7) // counted on lan1's hooks
	want += 3696
	check("counting on netdev hooks", "nftables-netdev", "netdev")
	h.Ping(t, r.lan.Internet4, 1000, 1) // read at the switch back
	want += 1028
	firewall("0")
	r.ok(t, "collect")
	check("offloading off", "nftables", "forward")
	if r.nftTable(t, "netdev") != "" {
		t.Fatal("netdev table left after switching back")
	}
}
