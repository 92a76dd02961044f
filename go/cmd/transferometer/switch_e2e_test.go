package main

import (
	"strings"
	"testing"
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
