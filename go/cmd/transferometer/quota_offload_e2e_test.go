package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// TestOffloadQuota: with an fw4-style flowtable offloading every forwarded
// flow, the quota (on the LAN devices' hooks in the netdev placement that
// `auto` picks) still stops a download at the allowance, as the host
// counts it; usage says nothing of offloading hiding traffic from quotas.
// Runs in the guest kernel (`make test-offload`): this machine's kernel
// has no flowtable.
func TestOffloadQuota(t *testing.T) {
	if os.Getenv("TRANSFEROMETER_GUEST") != "" {
		if err := os.WriteFile("/proc/sys/net/core/netdev_max_backlog", []byte("100000"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const limit, mtu = 3_000_000, 1500
	r := newRigWith(t, "nftables", testlan.Options{NumHosts: 1})
	requireFlowtable(t, r)
	h := r.lan.Hosts[0]
	r.writeConfig(t, fmt.Sprintf("\toption lan_device '%s'\n\toption persist_dir '%s'\n\n"+
		"config quota 'h'\n\tlist mac '%s'\n\toption limit '3MB'\n\toption direction 'down'\n",
		testlan.Bridge, filepath.Join(t.TempDir(), "flash"), h.MAC))
	fw4Flowtable(t, r, "lan1", h)
	count := newHostCounter(t, r.lan, h)
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	got := download(t, r.lan, h, r.lan.Internet4, 5701, 20_000_000)
	packets, received := count.read(t)
	// Egress sees frames: 14 bytes a packet more than the IP bytes.
	seen := received + 14*packets
	fwd := nftCounters(t, r, r.lan.Router, "inet", "fw4")
	t.Logf("offloaded download: %d payload bytes, %d IP bytes in %d packets (quota saw %d of %d); fw4's forward hook saw %v",
		got, received, packets, seen, limit, fwd)
	if seen > limit+mtu || seen+mtu <= limit {
		t.Fatalf("the quota saw %d bytes, want the allowance %d and at most one more packet", seen, limit)
	}
	u := r.quotaUsage(t, tzToday)
	if u.Quotas[0].State != "blocked" {
		t.Fatalf("quota %+v", u.Quotas[0])
	}
	for _, w := range u.Warnings {
		if w.Code == "quota_offload" {
			t.Fatalf("warning %s in the netdev placement", w.Code)
		}
	}
}
