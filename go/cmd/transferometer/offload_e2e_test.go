package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// Software flow offloading needs a kernel with NF_FLOW_TABLE. This
// machine's kernel has none and loads no modules, so these tests run in a
// guest booted with Debian's kernel (`make test-offload`, scripts/guest),
// which sets TRANSFEROMETER_GUEST=1: there a missing feature is a failure,
// here it is a skip.

// requireFlowtable skips (fails in the guest) unless the router namespace
// can hold a flowtable.
func requireFlowtable(t testing.TB, r *rig) {
	t.Helper()
	cmd := r.lan.Exec(ctx(t), r.lan.Router, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader("table inet probe {\n\tflowtable ft {\n\t\thook ingress priority filter\n\t\tdevices = { wan }\n\t}\n}\n")
	out, err := cmd.CombinedOutput()
	if err == nil {
		r.lan.Run(t, r.lan.Router, "nft", "delete", "table", "inet", "probe")
		return
	}
	testlan.SkipForGuest(t, "this kernel has no flowtable: %v: %s", err, strings.TrimSpace(string(out)))
}

// fw4Flowtable gives the router what fw4 makes of flow_offloading '1': a
// flowtable (with a counter, which fw4 sets) on the lowest LAN device and
// wan, every forwarded TCP/UDP flow added to it, plus an audit counter of
// what the forward hook still sees of host's traffic.
func fw4Flowtable(t testing.TB, r *rig, lanDev string, h *testlan.Host) {
	t.Helper()
	ruleset := fmt.Sprintf(`table inet fw4 {
	flowtable ft {
		hook ingress priority filter
		devices = { %s, %s }
		counter
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr %s counter comment "audit"
		ip6 saddr %s counter comment "audit"
		meta l4proto { tcp, udp } flow add @ft
	}
}
`, lanDev, testlan.WANIf, h.IP4, h.IP6)
	cmd := r.lan.Exec(ctx(t), r.lan.Router, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fw4-style flowtable: %v\n%s\n%s", err, out, ruleset)
	}
	body := "config defaults\n\toption input 'ACCEPT'\n\toption flow_offloading '1'\n"
	if err := os.WriteFile(filepath.Join(r.cfgDir, "firewall"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// audit counts, independently of the router and of Transferometer, the
// IP bytes of the host's Internet traffic as wire packets: downloads at
// the host's input (GRO is off on its veth, so these are wire packets),
// uploads at the WAN peer's input — the host's own output hook sees TCP's
// GSO super-packets (TCP always builds them since Linux 4.19; they are cut
// at the device), the router and the WAN the real ones. The host is the
// LAN's only one, so everything to the Internet addresses is its.
func audit(t testing.TB, r *rig, h *testlan.Host) {
	t.Helper()
	for _, side := range []struct{ ns, rules string }{
		{h.NS, fmt.Sprintf(`ip saddr %s counter comment "down4"
		ip6 saddr %s counter comment "down6"`, r.lan.Internet4, r.lan.Internet6)},
		{r.lan.WAN, fmt.Sprintf(`ip daddr %s counter comment "up4"
		ip6 daddr %s counter comment "up6"`, r.lan.Internet4, r.lan.Internet6)},
	} {
		ruleset := "table inet audit {\n\tchain in {\n\t\ttype filter hook input priority 0;\n\t\t" + side.rules + "\n\t}\n}\n"
		cmd := r.lan.Exec(ctx(t), side.ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("audit table: %v\n%s\n%s", err, out, ruleset)
		}
	}
}

// nftCounters returns the counters of rules with a comment in table fam
// name of namespace ns: comment → packets, bytes.
func nftCounters(t testing.TB, r *rig, ns, fam, name string) map[string][2]uint64 {
	t.Helper()
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Comment string           `json:"comment"`
				Expr    []map[string]any `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	js := r.lan.Run(t, ns, "nft", "-j", "list", "table", fam, name)
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, js)
	}
	out := map[string][2]uint64{}
	for _, o := range doc.Nftables {
		if o.Rule == nil || o.Rule.Comment == "" {
			continue
		}
		for _, e := range o.Rule.Expr {
			if c, ok := e["counter"].(map[string]any); ok {
				p, _ := c["packets"].(float64)
				b, _ := c["bytes"].(float64)
				v := out[o.Rule.Comment]
				out[o.Rule.Comment] = [2]uint64{v[0] + uint64(p), v[1] + uint64(b)}
			}
		}
	}
	return out
}

// iperf runs one iperf3 client in the host against the WAN's Internet
// address and fails the test unless it succeeds.
func iperf(t testing.TB, r *rig, h *testlan.Host, dst netip.Addr, args ...string) {
	t.Helper()
	stop := startIperfServer(t, r.lan.WAN, dst.String())
	defer stop()
	a := append([]string{"-c", dst.String(), "-p", "5201", "--connect-timeout", "5000"}, args...)
	cmd := r.lan.Exec(ctx(t), h.NS, "iperf3", a...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iperf3 %v: %v\n%s", a, err, out)
	}
}

// TestOffloadExact: with an fw4-style flowtable offloading every
// forwarded flow, `placement 'auto'` moves counting to the LAN devices'
// netdev hooks, and 50 MB of TCP up, 50 MB down and UDP streams over IPv4
// and IPv6 are counted to the byte against counters of the host and the
// WAN peer — for
// a plain LAN device, a bridge port and a VLAN port. The forward hook,
// where the other tools count, sees a handful of packets.
func TestOffloadExact(t *testing.T) {
	testlan.RequireTools(t, "iperf3")
	if os.Getenv("TRANSFEROMETER_GUEST") != "" {
		// No veth backlog drops under emulation's bursts: the host's
		// count and the router's must be of the same packets.
		if err := os.WriteFile("/proc/sys/net/core/netdev_max_backlog", []byte("100000"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		topo, lanDev string
	}{
		{testlan.TopoPlain, "lan1"},
		{testlan.TopoBridge, testlan.Bridge},
		{testlan.TopoVLAN, testlan.Bridge},
	} {
		name := tc.topo
		if name == "" {
			name = "bridge"
		}
		t.Run(name, func(t *testing.T) {
			r := newRigWith(t, "nftables", testlan.Options{NumHosts: 1, Topology: tc.topo})
			requireFlowtable(t, r)
			h := r.lan.Hosts[0]
			r.writeConfig(t, "\toption lan_device '"+tc.lanDev+"'\n")
			// fw4 puts the flowtable on the lowest devices: lan1 in
			// all three (the VLAN port lan1.10 tags on lan1).
			fw4Flowtable(t, r, "lan1", h)
			audit(t, r, h)
			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			r.ok(t, "arp-add", h.MAC.String(), h.IP6.String())
			u := r.usage(t)
			if u.Backend != "nftables-netdev" || u.Placement != "netdev" {
				t.Fatalf("backend %q placement %q, want nftables-netdev netdev", u.Backend, u.Placement)
			}
			iperf(t, r, h, r.lan.Internet4, "-n", "50M")
			iperf(t, r, h, r.lan.Internet4, "-n", "50M", "-R")
			iperf(t, r, h, r.lan.Internet4, "-u", "-b", "20M", "-l", "1200", "-n", "5M")
			iperf(t, r, h, r.lan.Internet6, "-u", "-b", "20M", "-l", "1200", "-n", "5M", "-R")
			iperf(t, r, h, r.lan.Internet6, "-n", "10M")

			audit := nftCounters(t, r, h.NS, "inet", "audit")
			for k, v := range nftCounters(t, r, r.lan.WAN, "inet", "audit") {
				audit[k] = v
			}
			got := r.usage(t).host(h.MAC.String())
			wantUp := audit["up4"][1] + audit["up6"][1]
			wantDown := audit["down4"][1] + audit["down6"][1]
			t.Logf("independent count (WAN input, host input): up %d B (%d+%d pkts), down %d B (%d+%d pkts); Transferometer: up %d, down %d",
				wantUp, audit["up4"][0], audit["up6"][0], wantDown, audit["down4"][0], audit["down6"][0], got.UploadBytes, got.DownloadBytes)
			if wantUp < 60e6 || wantDown < 55e6 {
				t.Fatalf("traffic did not flow as planned: up %d, down %d", wantUp, wantDown)
			}
			if got.UploadBytes != wantUp || got.DownloadBytes != wantDown {
				t.Errorf("counted up %d down %d, host counted up %d down %d (diff %d, %d)",
					got.UploadBytes, got.DownloadBytes, wantUp, wantDown,
					int64(got.UploadBytes)-int64(wantUp), int64(got.DownloadBytes)-int64(wantDown))
			}
			// The flowtable really carried the flows: the forward
			// hook saw a sliver of the packets.
			fwd := nftCounters(t, r, r.lan.Router, "inet", "fw4")["audit"]
			pkts := audit["up4"][0] + audit["up6"][0]
			t.Logf("forward hook saw %d of %d upload packets (%s%%)", fwd[0], pkts, strconv.FormatFloat(100*float64(fwd[0])/float64(pkts), 'f', 2, 64))
			if fwd[0]*100 > pkts {
				t.Errorf("forward hook saw %d of %d packets: the flows were not offloaded", fwd[0], pkts)
			}
		})
	}
}

// ctx bounds a command of these tests (a hung tool fails the test).
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestOffloadWhatEachBackendSees: with fw4's flowtable on, the same 20 MB
// TCP upload as counted by every backend and placement. Counting in the
// forward hook (iptables-legacy, iptables-nft, nftables 'forward') sees
// only the packets before the flow is offloaded, and says so in a
// flow_offloading warning; the netdev placement sees every byte and says
// where it counts instead.
func TestOffloadWhatEachBackendSees(t *testing.T) {
	testlan.RequireTools(t, "iperf3")
	for _, tc := range []struct {
		variant, extra, backend string
		exact                   bool
	}{
		{"legacy", "", "iptables-legacy", false},
		{"nft", "", "iptables-nft", false},
		{"nftables", "\toption placement 'forward'\n", "nftables", false},
		{"nftables", "\toption lan_device 'br-lan'\n", "nftables-netdev", true},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			r := newRig(t, tc.variant, 1)
			requireFlowtable(t, r)
			h := r.lan.Hosts[0]
			r.writeConfig(t, tc.extra)
			fw4Flowtable(t, r, "lan1", h)
			audit(t, r, h)
			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			iperf(t, r, h, r.lan.Internet4, "-n", "20M")
			u := r.usage(t)
			want := nftCounters(t, r, r.lan.WAN, "inet", "audit")["up4"][1]
			got := u.host(h.MAC.String()).UploadBytes
			codes := map[string]bool{}
			for _, w := range u.Warnings {
				codes[w.Code] = true
			}
			t.Logf("%-16s counted %10d of %10d upload bytes (%6.2f%%); warnings %v", u.Backend, got, want, 100*float64(got)/float64(want), codes)
			if u.Backend != tc.backend {
				t.Fatalf("backend %q, want %q", u.Backend, tc.backend)
			}
			if want < 20e6 {
				t.Fatalf("the upload did not happen: %d bytes", want)
			}
			if tc.exact {
				if got != want || codes["flow_offloading"] || !codes["placement_netdev"] {
					t.Errorf("netdev placement: counted %d of %d, warnings %v", got, want, codes)
				}
				return
			}
			if got*100 > want || !codes["flow_offloading"] {
				t.Errorf("forward hook counted %d of %d (offloaded flows should escape it), warnings %v", got, want, codes)
			}
		})
	}
}
