package testlan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLAN(t *testing.T) {
	start := time.Now()
	l := New(t, Options{NumHosts: 3})
	t.Logf("setup of 3 hosts: %v", time.Since(start))

	if len(l.Hosts) != 3 {
		t.Fatalf("got %d hosts", len(l.Hosts))
	}
	for i, h := range l.Hosts {
		n := i + 1
		if want := fmt.Sprintf("02:77:00:00:00:%02x", n); h.MAC.String() != want {
			t.Errorf("host %d MAC %s, want %s", n, h.MAC, want)
		}
		if want := fmt.Sprintf("10.77.0.%d", 10+n); h.IP4.String() != want {
			t.Errorf("host %d IP4 %s, want %s", n, h.IP4, want)
		}
		if !l.LAN4.Contains(h.IP4) || !l.LAN6.Contains(h.IP6) {
			t.Errorf("host %d addresses %s %s outside %s %s", n, h.IP4, h.IP6, l.LAN4, l.LAN6)
		}
		// The kernel must agree with the struct.
		out := l.Run(t, h.NS, "ip", "addr", "show", "dev", HostIf)
		for _, want := range []string{h.MAC.String(), h.IP4.String() + "/24", h.IP6.String() + "/64"} {
			if !strings.Contains(out, want) {
				t.Errorf("host %d eth0 lacks %s:\n%s", n, want, out)
			}
		}
		if !strings.Contains(l.Run(t, l.Router, "ip", "link", "show", "dev", h.RouterPort), "master "+Bridge) {
			t.Errorf("%s is not a port of %s", h.RouterPort, Bridge)
		}
		h.Ping(t, l.Internet4, 56, 3)
		h.Ping(t, l.Internet6, 56, 3)
	}
	// Bridged, host to host.
	l.Hosts[0].Ping(t, l.Hosts[1].IP4, 56, 3)
	l.Hosts[0].Ping(t, l.Hosts[2].IP6, 56, 3)

	for _, kv := range []string{"net.ipv4.ip_forward = 1", "net.ipv6.conf.all.forwarding = 1"} {
		if out := l.Run(t, l.Router, "sysctl", strings.Fields(kv)[0]); !strings.Contains(out, kv) {
			t.Errorf("router: %s, want %s", out, kv)
		}
	}
	if _, err := os.Stat("/proc/sys/net/bridge"); err == nil {
		if out := l.Run(t, l.Router, "sysctl", "net.bridge.bridge-nf-call-iptables"); !strings.Contains(out, "= 0") {
			t.Errorf("router: %s, want 0", out)
		}
	}

	if _, err := exec.LookPath("ethtool"); err == nil {
		for _, c := range []struct{ ns, dev string }{
			{l.Hosts[0].NS, HostIf}, {l.Router, l.Hosts[0].RouterPort}, {l.Router, WANIf}, {l.WAN, HostIf},
		} {
			out := l.Run(t, c.ns, "ethtool", "-k", c.dev)
			for _, f := range []string{"tcp-segmentation-offload", "tx-tcp-segmentation", "tx-tcp6-segmentation",
				"generic-segmentation-offload", "generic-receive-offload"} {
				if !regexp.MustCompile(`(?m)^\s*` + f + `: off`).MatchString(out) {
					t.Errorf("%s in %s: %s not off", c.dev, c.ns, f)
				}
			}
		}
	}

	h4 := l.AddHost(t)
	// The bridge must keep its MAC when a port joins, or hosts' cached
	// neighbour entries for the router go stale.
	if out := l.Run(t, l.Router, "ip", "link", "show", "dev", Bridge); !strings.Contains(out, "link/ether "+l.RouterMAC.String()) {
		t.Errorf("br-lan MAC is not %s after AddHost:\n%s", l.RouterMAC, out)
	}
	if h4.N != 4 || h4.IP4.String() != "10.77.0.14" || h4.IP6.String() != "fd77::14" || h4.RouterPort != "lan4" {
		t.Errorf("added host: %+v", h4)
	}
	h4.Ping(t, l.Internet4, 56, 2)
	h4.Ping(t, l.Hosts[0].IP6, 56, 2)

	// Flood: ping's own count, and the host's link counters, agree.
	h := l.Hosts[0]
	before := h.LinkStats(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := h.Flood(ctx, l.Internet4, 100, 2000)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if r.Transmitted != 2000 || r.Received != 2000 {
		t.Errorf("flood: %+v, want 2000/2000", r)
	}
	after := h.LinkStats(t)
	// Frames: 128 B IP + 14 B Ethernet; a few ND/MLD packets may ride along.
	if d := after.TxPackets - before.TxPackets; d < 2000 || d > 2010 {
		t.Errorf("eth0 sent %d packets during a 2000-packet flood", d)
	}
	if d := after.RxBytes - before.RxBytes; d < 2000*142 || d > 2000*142+2000 {
		t.Errorf("eth0 received %d bytes during the flood, want about %d", d, 2000*142)
	}

	l.FlushNeigh(t, h)
	if out := l.Run(t, l.Router, "ip", "neigh", "show", "dev", Bridge); strings.Contains(out, h.MAC.String()) {
		t.Errorf("router still has neighbours of %s after FlushNeigh:\n%s", h.MAC, out)
	}
}

// TestExactBytes proves the harness gives the exact counts the rest of the
// suite relies on, on both iptables backends, through NAT.
func TestExactBytes(t *testing.T) {
	for _, variant := range []string{"nft", "legacy"} {
		variant := variant
		t.Run(variant, func(t *testing.T) {
			l := New(t, Options{NumHosts: 2, Variant: variant})
			h := l.Hosts[0]
			ipt4, ipt6 := l.IPTables(false), l.IPTables(true)
			if ipt4 != "iptables-"+variant || ipt6 != "ip6tables-"+variant {
				t.Fatalf("IPTables: %s %s", ipt4, ipt6)
			}
			if out := l.Run(t, l.Router, ipt4+"-save", "-t", "nat"); !strings.Contains(out, "MASQUERADE") {
				t.Fatalf("no MASQUERADE rule:\n%s", out)
			}
			l.Run(t, l.Router, ipt4, "-w", "-t", "mangle", "-A", "FORWARD", "-s", h.IP4.String(), "-j", "RETURN")
			l.Run(t, l.Router, ipt6, "-w", "-t", "mangle", "-A", "FORWARD", "-s", h.IP6.String(), "-j", "RETURN")
			h.Ping(t, l.Internet4, 1000, 10)
			h.Ping(t, l.Internet6, 1000, 10)
			// Bridged host-to-host traffic must not reach FORWARD
			// (bridge-nf-call-ip(6)tables=0), or it would count too.
			h.Ping(t, l.Hosts[1].IP4, 500, 3)
			h.Ping(t, l.Hosts[1].IP6, 500, 3)
			for _, c := range []struct {
				bin, rule string
				want      string
			}{
				{ipt4, "-A FORWARD -s " + h.IP4.String() + "/32 -j RETURN", "[10:10280]"},
				{ipt6, "-A FORWARD -s " + h.IP6.String() + "/128 -j RETURN", "[10:10480]"},
			} {
				out := l.Run(t, l.Router, c.bin+"-save", "-c", "-t", "mangle")
				if !strings.Contains(out, c.want+" "+c.rule) {
					t.Errorf("%s: want %s %s in:\n%s", c.bin, c.want, c.rule, out)
				}
			}
			if n := 10 * EchoPacketBytes(l.Internet4, 1000); n != 10280 {
				t.Errorf("EchoPacketBytes v4: %d", n)
			}
			if n := 10 * EchoPacketBytes(l.Internet6, 1000); n != 10480 {
				t.Errorf("EchoPacketBytes v6: %d", n)
			}
		})
	}
}

// waitLine polls file for a line matching re.
func waitLine(t *testing.T, file string, re *regexp.Regexp, timeout time.Duration, d *Dnsmasq) string {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n") {
			if re.MatchString(line) {
				return line
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no line matching %q within %v; events:\n%s\ndnsmasq:\n%s", re, timeout, b, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDnsmasq(t *testing.T) {
	l := New(t, Options{NumHosts: 2})
	h1, h2 := l.Hosts[0], l.Hosts[1]
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	script := filepath.Join(dir, "record.sh")
	// The test's own recorder; PROBE shows whether dnsmasq passes its
	// environment on to the script.
	body := "#!/bin/sh\necho \"$* PROBE=$TESTLAN_PROBE\" >>" + shQuote(events) + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	probe := "p" + strconv.FormatInt(time.Now().UnixNano(), 36)
	d := l.StartDnsmasq(t, DnsmasqOptions{Script: script, Env: []string{"TESTLAN_PROBE=" + probe}, Faketime: true, DHCP: true})

	h1.Ping(t, l.RouterLAN4, 56, 1)
	h1.Ping(t, l.Internet4, 56, 1) // the router now knows its WAN gateway too
	// dnsmasq does not notice new neighbours by itself: its loop must wake.
	d.Rescan(t)
	q := regexp.QuoteMeta
	line := waitLine(t, events, regexp.MustCompile(`^arp-add `+q(h1.MAC.String())+` `+q(h1.IP4.String())+` `), 10*time.Second, d)
	if !strings.HasSuffix(line, "PROBE="+probe) {
		t.Errorf("script did not inherit dnsmasq's environment: %q", line)
	}
	// Consumers must filter this one out.
	waitLine(t, events, regexp.MustCompile(`^arp-add `+q(l.WANPeerMAC.String())+` `+q(l.WANPeer4.String())+` `), 10*time.Second, d)

	l.FlushNeigh(t, h1)
	d.Rescan(t)
	waitLine(t, events, regexp.MustCompile(`^arp-del `+q(h1.MAC.String())+` `+q(h1.IP4.String())+` `), 5*time.Second, d)

	lease, stop := h2.DHCP(t, "box2")
	lo, hi := netip.MustParseAddr("10.77.0.100"), netip.MustParseAddr("10.77.0.150")
	if lease.Less(lo) || hi.Less(lease) {
		t.Errorf("lease %s outside the DHCP range", lease)
	}
	waitLine(t, events, regexp.MustCompile(`^add `+q(h2.MAC.String())+` `+q(lease.String())+` box2 `), 5*time.Second, d)
	stop()
	waitLine(t, events, regexp.MustCompile(`^del `+q(h2.MAC.String())+` `+q(lease.String())), 5*time.Second, d)
	if out := l.Run(t, h2.NS, "ip", "-4", "addr", "show", "dev", HostIf); strings.Contains(out, lease.String()+"/") ||
		!strings.Contains(out, h2.IP4.String()+"/24") {
		t.Errorf("after release want only the static address:\n%s", out)
	}
	d.Stop()
	d.Stop() // idempotent
}

func TestCleanup(t *testing.T) {
	var names []string
	var sleeper *exec.Cmd
	var setup time.Duration
	var bodyEnd time.Time
	t.Run("lan", func(t *testing.T) {
		start := time.Now()
		l := New(t, Options{NumHosts: 3, Variant: "legacy"})
		setup = time.Since(start)
		h := l.AddHost(t)
		names = append(names, l.Router, l.WAN)
		for _, h := range l.Hosts {
			names = append(names, h.NS)
		}
		// A process left running in a namespace must not keep it alive.
		sleeper = l.Exec(context.Background(), h.NS, "sleep", "300")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until ip has joined the namespace and exec'd sleep.
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleeper.Process.Pid)); string(comm) == "sleep\n" {
				break
			}
			if time.Now().After(end) {
				t.Fatal("sleep did not start")
			}
		}
		listed := exec.Command("ip", "netns", "list")
		out, err := listed.Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !strings.Contains(string(out), n) {
				t.Fatalf("%s not in ip netns list:\n%s", n, out)
			}
		}
		bodyEnd = time.Now()
	})
	teardown := time.Since(bodyEnd)
	t.Logf("3 hosts + legacy NAT: setup %v, teardown (4 hosts, a live process) %v", setup, teardown)
	if len(names) != 6 {
		t.Fatalf("subtest did not get far: %v", names)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed[f[0]] = true
		}
	}
	for _, n := range names {
		if listed[n] {
			t.Errorf("namespace %s survived cleanup", n)
		}
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("sleeper: %v, want killed", err)
		}
	case <-time.After(5 * time.Second):
		_ = sleeper.Process.Kill()
		t.Errorf("process in a host namespace survived cleanup")
	}
}

func TestParsePing(t *testing.T) {
	for _, c := range []struct {
		out  string
		want PingResult
		err  bool
	}{
		{"PING 10.79.0.1 (10.79.0.1) 1000(1028) bytes of data.\n\n--- 10.79.0.1 ping statistics ---\n10 packets transmitted, 10 received, 0% packet loss, time 92ms\nrtt min/avg/max/mdev = 0.030/0.041/0.061/0.009 ms\n", PingResult{10, 10}, false},
		{"--- fd79::1 ping statistics ---\n5 packets transmitted, 0 received, +5 errors, 100% packet loss, time 41ms\n", PingResult{5, 0}, false},
		{"200000 packets transmitted, 199999 received, 0.0005% packet loss, time 9000ms\n", PingResult{200000, 199999}, false},
		{"ping: connect: Network is unreachable\n", PingResult{}, true},
	} {
		got, err := ParsePing(c.out)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParsePing(%q) = %+v, %v; want %+v, error %v", c.out, got, err, c.want, c.err)
		}
	}
}

// recordTB captures Skip and Fatal instead of stopping the test.
type recordTB struct {
	testing.TB
	skipped, fatal bool
}

func (r *recordTB) Helper()             {}
func (r *recordTB) Skip(...any)         { r.skipped = true }
func (r *recordTB) Fatal(...any)        { r.fatal = true }
func (r *recordTB) Logf(string, ...any) {}

func TestUnavailableFailsInCI(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recordTB{TB: t}
	unavailable(r, "no %s", "thing")
	if !r.fatal || r.skipped {
		t.Errorf("with CI set: fatal=%v skipped=%v, want a failure", r.fatal, r.skipped)
	}
	t.Setenv("CI", "")
	r = &recordTB{TB: t}
	unavailable(r, "no %s", "thing")
	if r.fatal || !r.skipped {
		t.Errorf("without CI: fatal=%v skipped=%v, want a skip", r.fatal, r.skipped)
	}
}
