package main

import (
	"testing"
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
