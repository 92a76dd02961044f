package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonHearsNewHosts: with the daemon running and no dnsmasq at all,
// a host that appears (a static address) and moves traffic at once is
// counted: the daemon hears of it from the kernel's neighbour
// announcements and applies it in-process. On nftables every byte is the
// host's (counted from the first packet); on iptables the packets before
// its rules are in unattributed, so hosts + unattributed is exact.
// Removing the neighbour from the kernel's table removes the address.
func TestDaemonHearsNewHosts(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 1)
			h := r.lan.Hosts[0]
			r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '3600'\n\toption persist_dir '%s'\n\toption live_port '0'\n\toption live_tls_port '0'\n", filepath.Join(t.TempDir(), "flash")))
			d := r.startDaemon(t)
			waitFor(t, 10*time.Second, "the daemon's start", func() bool { return strings.Contains(d.out.String(), "started") })

			h.Ping(t, r.lan.Internet4, 1000, 10)
			waitFor(t, 10*time.Second, "the host's address in the ledger", func() bool {
				for _, x := range r.hosts(t) {
					if x.MAC == h.MAC.String() && len(x.IPs) > 0 {
						return true
					}
				}
				return false
			})
			u := r.usage(t)
			got := u.host(h.MAC.String())
			if r.nft() {
				if got.DownloadBytes != 10280 || got.UploadBytes != 10280 {
					t.Fatalf("nftables: %+v, want 10280 each way from the first packet\n%s", got, d.out.String())
				}
			} else if got.DownloadBytes+u.Unattributed.DownloadBytes != 10280 || got.UploadBytes+u.Unattributed.UploadBytes != 10280 {
				t.Fatalf("iptables: host %+v + unattributed %+v, want 10280 each way", got, u.Unattributed)
			} else {
				t.Logf("iptables: %d of 10280 bytes down before the rules (unattributed)", u.Unattributed.DownloadBytes)
			}
			if !r.hasRules(t, h.IP4.String()) && !r.nft() {
				t.Fatal("no rules for the host")
			}

			r.lan.Run(t, r.lan.Router, "ip", "neigh", "del", h.IP4.String(), "dev", "br-lan")
			waitFor(t, 10*time.Second, "the address gone", func() bool {
				for _, x := range r.hosts(t) {
					if x.MAC == h.MAC.String() {
						return len(x.IPs) == 0
					}
				}
				return false
			})
			d.stop(t)
		})
	}
}

// TestDaemonRefusesWANLiveAddress: live_address on the WAN side is not
// listened on, and the log says why; the LAN stays served by polling.
func TestDaemonRefusesWANLiveAddress(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\toption live_port '8093'\n\toption live_tls_port '0'\n\toption live_address '%s'\n",
		filepath.Join(t.TempDir(), "flash"), r.lan.RouterWAN4))
	d := r.startDaemon(t)
	waitFor(t, 10*time.Second, "the daemon's start", func() bool { return strings.Contains(d.out.String(), "started") })
	if !strings.Contains(d.out.String(), "is an address of the WAN") || strings.Contains(d.out.String(), "live feed on") {
		t.Fatalf("log:\n%s", d.out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := r.lan.Exec(ctx, r.lan.WAN, "busybox", "wget", "-q", "-T", "2", "-O", "-", fmt.Sprintf("http://%s:8093/live", r.lan.RouterWAN4)).CombinedOutput()
	if err == nil {
		t.Fatalf("the feed answered from the WAN: %s", out)
	}
	d.stop(t)
}
