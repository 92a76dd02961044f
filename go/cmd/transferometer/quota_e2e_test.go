package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// Quotas end to end: the binary in the router namespace, real nftables,
// real TCP downloads from the WAN namespace, and an independent count of
// what reached the host: an nft counter in the host's own namespace.

// hostCounter counts, in h's namespace, the IP bytes h receives from the
// WAN's Internet4 and Internet6 (input hook: what arrived, not what was
// sent).
type hostCounter struct {
	lan *testlan.LAN
	h   *testlan.Host
}

func newHostCounter(t *testing.T, lan *testlan.LAN, h *testlan.Host) *hostCounter {
	t.Helper()
	lan.Run(t, h.NS, "nft", "add table inet qcount")
	lan.Run(t, h.NS, "nft", "add chain inet qcount in { type filter hook input priority 0 ; }")
	lan.Run(t, h.NS, "nft", "add rule inet qcount in ip saddr "+lan.Internet4.String()+" counter")
	lan.Run(t, h.NS, "nft", "add rule inet qcount in ip6 saddr "+lan.Internet6.String()+" counter")
	return &hostCounter{lan: lan, h: h}
}

var counterRE = regexp.MustCompile(`counter packets (\d+) bytes (\d+)`)

func (c *hostCounter) bytes(t *testing.T) uint64 {
	t.Helper()
	_, b := c.read(t)
	return b
}

// read returns the packets and IP bytes h received from the WAN.
func (c *hostCounter) read(t *testing.T) (packets, bytes uint64) {
	t.Helper()
	for _, m := range counterRE.FindAllStringSubmatch(c.lan.Run(t, c.h.NS, "nft", "list table inet qcount"), -1) {
		p, _ := strconv.ParseUint(m[1], 10, 64)
		n, _ := strconv.ParseUint(m[2], 10, 64)
		packets += p
		bytes += n
	}
	return packets, bytes
}

// download serves size bytes from dst (in the WAN namespace) over TCP to
// h and returns the payload bytes h's receiver read before the connection
// ended or stalled for 2 s. Both ends are this test binary, run as a
// helper process in the namespaces (TestQuotaHelperProcess).
func download(t *testing.T, lan *testlan.LAN, h *testlan.Host, dst netip.Addr, port int, size int64) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := net.JoinHostPort(dst.String(), strconv.Itoa(port))
	_, stop := wanHelper(ctx, t, lan, "serve", addr, "QUOTA_SIZE="+strconv.FormatInt(size, 10))
	defer stop()
	cli := lan.Exec(ctx, h.NS, helperBinary(t), "-test.run=^TestQuotaHelperProcess$")
	cli.Env = append(os.Environ(), helperEnv+"=recv", "QUOTA_ADDR="+addr)
	b, err := cli.Output()
	if err != nil {
		t.Fatalf("helper receiver: %v %s", err, b)
	}
	m := regexp.MustCompile(`received (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("helper receiver: %s", b)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

const helperEnv = "TRANSFEROMETER_QUOTA_HELPER"

// helperBinary is this test binary, by the path the kernel knows it by
// (in the guest, argv[0] names a path the namespaces do not see).
func helperBinary(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQuotaHelperProcess is not a test: download runs the test binary
// with it as a TCP server or receiver inside a namespace. Without the
// environment variable it does nothing.
func TestQuotaHelperProcess(t *testing.T) {
	addr := os.Getenv("QUOTA_ADDR")
	switch os.Getenv(helperEnv) {
	case "serve":
		c := acceptOne(addr)
		if c == nil {
			os.Exit(1)
		}
		writeN(c, envSize(), 0)
		os.Exit(0)
	case "sink":
		c := acceptOne(addr)
		fmt.Printf("received %d\n", readAll(c))
		os.Exit(0)
	case "send":
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			writeN(c, envSize(), 3*time.Second)
		}
		os.Exit(0)
	case "recv":
		var c net.Conn
		var err error
		for i := 0; i < 3; i++ {
			if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
				break
			}
		}
		fmt.Printf("received %d\n", readAll(c))
		os.Exit(0)
	}
}

func envSize() int64 {
	size, _ := strconv.ParseInt(os.Getenv("QUOTA_SIZE"), 10, 64)
	return size
}

// acceptOne listens on addr, says "listening" (the test waits for it)
// and returns the first connection, nil if the accept failed.
func acceptOne(addr string) net.Conn {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	c, err := ln.Accept()
	if err != nil {
		return nil
	}
	return c
}

// writeN writes size bytes to c and closes it; a write stalled for
// stall (when not 0) ends it, as does any error: the quota stops it.
func writeN(c net.Conn, size int64, stall time.Duration) {
	if c == nil {
		return
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for size > 0 {
		n := int64(len(buf))
		if n > size {
			n = size
		}
		if stall > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(stall))
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
		size -= n
	}
}

// readAll counts what arrives on c (0 for nil) until the sender stops
// or stalls for 2 s, and closes it.
func readAll(c net.Conn) int64 {
	if c == nil {
		return 0
	}
	defer c.Close()
	var total int64
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		total += int64(n)
		if err != nil {
			return total
		}
	}
}

// wanHelper starts the helper process as mode (serve or sink) in the WAN
// namespace, listening on addr, and returns its output past the line
// saying it listens, and a stop that ends it.
func wanHelper(ctx context.Context, t *testing.T, lan *testlan.LAN, mode, addr string, env ...string) (*bufio.Reader, func()) {
	t.Helper()
	srv := lan.Exec(ctx, lan.WAN, helperBinary(t), "-test.run=^TestQuotaHelperProcess$")
	srv.Env = append(append(os.Environ(), helperEnv+"="+mode, "QUOTA_ADDR="+addr), env...)
	var srvErr strings.Builder
	srv.Stderr = &srvErr
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { _ = srv.Process.Kill(); _ = srv.Wait() }
	rd := bufio.NewReader(out)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "listening") {
		stop()
		t.Fatalf("helper %s: %q %v %s", mode, line, err, srvErr.String())
	}
	return rd, stop
}

// upload sends size bytes from h to dst (in the WAN namespace) and returns
// what the receiver there read.
func upload(t *testing.T, lan *testlan.LAN, h *testlan.Host, dst netip.Addr, port int, size int64) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := net.JoinHostPort(dst.String(), strconv.Itoa(port))
	rd, stop := wanHelper(ctx, t, lan, "sink", addr)
	defer stop()
	cli := lan.Exec(ctx, h.NS, helperBinary(t), "-test.run=^TestQuotaHelperProcess$")
	cli.Env = append(os.Environ(), helperEnv+"=send", "QUOTA_ADDR="+addr, "QUOTA_SIZE="+strconv.FormatInt(size, 10))
	if b, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("helper sender: %v %s", err, b)
	}
	line, err := rd.ReadString('\n')
	m := regexp.MustCompile(`received (\d+)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("helper sink: %q %v", line, err)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestQuotaUploadE2E: an upload quota stops h1's upload at its allowance
// (counted where it arrives, in the WAN namespace), and the ledger agrees
// to the byte with what crossed the router, in both placements (the
// netdev one drops on ingress, before its counting chain).
func TestQuotaUploadE2E(t *testing.T) {
	testlan.RequireTools(t, "nft")
	for _, v := range []string{"nftables", "netdev"} {
		t.Run(v, func(t *testing.T) {
			const limit, mtu = 3_000_000, 1500
			r := newRig(t, v, 1)
			h1 := r.lan.Hosts[0]
			r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\n"+
				"config quota 'up'\n\tlist mac '%s'\n\toption limit '3MB'\n\toption direction 'up'\n",
				filepath.Join(t.TempDir(), "flash"), h1.MAC))
			r.runTZ(t, tzToday, "arp-add", h1.MAC.String(), h1.IP4.String())
			// The WAN's own count of what h1 sent it: IP bytes of the
			// transfer's port (the router masquerades h1's address).
			r.lan.Run(t, r.lan.WAN, "nft", "add table inet qcount")
			r.lan.Run(t, r.lan.WAN, "nft", "add chain inet qcount in { type filter hook input priority 0 ; }")
			r.lan.Run(t, r.lan.WAN, "nft", "add rule inet qcount in tcp dport 5601 counter")
			got := upload(t, r.lan, h1, r.lan.Internet4, 5601, 10_000_000)
			out := r.lan.Run(t, r.lan.WAN, "nft", "list table inet qcount")
			m := counterRE.FindStringSubmatch(out)
			arrived, _ := strconv.ParseUint(m[2], 10, 64)
			t.Logf("upload: %d payload bytes arrived, %d IP bytes (allowance %d)", got, arrived, limit)
			if arrived > limit || arrived+mtu <= limit {
				t.Fatalf("%d bytes arrived, want the allowance %d and less than one more packet", arrived, limit)
			}
			u := r.quotaUsage(t, tzToday)
			if u.Quotas[0].State != "blocked" {
				t.Fatalf("quota %+v", u.Quotas[0])
			}
			if u.Quotas[0].Used != arrived {
				t.Fatalf("ledger %d, arrived %d: they must agree to the byte", u.Quotas[0].Used, arrived)
			}
		})
	}
}

// quotaUsage is the quota part of usage --json.
type quotaUsage struct {
	Hosts []struct {
		MAC           string `json:"mac"`
		DownloadBytes uint64 `json:"download_bytes"`
		Quota         *struct {
			Name      string `json:"name"`
			Limit     uint64 `json:"limit"`
			Used      uint64 `json:"used"`
			Remaining uint64 `json:"remaining"`
			State     string `json:"state"`
		} `json:"quota"`
	} `json:"hosts"`
	Quotas []struct {
		Name      string   `json:"name"`
		Members   []string `json:"members"`
		Limit     uint64   `json:"limit"`
		Used      uint64   `json:"used"`
		Remaining uint64   `json:"remaining"`
		State     string   `json:"state"`
		Key       string   `json:"key"`
	} `json:"quotas"`
	Warnings []struct {
		Code string `json:"code"`
	} `json:"warnings"`
}

// runTZ runs the binary in the router namespace with TZ set: the router's
// clock is the test's, its zone says which day it is.
func (r *rig) runTZ(t *testing.T, tz string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, args...)
	cmd.Env = append(r.env(), "TZ="+tz)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("transferometer %v (TZ=%s): %v\n%s", args, tz, err, out)
	}
	return string(out)
}

func (r *rig) quotaUsage(t *testing.T, tz string) quotaUsage {
	t.Helper()
	var u quotaUsage
	out := r.runTZ(t, tz, "usage", "--json")
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("usage --json: %v\n%s", err, out)
	}
	return u
}

// quotaObject reads a quota object's allowance and count from the
// router's quota table.
func (r *rig) quotaObject(t *testing.T, name string) (limit, used uint64) {
	t.Helper()
	out := r.lan.Run(t, r.lan.Router, "nft", "list", "quota", r.quotaFamily(), "transferometer_quota", name)
	m := regexp.MustCompile(`over (\d+) bytes(?: used (\d+) bytes)?`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("quota %s: %s", name, out)
	}
	limit, _ = strconv.ParseUint(m[1], 10, 64)
	used, _ = strconv.ParseUint(m[2], 10, 64)
	return limit, used
}

// quotaFamily is the quota table's family: netdev in the netdev placement.
func (r *rig) quotaFamily() string {
	if r.netdev() {
		return "netdev"
	}
	return "inet"
}

// Two zones a day apart: the same instant is one day later in the second
// (UTC-12, then UTC+12), and with one-day periods one period later.
const (
	tzToday    = "AAA12"
	tzTomorrow = "BBB-12"
)

// TestQuotaE2E: a 5 MB download quota on h1, shared by its IPv4 and IPv6
// addresses, stops a 20 MB download with h1 having received 5 MB and less
// than one more packet (h1's own count), agreeing with the ledger to the
// byte; h2, DNS and the router stay reachable; a reboot restores the count
// exactly; kill -9 of the daemon leaves the kernel enforcing; a new period
// and a reset lift the block.
func TestQuotaE2E(t *testing.T) {
	testlan.RequireTools(t, "nft", "dnsmasq", "busybox")
	for _, v := range []string{"nftables", "netdev"} {
		t.Run(v, func(t *testing.T) { testQuotaE2E(t, v) })
	}
}

func testQuotaE2E(t *testing.T, variant string) {
	const limit = 5_000_000
	const mtu = 1500
	r := newRig(t, variant, 2)
	h1, h2 := r.lan.Hosts[0], r.lan.Hosts[1]
	flash := filepath.Join(t.TempDir(), "flash")
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\toption refresh_interval '1'\n\toption live_port '0'\n\toption live_tls_port '0'\n"+
		"\toption period 'days'\n\toption period_days '1'\n\toption period_start '2026-01-01'\n\n"+
		"config quota 'h1'\n\tlist mac '%s'\n\toption limit '5MB'\n\toption direction 'down'\n\toption action 'block'\n",
		flash, h1.MAC))
	for _, a := range []netip.Addr{h1.IP4, h1.IP6} {
		r.runTZ(t, tzToday, "arp-add", h1.MAC.String(), a.String())
	}
	r.runTZ(t, tzToday, "arp-add", h2.MAC.String(), h2.IP4.String())
	if l, u := r.quotaObject(t, "q_h1"); l != limit || u != 0 {
		t.Fatalf("quota object: %d of %d", u, l)
	}
	count := newHostCounter(t, r.lan, h1)
	// The router's DNS (a dnsmasq answering one name, on br-lan only).
	dns := r.lan.Exec(context.Background(), r.lan.Router, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-hosts",
		"--no-resolv", "--interface="+testlan.Bridge, "--bind-interfaces", "--pid-file", "--user=root", "--address=/quota.test/10.77.0.1", "--address=/quota.test/fd77::1")
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dns.Process.Kill(); _ = dns.Wait() })

	// 2 MB over IPv6: within the allowance, all of it.
	if got := download(t, r.lan, h1, r.lan.Internet6, 5301, 2_000_000); got != 2_000_000 {
		t.Fatalf("IPv6 download within the allowance: %d bytes", got)
	}
	// A reboot: the kernel's tables gone, the state files kept. The quota
	// is made again with exactly the ledger's count.
	r.runTZ(t, tzToday, "collect")
	ledger6 := r.quotaUsage(t, tzToday).Quotas[0].Used
	r.flushRules(t)
	r.lan.Run(t, r.lan.Router, "nft", "delete", "table", r.quotaFamily(), "transferometer_quota")
	r.runTZ(t, tzToday, "collect")
	if _, u := r.quotaObject(t, "q_h1"); u != ledger6 || u != count.bytes(t) {
		t.Fatalf("after the reboot the object counts %d, the ledger %d, h1 received %d", u, ledger6, count.bytes(t))
	}

	// 20 MB over IPv4: stopped at the allowance.
	p0, _ := count.read(t)
	got := download(t, r.lan, h1, r.lan.Internet4, 5302, 20_000_000)
	packets, received := count.read(t)
	// The netdev placement's quota sees downloads on egress, as Ethernet
	// frames: 14 bytes more per packet than the IP bytes counted (since
	// the reboot made it again from the ledger's IP bytes).
	seen := received
	if r.netdev() {
		seen += 14 * (packets - p0)
	}
	t.Logf("IPv4 download: %d payload bytes; h1 received %d IP bytes in %d packets in all (allowance %d, quota saw %d)", got, received, packets, limit, seen)
	if seen > limit+mtu || seen+mtu <= limit {
		t.Fatalf("the quota saw %d bytes, want the allowance %d and at most one more packet", seen, limit)
	}
	if got >= 20_000_000-2_000_000 {
		t.Fatalf("the download was not stopped: %d bytes", got)
	}
	u := r.quotaUsage(t, tzToday)
	var h1Down uint64
	for _, h := range u.Hosts {
		if h.MAC == h1.MAC.String() {
			h1Down = h.DownloadBytes
			if h.Quota == nil || h.Quota.Name != "h1" || h.Quota.State != "blocked" || h.Quota.Remaining != 0 {
				t.Errorf("h1's quota in usage: %+v", h.Quota)
			}
		}
	}
	if h1Down != received || u.Quotas[0].Used != received {
		t.Fatalf("ledger: h1 downloaded %d, quota used %d; h1 received %d: they must agree to the byte", h1Down, u.Quotas[0].Used, received)
	}
	if u.Quotas[0].State != "blocked" {
		t.Fatalf("quota state %+v", u.Quotas[0])
	}
	// Blocked for IPv6 too; h2 unaffected; the router's own services
	// (DNS, its addresses) reachable.
	if got := download(t, r.lan, h1, r.lan.Internet6, 5303, 100_000); got != 0 {
		t.Fatalf("IPv6 after the block: %d bytes", got)
	}
	if got := download(t, r.lan, h2, r.lan.Internet4, 5304, 1_000_000); got != 1_000_000 {
		t.Fatalf("h2: %d bytes", got)
	}
	h1.Ping(t, r.lan.RouterLAN4, 100, 2)
	h1.Ping(t, r.lan.RouterLAN6, 100, 2)
	if out := r.lan.Run(t, h1.NS, "busybox", "nslookup", "quota.test", r.lan.RouterLAN4.String()); !strings.Contains(out, "10.77.0.1") {
		t.Fatalf("DNS from h1: %s", out)
	}

	// The daemon killed with -9: the kernel goes on enforcing.
	d := r.startDaemon(t, "TZ="+tzToday)
	time.Sleep(1500 * time.Millisecond)
	_ = d.cmd.Process.Kill()
	<-d.done
	if got := download(t, r.lan, h1, r.lan.Internet4, 5305, 100_000); got != 0 {
		t.Fatalf("after kill -9 of the daemon: %d bytes", got)
	}

	// A new period (the router's zone a day later) lifts the block.
	r.runTZ(t, tzTomorrow, "collect")
	if l, u := r.quotaObject(t, "q_h1"); l != limit || u != 0 {
		t.Fatalf("new period: object %d of %d", u, l)
	}
	if got := download(t, r.lan, h1, r.lan.Internet4, 5306, 1_000_000); got != 1_000_000 {
		t.Fatalf("new period: %d bytes", got)
	}
	// Used up again, then a reset lifts it.
	before := count.bytes(t)
	download(t, r.lan, h1, r.lan.Internet4, 5307, 20_000_000)
	if n := count.bytes(t) - before; n > limit+mtu {
		t.Fatalf("second period: h1 received %d", n)
	}
	if got := download(t, r.lan, h1, r.lan.Internet4, 5308, 100_000); got != 0 {
		t.Fatalf("blocked again: %d bytes", got)
	}
	r.runTZ(t, tzTomorrow, "reset", "--mac", h1.MAC.String())
	if got := download(t, r.lan, h1, r.lan.Internet4, 5309, 1_000_000); got != 1_000_000 {
		t.Fatalf("after a reset: %d bytes", got)
	}
}

// TestQuotaThrottleE2E: past its allowance a throttled device gets the
// set rate: measured in the device's own namespace over 4 s of a TCP
// download, within 10 % of it.
func TestQuotaThrottleE2E(t *testing.T) {
	testlan.RequireTools(t, "nft")
	const rateKbit = 8000
	r := newRig(t, "nftables", 1)
	h1 := r.lan.Hosts[0]
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\n"+
		"config quota 'slow'\n\tlist mac '%s'\n\toption limit '100kB'\n\toption direction 'down'\n\toption action 'throttle'\n\toption rate '%d'\n",
		filepath.Join(t.TempDir(), "flash"), h1.MAC, rateKbit))
	r.runTZ(t, tzToday, "arp-add", h1.MAC.String(), h1.IP4.String())
	count := newHostCounter(t, r.lan, h1)
	done := make(chan int64, 1)
	go func() { done <- download(t, r.lan, h1, r.lan.Internet4, 5401, 8_000_000) }()
	// Past the allowance and TCP's start, measure.
	deadline := time.Now().Add(10 * time.Second)
	for count.bytes(t) < 400_000 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	b0, t0 := count.bytes(t), time.Now()
	time.Sleep(4 * time.Second)
	b1, t1 := count.bytes(t), time.Now()
	kbit := float64(b1-b0) * 8 / 1000 / t1.Sub(t0).Seconds()
	t.Logf("throttled to %d kbit/s: measured %.0f kbit/s (%d bytes in %v)", rateKbit, kbit, b1-b0, t1.Sub(t0))
	if kbit < rateKbit*0.9 || kbit > rateKbit*1.1 {
		t.Errorf("measured %.0f kbit/s, want %d ± 10 %%", kbit, rateKbit)
	}
	<-done
	u := r.quotaUsage(t, tzToday)
	if len(u.Quotas) != 1 || u.Quotas[0].State != "throttled" {
		t.Errorf("quota %+v", u.Quotas)
	}
}

// rpcdCall runs `rpcd call METHOD` in the router namespace with args on
// stdin, as rpcd does.
func (r *rig) rpcdCall(t *testing.T, method, args string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, "rpcd", "call", method)
	cmd.Env = append(r.env(), "TZ="+tzToday)
	cmd.Stdin = strings.NewReader(args)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpcd call %s: %v %s", method, err, out)
	}
	return string(out)
}

// TestQuotaButtonsE2E: the page's buttons through ubus: an extra
// allowance for today lets exactly that much more through, a lift ends
// the block until the period ends; bad arguments change nothing.
func TestQuotaButtonsE2E(t *testing.T) {
	testlan.RequireTools(t, "nft")
	const limit, extra, mtu = 1_000_000, 1_500_000, 1500
	r := newRig(t, "nftables", 1)
	h1 := r.lan.Hosts[0]
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\n"+
		"config quota 'h1'\n\tlist mac '%s'\n\toption limit '1MB'\n\toption direction 'both'\n",
		filepath.Join(t.TempDir(), "flash"), h1.MAC))
	r.runTZ(t, tzToday, "arp-add", h1.MAC.String(), h1.IP4.String())
	count := newHostCounter(t, r.lan, h1)
	download(t, r.lan, h1, r.lan.Internet4, 5501, 5_000_000)
	first := count.bytes(t)
	if first > limit {
		t.Fatalf("received %d of an allowance of %d", first, limit)
	}
	for _, c := range []struct{ method, args, code string }{
		{"quota_extra", `{"name":"nope","bytes":5}`, "not_found"},
		{"quota_extra", `{"name":"h1","bytes":0}`, "invalid_argument"},
		{"quota_extra", `{"name":"h1","bytes":"lots"}`, "invalid_argument"},
		{"quota_lift", `{}`, "invalid_argument"},
		{"quota_lift", `{"name":"h1","mac":"02:00:00:00:99:99"}`, "invalid_argument"},
	} {
		if out := r.rpcdCall(t, c.method, c.args); !strings.Contains(out, `"code":"`+c.code+`"`) {
			t.Errorf("%s %s: %s, want code %s", c.method, c.args, out, c.code)
		}
	}
	if got := download(t, r.lan, h1, r.lan.Internet4, 5502, 100_000); got != 0 {
		t.Fatalf("bad calls changed the block: %d bytes", got)
	}
	out := r.rpcdCall(t, "quota_extra", fmt.Sprintf(`{"name":"h1","bytes":%d}`, extra))
	if !strings.Contains(out, fmt.Sprintf(`"extra":%d`, extra)) {
		t.Fatalf("quota_extra: %s", out)
	}
	download(t, r.lan, h1, r.lan.Internet4, 5503, 5_000_000)
	// Both directions count: h1's own uploads (ACKs) use the allowance too.
	total := count.bytes(t)
	u := r.quotaUsage(t, tzToday)
	t.Logf("after the extra: h1 received %d, the quota used %d of %d", total, u.Quotas[0].Used, limit+extra)
	if u.Quotas[0].Used > limit+extra || u.Quotas[0].Used+mtu <= limit+extra || u.Quotas[0].State != "blocked" {
		t.Fatalf("after the extra: %+v", u.Quotas[0])
	}
	out = r.rpcdCall(t, "quota_lift", `{"name":"h1"}`)
	if !strings.Contains(out, `"lifted":true`) {
		t.Fatalf("quota_lift: %s", out)
	}
	if got := download(t, r.lan, h1, r.lan.Internet4, 5504, 3_000_000); got != 3_000_000 {
		t.Fatalf("after the lift: %d bytes", got)
	}
}

// TestQuotaTableLifecycleE2E: the quota table goes with the quotas, with
// enabled '0', and with a switch to the iptables backend (which does not
// enforce quotas, and says so).
func TestQuotaTableLifecycleE2E(t *testing.T) {
	testlan.RequireTools(t, "nft")
	r := newRig(t, "nftables", 1)
	h1 := r.lan.Hosts[0]
	quota := fmt.Sprintf("\toption persist_dir '%s'\n\nconfig quota 'h1'\n\tlist mac '%s'\n\toption limit '1GB'\n", filepath.Join(t.TempDir(), "flash"), h1.MAC)
	has := func() bool {
		return strings.Contains(r.lan.Run(t, r.lan.Router, "nft", "list", "tables"), "table inet transferometer_quota")
	}
	r.writeConfig(t, quota)
	r.runTZ(t, tzToday, "arp-add", h1.MAC.String(), h1.IP4.String())
	if !has() {
		t.Fatal("no quota table")
	}
	// The CLI: the quotas, a bad lift refused (exit 2), an extra.
	if out := r.runTZ(t, tzToday, "quota"); !strings.HasPrefix(out, "h1: ") || !strings.Contains(out, " ok") {
		t.Fatalf("quota: %q", out)
	}
	if res := r.exec(t, "quota", "lift", "nope"); res.code != 2 || !strings.Contains(res.stderr, "no such quota") {
		t.Fatalf("quota lift nope: %+v", res)
	}
	if res := r.exec(t, "quota", "extra", "h1", "0"); res.code != 2 {
		t.Fatalf("quota extra h1 0: %+v", res)
	}
	if out := r.runTZ(t, tzToday, "quota", "extra", "h1", "1.5kB"); !strings.Contains(out, `"extra": 1500`) {
		t.Fatalf("quota extra: %s", out)
	}
	if l, _ := r.quotaObject(t, "q_h1"); l != 1_000_001_500 {
		t.Fatalf("allowance after the extra: %d", l)
	}
	r.writeConfig(t, "")
	r.runTZ(t, tzToday, "collect")
	if has() {
		t.Fatal("quota table left without quotas")
	}
	r.writeConfig(t, quota)
	r.runTZ(t, tzToday, "collect")
	r.writeConfig(t, quota+"\nconfig transferometer 'main'\n\toption enabled '0'\n")
	r.runTZ(t, tzToday, "teardown")
	if has() {
		t.Fatal("quota table left by teardown")
	}
	r.writeConfig(t, quota)
	r.runTZ(t, tzToday, "collect")
	r.variant = "nft" // iptables-nft
	r.writeConfig(t, quota)
	u := r.quotaUsage(t, tzToday)
	if has() {
		t.Fatal("quota table left after the switch to iptables")
	}
	warned := false
	for _, w := range u.Warnings {
		warned = warned || w.Code == "quota_backend"
	}
	if !warned || len(u.Quotas) != 1 {
		t.Fatalf("iptables: warnings %+v, quotas %+v", u.Warnings, u.Quotas)
	}
}
