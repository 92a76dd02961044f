package main

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// TestCountedBeforeTheEvent: a host starts moving traffic before any event
// names it (a static address; dnsmasq's next neighbour scan is up to 90 s
// away, and IPv6 SLAAC addresses get no DHCP event). On iptables its
// addresses have no rules yet: the LAN prefixes' catch-all rules after the
// per-host ones count those bytes as unattributed, so hosts +
// unattributed is exactly what was sent, and once the event comes the
// host's own rules count the rest. Exact against the pings' known sizes.
func TestCountedBeforeTheEvent(t *testing.T) {
	for _, v := range []string{"legacy", "nft"} {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h, other := r.lan.Hosts[0], r.lan.Hosts[1]
			r.ok(t, "collect") // chains and catch-alls in place, no hosts
			r.ok(t, "arp-add", other.MAC.String(), other.IP4.String())

			h.Ping(t, r.lan.Internet4, 1000, 10)
			h.Ping(t, r.lan.Internet6, 1000, 10)
			other.Ping(t, r.lan.Internet4, 1000, 10)
			u := r.usage(t)
			if u.Unattributed.DownloadBytes != 10280+10480 || u.Unattributed.UploadBytes != 10280+10480 {
				t.Fatalf("before the event: unattributed %+v, want %d each way", u.Unattributed, 10280+10480)
			}
			if got := u.host(other.MAC.String()); got.DownloadBytes != 10280 || got.UploadBytes != 10280 {
				t.Fatalf("the host with rules: %+v", got)
			}

			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			r.ok(t, "arp-add", h.MAC.String(), h.IP6.String())
			h.Ping(t, r.lan.Internet4, 1000, 10)
			h.Ping(t, r.lan.Internet6, 500, 7)
			u = r.usage(t)
			if got := u.host(h.MAC.String()); got.DownloadBytes != 10280+3836 || got.UploadBytes != 10280+3836 {
				t.Fatalf("after the event: %+v, want %d each way", got, 10280+3836)
			}
			if u.Unattributed.DownloadBytes != 10280+10480 || u.Unattributed.UploadBytes != 10280+10480 {
				t.Fatalf("after the event: unattributed %+v moved", u.Unattributed)
			}
			total := u.Unattributed.DownloadBytes
			for _, x := range u.Hosts {
				total += x.DownloadBytes
			}
			if want := uint64(10280+10480) + 10280 + 10280 + 3836; total != want {
				t.Fatalf("hosts + unattributed = %d, want %d (everything sent)", total, want)
			}
		})
	}
}

// TestCountedFromFirstPacket: on nftables every LAN address is counted
// from its first packet, in the kernel, with no event: the bytes wait
// under the address (unattributed_addresses) and are the host's, exactly,
// once an event names its device.
func TestCountedFromFirstPacket(t *testing.T) {
	for _, v := range []string{"nftables", "netdev"} {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h, other := r.lan.Hosts[0], r.lan.Hosts[1]
			r.ok(t, "collect")
			r.ok(t, "arp-add", other.MAC.String(), other.IP4.String())

			h.Ping(t, r.lan.Internet4, 1000, 10)
			h.Ping(t, r.lan.Internet6, 1000, 10)
			other.Ping(t, r.lan.Internet4, 1000, 10)
			u := r.usage(t)
			waiting := map[string][2]uint64{}
			for _, a := range u.UnattributedAddresses {
				waiting[a.IP] = [2]uint64{a.DownloadBytes, a.UploadBytes}
			}
			if waiting[h.IP4.String()] != [2]uint64{10280, 10280} || waiting[h.IP6.String()] != [2]uint64{10480, 10480} || len(waiting) != 2 {
				t.Fatalf("before any event: waiting %v, want %s and %s with exactly the pings", waiting, h.IP4, h.IP6)
			}
			if got := u.host(other.MAC.String()); got.DownloadBytes != 10280 || got.UploadBytes != 10280 {
				t.Fatalf("the host with an event: %+v", got)
			}

			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			r.ok(t, "arp-add", h.MAC.String(), h.IP6.String())
			h.Ping(t, r.lan.Internet4, 500, 7)
			u = r.usage(t)
			want := uint64(10280 + 10480 + 3696)
			if got := u.host(h.MAC.String()); got.DownloadBytes != want || got.UploadBytes != want {
				t.Fatalf("after the event: %+v, want %d each way (from the first packet)", got, want)
			}
			if len(u.UnattributedAddresses) != 0 || u.Unattributed.DownloadBytes != 0 {
				t.Fatalf("after the event: unattributed %+v %+v", u.Unattributed, u.UnattributedAddresses)
			}
		})
	}
}

// TestAddressesSwapAndMACChange: two hosts swap their IPv4 addresses, then
// one comes back with another MAC on its address. Each MAC keeps exactly
// what it sent while it owned an address; nothing is lost or doubled on
// any backend.
func TestAddressesSwapAndMACChange(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h1, h2 := r.lan.Hosts[0], r.lan.Hosts[1]
			a, b := h1.IP4, h2.IP4
			r.ok(t, "arp-add", h1.MAC.String(), a.String())
			r.ok(t, "arp-add", h2.MAC.String(), b.String())
			h1.Ping(t, r.lan.Internet4, 1000, 10) // 10280 each way
			h2.Ping(t, r.lan.Internet4, 500, 7)   // 3696 each way

			// Swap: each host takes the other's address.
			for _, x := range []struct {
				h        *testlan.Host
				old, new netip.Addr
			}{{h1, a, b}, {h2, b, a}} {
				r.lan.Run(t, x.h.NS, "ip", "addr", "del", x.old.String()+"/24", "dev", "eth0")
			}
			r.lan.Run(t, h1.NS, "ip", "addr", "add", b.String()+"/24", "dev", "eth0")
			r.lan.Run(t, h2.NS, "ip", "addr", "add", a.String()+"/24", "dev", "eth0")
			for _, h := range []*testlan.Host{h1, h2} {
				r.lan.Run(t, h.NS, "ip", "route", "replace", "default", "via", r.lan.RouterLAN4.String())
			}
			r.lan.Run(t, r.lan.Router, "ip", "neigh", "flush", "dev", testlan.Bridge)
			r.ok(t, "arp-add", h1.MAC.String(), b.String())
			r.ok(t, "arp-add", h2.MAC.String(), a.String())
			h1.Ping(t, r.lan.Internet4, 200, 5) // 5 × 228 = 1140 each way
			h2.Ping(t, r.lan.Internet4, 300, 5) // 5 × 328 = 1640 each way

			// h2's address a shows up under another MAC (a new NIC, or MAC
			// randomisation): what a counts from now on is the new MAC's.
			newMAC := "02:77:00:00:00:99"
			r.lan.Run(t, h2.NS, "ip", "link", "set", "eth0", "address", newMAC)
			r.lan.Run(t, r.lan.Router, "ip", "neigh", "flush", "dev", testlan.Bridge)
			r.ok(t, "arp-add", newMAC, a.String())
			h2.Ping(t, r.lan.Internet4, 100, 3) // 3 × 128 = 384 each way

			u := r.usage(t)
			for mac, want := range map[string]uint64{h1.MAC.String(): 10280 + 1140, h2.MAC.String(): 3696 + 1640, newMAC: 384} {
				if got := u.host(mac); got.DownloadBytes != want || got.UploadBytes != want {
					t.Errorf("%s: %+v, want %d each way", mac, got, want)
				}
			}
			if u.Unattributed.DownloadBytes != 0 || len(u.UnattributedAddresses) != 0 {
				t.Errorf("unattributed %+v %+v", u.Unattributed, u.UnattributedAddresses)
			}
		})
	}
}

// TestCountedBeforeDnsmasqsEvent: no daemon, real dnsmasq (30× fast under
// faketime) calling the binary as its dhcp-script. A host with a static
// address downloads at once, long before dnsmasq's next neighbour scan
// names it: on nftables every byte is the host's once the event comes; on
// iptables what came before its rules is in unattributed, and hosts +
// unattributed is exact.
func TestCountedBeforeDnsmasqsEvent(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 1)
			h := r.lan.Hosts[0]
			r.ok(t, "collect") // our tables and chains exist; no host yet
			d := r.lan.StartDnsmasq(t, testlan.DnsmasqOptions{Script: r.bin, Env: []string{"TRANSFEROMETER_CONFIG_DIR=" + r.cfgDir}, Faketime: true,
				LeaseFile: filepath.Join(filepath.Dir(r.lockDir), "dhcp.leases")})
			d.Rescan(t) // its start-up scan is behind it: the next is 90 s (3 s here) away
			h.Ping(t, r.lan.Internet4, 1000, 10)
			waitFor(t, 30*time.Second, "dnsmasq's arp-add for the host", func() bool {
				d.HUP(t)
				for _, x := range r.hosts(t) {
					if x.MAC == h.MAC.String() && contains(x.IPs, h.IP4.String()) {
						return true
					}
				}
				return false
			})
			u := r.usage(t)
			got := u.host(h.MAC.String())
			if r.nft() {
				if got.DownloadBytes != 10280 || got.UploadBytes != 10280 {
					t.Fatalf("nftables: %+v, want 10280 each way", got)
				}
				return
			}
			if got.DownloadBytes+u.Unattributed.DownloadBytes != 10280 || got.UploadBytes+u.Unattributed.UploadBytes != 10280 {
				t.Fatalf("iptables: host %+v + unattributed %+v, want 10280 each way", got, u.Unattributed)
			}
			if u.Unattributed.DownloadBytes == 0 {
				t.Fatal("iptables: the bytes before dnsmasq's event were credited to the host (no rules could have counted them)")
			}
		})
	}
}
