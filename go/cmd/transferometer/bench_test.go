package main

// Benchmarks for issues 2 (per-event cost, process launches, forwarding
// throughput) and 3 (rpcd latency). They need root and build real netns
// LANs (testlan), so they skip like the e2e tests elsewhere. They are never
// timed assertions: they report numbers, and fail only when the setup they
// measure is wrong (a rule count, a command's exit status).
//
// Run them with scripts/bench.sh (make bench); docs/benchmarks.md has the
// numbers and how to read them. By hand:
//
//	cd go && TRANSFEROMETER_BIN=$PWD/../build/transferometer go test -run '^$' \
//	    -bench 'ArpAdd|Collect|IPTables|Execs|RPCD|ExecTrue|ExecVersion' -benchtime=20x ./cmd/transferometer
//	cd go && go test -run '^$' -bench Forwarding -benchtime=1x ./cmd/transferometer
//
// How the product is launched. dnsmasq, hotplug and rpcd fork and exec
// transferometer directly in the router's namespace. `ip netns exec` (what
// the e2e tests use) is a process of its own that also unshares a mount
// namespace and remounts /sys before it execs, a cost the product never
// pays. So the timed operations here are launched from an OS thread that has
// joined the router namespace with setns(2) (nsRunner): one fork and exec,
// as dnsmasq does it. BenchmarkNetnsExecTrue measures what `ip netns exec`
// would add, BenchmarkExecTrue the bare fork+exec floor, and
// BenchmarkExecVersion the Go runtime's start (transferometer --version).
//
// Metrics: ns/op is the mean of the timed launches (process start to exit;
// untimed set-up and clean-up steps are left out), p50-ms their median.
// Synthetic hosts are IPv4 addresses in benchSubnet, written straight into
// host.db and turned into rules by one `collect` (one iptables-restore batch).

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/testlan"
)

// benchSubnet is added to the LAN subnets for synthetic hosts.
const benchSubnet = "10.80.0.0/16"

// benchCounts are the host counts of the per-event and forwarding
// benchmarks; rpcdCounts those of the rpcd latency benchmark.
var (
	benchCounts = []int{0, 254, 1024}
	rpcdCounts  = []int{254, 1024, 4096}
)

// ---------------------------------------------------------------------------
// Launching processes in the router namespace without `ip netns exec`.

// setnsSyscall is setns(2) per architecture: package syscall lacks
// SYS_SETNS on amd64 and 386, and one file cannot name it on the others.
// Elsewhere nsRunner falls back to `ip netns exec`.
var setnsSyscall = map[string]uintptr{
	"amd64": 308, "386": 346, "arm64": 268, "arm": 375, "riscv64": 268,
}

// nsRunner launches processes from one OS thread locked into a network
// namespace: a child forked there starts in that namespace, one fork+exec
// and nothing else, as dnsmasq launches its script.
type nsRunner struct {
	ns     string
	direct bool
	reqs   chan func()
	done   chan struct{}
}

func newNSRunner(b testing.TB, ns string) *nsRunner {
	b.Helper()
	n := &nsRunner{ns: ns}
	nr, ok := setnsSyscall[runtime.GOARCH]
	if !ok {
		b.Logf("no setns number for %s: launching through `ip netns exec` (adds its cost, see BenchmarkNetnsExecTrue)", runtime.GOARCH)
		return n
	}
	n.direct = true
	n.reqs = make(chan func())
	n.done = make(chan struct{})
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread has left the host namespace, so the
		// runtime must discard it when this goroutine ends.
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err == nil {
			if _, _, e := syscall.RawSyscall(nr, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
				err = fmt.Errorf("setns %s: %w", ns, e)
			}
			f.Close()
		}
		ready <- err
		if err != nil {
			close(n.done)
			return
		}
		for fn := range n.reqs {
			fn()
		}
		close(n.done)
	}()
	if err := <-ready; err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { close(n.reqs); <-n.done })

	// Prove a child really starts in ns.
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", ns), &st); err != nil {
		b.Fatal(err)
	}
	res := n.run("readlink", []string{"/proc/self/ns/net"}, os.Environ(), nil)
	if want := fmt.Sprintf("net:[%d]", st.Ino); strings.TrimSpace(string(res.stdout)) != want || res.code != 0 {
		b.Fatalf("child of the setns thread is in %q (exit %d), want %s", res.stdout, res.code, want)
	}
	return n
}

type runResult struct {
	dur            time.Duration
	stdout, stderr []byte
	code           int
}

// run launches name in the namespace and times it from start to exit.
// name without a slash is looked up on the test's PATH; env is the child's.
func (n *nsRunner) run(name string, args, env []string, stdin []byte) runResult {
	var res runResult
	launch := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var cmd *exec.Cmd
		if n.direct {
			cmd = exec.CommandContext(ctx, name, args...)
		} else {
			cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.ns, name}, args...)...)
		}
		cmd.Env = env
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		start := time.Now()
		err := cmd.Run()
		res.dur = time.Since(start)
		res.stdout, res.stderr = so.Bytes(), se.Bytes()
		if err != nil {
			res.code = -1
			if ee, ok := err.(*exec.ExitError); ok {
				res.code = ee.ExitCode()
			}
			if res.code == -1 {
				res.stderr = append(res.stderr, []byte(err.Error())...)
			}
		}
	}
	if !n.direct {
		launch()
		return res
	}
	finished := make(chan struct{})
	n.reqs <- func() { launch(); close(finished) }
	<-finished
	return res
}

// ---------------------------------------------------------------------------
// The rig: a testlan LAN, a config with benchSubnet, a runner in the router.

type benchRig struct {
	*rig
	ns        *nsRunner
	populated int // synthetic hosts in host.db and the rules; -1 unknown
	next      int // numbers the new hosts of arp-add runs
}

func newBenchRig(b *testing.B, variant string, lanHosts int) *benchRig {
	b.Helper()
	r := newRig(b, variant, lanHosts)
	// The benchmarks account up to 4096 active hosts: above the default
	// max_devices, which would let most of them go.
	r.always = "\toption max_devices '65536'\n"
	// On OpenWrt db_dir (/var/lib), the lock and the PID file live in RAM
	// (/var is /tmp, a tmpfs), where fsync costs nothing. t.TempDir() is
	// usually on disk, where each of an event's five fsyncs waits for it.
	if dir := ramDir(b); dir != "" {
		r.lockDir, r.dbDir = filepath.Join(dir, "lock"), filepath.Join(dir, "db")
	}
	// persist_dir (the ledger's copy on flash) is read once, by the first
	// run: point it at an empty directory, never at this machine's /etc.
	r.writeConfig(b, "\tlist subnet '"+benchSubnet+"'\n\toption persist_dir '"+filepath.Join(b.TempDir(), "persist")+"'\n")
	if err := os.MkdirAll(r.dbDir, 0o755); err != nil {
		b.Fatal(err)
	}
	return &benchRig{rig: r, ns: newNSRunner(b, r.lan.Router), populated: -1}
}

// ramDir is a fresh directory on the tmpfs /run (where the settings take
// runtime paths, as OpenWrt's /var on /tmp), removed at cleanup; "" (and a
// log line) where /run is not a tmpfs.
func ramDir(b testing.TB) string {
	b.Helper()
	const tmpfsMagic = 0x01021994
	var st syscall.Statfs_t
	if err := syscall.Statfs("/run", &st); err != nil || st.Type != tmpfsMagic {
		b.Logf("/run is not a tmpfs: ledger and lock stay in %s", os.TempDir())
		return ""
	}
	dir, err := os.MkdirTemp("/run", "transferometer-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// launch runs the binary with args in the router namespace; it fails the
// benchmark unless the binary exits 0.
func (br *benchRig) launch(b testing.TB, env []string, args ...string) runResult {
	b.Helper()
	res := br.ns.run(br.bin, args, env, nil)
	if res.code != 0 {
		b.Fatalf("transferometer %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res
}

func (br *benchRig) timed(b testing.TB, args ...string) time.Duration {
	b.Helper()
	return br.launch(b, br.env(), args...).dur
}

// synthHost is synthetic host i (0-based): 10.80.0.1, 10.80.0.2, ...
func synthHost(i int) (netip.Addr, macaddr.MAC) {
	n := i + 1
	return netip.AddrFrom4([4]byte{10, 80, byte(n >> 8), byte(n)}),
		macaddr.MAC{0x02, 0x80, 0, 0, byte(i >> 8), byte(i)}
}

// newHost is a host nothing has seen: 10.80.200.0 upwards, far above the
// synthetic ones (at most 4096 of them, up to 10.80.16.0).
func (br *benchRig) newHost() (ip, mac string) {
	k := br.next
	br.next++
	a := netip.AddrFrom4([4]byte{10, 80, byte(200 + (k>>8)%50), byte(k)})
	m := macaddr.MAC{0x02, 0x81, 0, 0, byte(k >> 8), byte(k)}
	return a.String(), m.String()
}

// populate makes host.db hold exactly n synthetic IPv4 hosts and runs one
// collect, which creates their 2n rules in one batch. It checks the rules.
func (br *benchRig) populate(b testing.TB, n int) {
	b.Helper()
	if br.populated == n {
		return
	}
	h := ledger.NewHosts()
	now := time.Now().Unix()
	for i := 0; i < n; i++ {
		ip, mac := synthHost(i)
		h.IPs[ip] = ledger.IPEntry{MAC: mac, FirstSeen: now, LastSeen: now}
		h.Devices[mac] = &ledger.DeviceInfo{Hostname: "bench-" + strconv.Itoa(i), FirstSeen: now, LastSeen: now}
	}
	if err := (ledger.Store{Dir: br.dbDir}).SaveHosts(h); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	br.launch(b, br.env(), "collect")
	took := time.Since(start)
	br.checkRules(b, 2*n)
	br.populated = n
	b.Logf("populated %d hosts (%d rules) in one collect: %v", n, 2*n, took.Round(time.Millisecond))
}

// forwardRules lists the lines of our FORWARD chain in one family's save
// (for nftables: the host set elements, rendered as such lines, without
// counters).
func (br *benchRig) forwardRules(b testing.TB, v6, counters bool) []string {
	b.Helper()
	if br.nft() {
		var rules []string
		for _, l := range br.nftLines(b, map[bool]string{false: "ip", true: "ip6"}[v6]) {
			if strings.HasPrefix(l, "-A TRANSFEROMETER_FORWARD ") {
				rules = append(rules, l)
			}
		}
		return rules
	}
	args := []string{"-t", "mangle"}
	if counters {
		args = append(args, "-c")
	}
	out := br.lan.Run(b, br.lan.Router, br.lan.IPTables(v6)+"-save", args...)
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "-A TRANSFEROMETER_FORWARD ") {
			rules = append(rules, l)
		}
	}
	return rules
}

func (br *benchRig) checkRules(b testing.TB, want4 int) {
	b.Helper()
	if got := len(br.forwardRules(b, false, false)); got != want4 {
		b.Fatalf("%d IPv4 per-host rules, want %d", got, want4)
	}
	if got := len(br.forwardRules(b, true, false)); got != 0 {
		b.Fatalf("%d IPv6 per-host rules, want 0", got)
	}
}

// reportLatency sets ns/op to the mean of the timed launches and reports
// their median as p50-ms.
func reportLatency(b *testing.B, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	var sum time.Duration
	for _, d := range durs {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(durs)), "ns/op")
	b.ReportMetric(p50ms(durs), "p50-ms")
}

// p50ms is the median of durs in milliseconds.
func p50ms(durs []time.Duration) float64 {
	s := append([]time.Duration(nil), durs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(med.Nanoseconds()) / 1e6
}

// perVariant runs fn as a sub-benchmark per iptables variant. fn's level
// has sub-benchmarks of its own, so it runs once: its rig is shared by them.
func perVariant(b *testing.B, fn func(b *testing.B, v string)) {
	for _, v := range variants() {
		if v == "nftables" || v == "netdev" {
			continue // these read iptables rules; bench_nft_test.go covers nftables
		}
		v := v
		b.Run(v, func(b *testing.B) { fn(b, v) })
	}
}

// ---------------------------------------------------------------------------
// Launch floors.

// BenchmarkNetnsExecTrue is `ip netns exec ROUTER true`: what the e2e
// tests' way of launching adds (ip, its mount namespace and /sys remount,
// then true). The product never pays it.
func BenchmarkNetnsExecTrue(b *testing.B) {
	r := newRig(b, "", 1)
	durs := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		cmd := r.lan.Exec(context.Background(), r.lan.Router, "true")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ip netns exec true: %v: %s", err, out)
		}
		durs = append(durs, time.Since(start))
	}
	reportLatency(b, durs)
}

// BenchmarkExecTrue is `true` forked straight into the router namespace:
// the floor of any launch on this machine.
func BenchmarkExecTrue(b *testing.B) {
	r := newRig(b, "", 1)
	ns := newNSRunner(b, r.lan.Router)
	durs := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		res := ns.run("true", nil, os.Environ(), nil)
		if res.code != 0 {
			b.Fatalf("true: exit %d: %s", res.code, res.stderr)
		}
		durs = append(durs, res.dur)
	}
	reportLatency(b, durs)
}

// BenchmarkExecVersion is `transferometer --version`: the Go runtime's
// start and exit, no config, lock, ledger or iptables.
func BenchmarkExecVersion(b *testing.B) {
	r := newRig(b, "", 1)
	ns := newNSRunner(b, r.lan.Router)
	durs := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		res := ns.run(r.bin, []string{"--version"}, r.env(), nil)
		if res.code != 0 {
			b.Fatalf("--version: exit %d: %s", res.code, res.stderr)
		}
		durs = append(durs, res.dur)
	}
	reportLatency(b, durs)
}

// ---------------------------------------------------------------------------
// Per-event cost.

// BenchmarkArpAdd: one `arp-add MAC IP` of a new host (a new address and a
// new MAC) with N hosts accounted; an untimed arp-del after each keeps the
// count at N. Goal: ≤ 10 ms median at 254 hosts.
func BenchmarkArpAdd(b *testing.B) {
	perVariant(b, func(b *testing.B, v string) {
		br := newBenchRig(b, v, 1)
		for _, n := range benchCounts {
			n := n
			b.Run("hosts="+strconv.Itoa(n), func(b *testing.B) {
				br.populate(b, n)
				durs := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					ip, mac := br.newHost()
					durs = append(durs, br.timed(b, "arp-add", mac, ip))
					if i == 0 {
						br.checkRules(b, 2*n+2)
					}
					br.launch(b, br.env(), "arp-del", mac, ip)
				}
				br.checkRules(b, 2*n)
				reportLatency(b, durs)
			})
		}
	})
}

// BenchmarkCollect: one `collect` (counters read and credited, ledger
// saved, no rule change) with N hosts accounted.
func BenchmarkCollect(b *testing.B) {
	perVariant(b, func(b *testing.B, v string) {
		br := newBenchRig(b, v, 1)
		for _, n := range benchCounts {
			n := n
			b.Run("hosts="+strconv.Itoa(n), func(b *testing.B) {
				br.populate(b, n)
				durs := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					durs = append(durs, br.timed(b, "collect"))
				}
				br.checkRules(b, 2*n)
				reportLatency(b, durs)
			})
		}
	})
}

// BenchmarkIPTables times the iptables processes an event launches, on
// their own, with N hosts' rules in the table: where an event's time goes.
// save-v4/save-v6 are `iptables-save -t mangle -c` (the counter reads);
// restore is one `iptables-restore --noflush` adding one host's two rules,
// the batch arp-add sends (an untimed batch removes them again).
func BenchmarkIPTables(b *testing.B) {
	perVariant(b, func(b *testing.B, v string) {
		br := newBenchRig(b, v, 1)
		env := os.Environ()
		bin := func(v6 bool, suffix string) string {
			p, err := exec.LookPath(br.lan.IPTables(v6) + suffix)
			if err != nil {
				b.Fatal(err)
			}
			return p
		}
		save4, save6, restore := bin(false, "-save"), bin(true, "-save"), bin(false, "-restore")
		for _, n := range benchCounts {
			n := n
			b.Run("hosts="+strconv.Itoa(n), func(b *testing.B) {
				br.populate(b, n)
				for _, s := range []struct{ name, bin string }{{"save-v4", save4}, {"save-v6", save6}} {
					s := s
					b.Run(s.name, func(b *testing.B) {
						durs := make([]time.Duration, 0, b.N)
						for i := 0; i < b.N; i++ {
							res := br.ns.run(s.bin, []string{"-t", "mangle", "-c"}, env, nil)
							if res.code != 0 {
								b.Fatalf("%s: exit %d: %s", s.bin, res.code, res.stderr)
							}
							durs = append(durs, res.dur)
						}
						reportLatency(b, durs)
					})
				}
				b.Run("restore", func(b *testing.B) {
					batch := func(op, ip string) []byte {
						return []byte(fmt.Sprintf("*mangle\n%s TRANSFEROMETER_FORWARD -s %s/32 -j RETURN\n%s TRANSFEROMETER_FORWARD -d %s/32 -j RETURN\nCOMMIT\n", op, ip, op, ip))
					}
					durs := make([]time.Duration, 0, b.N)
					for i := 0; i < b.N; i++ {
						ip, _ := br.newHost()
						for _, op := range []string{"-A", "-D"} {
							res := br.ns.run(restore, []string{"--noflush", "--wait=10"}, env, batch(op, ip))
							if res.code != 0 {
								b.Fatalf("%s %s: exit %d: %s", restore, op, res.code, res.stderr)
							}
							if op == "-A" {
								durs = append(durs, res.dur)
							}
						}
					}
					br.checkRules(b, 2*n)
					reportLatency(b, durs)
				})
			})
		}
	})
}

// spyNames are the programs the product could plausibly launch. Those
// installed here get a logging wrapper first on PATH.
func spyNames() []string {
	var names []string
	for _, fam := range []string{"iptables", "ip6tables"} {
		for _, v := range []string{"", "-legacy", "-nft"} {
			for _, s := range []string{"", "-save", "-restore"} {
				names = append(names, fam+v+s)
			}
		}
	}
	return append(names, "ip", "nft", "ipset", "uci", "ubus", "logger", "ethtool")
}

// spyPath makes a directory of wrappers: each appends its name to log,
// then execs the real program by absolute path.
func spyPath(b testing.TB) (dir, log string) {
	b.Helper()
	dir = b.TempDir()
	log = filepath.Join(dir, "launches.log")
	for _, name := range spyNames() {
		real, err := exec.LookPath(name)
		if err != nil {
			continue // not installed: the product could not launch it either
		}
		if real, err = filepath.Abs(real); err != nil {
			b.Fatal(err)
		}
		script := fmt.Sprintf("#!/bin/sh\necho %s >>%s\nexec %s \"$@\"\n", shq(name), shq(log), shq(real))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	return dir, log
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func readLaunches(b testing.TB, log string) []string {
	b.Helper()
	data, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		b.Fatal(err)
	}
	return strings.Fields(string(data))
}

// BenchmarkExecs counts the processes the binary launches per event, with
// logging wrappers first on PATH (no strace): execs/op. Goal: ≤ 3 (one
// counter read per family, one batched rule change). ns/op is suppressed:
// the wrappers' own shells would inflate it.
func BenchmarkExecs(b *testing.B) {
	events := []struct {
		name    string
		prepare func(b testing.TB, br *benchRig) []string // untimed; returns the args
	}{
		{"arp-add", func(b testing.TB, br *benchRig) []string {
			ip, mac := br.newHost()
			return []string{"arp-add", mac, ip}
		}},
		{"arp-add-known", func(b testing.TB, br *benchRig) []string {
			ip, mac := synthHost(0)
			return []string{"arp-add", mac.String(), ip.String()}
		}},
		{"arp-del", func(b testing.TB, br *benchRig) []string {
			ip, mac := br.newHost()
			br.launch(b, br.env(), "arp-add", mac, ip)
			return []string{"arp-del", mac, ip}
		}},
		{"collect", func(b testing.TB, br *benchRig) []string { return []string{"collect"} }},
		{"usage", func(b testing.TB, br *benchRig) []string { return []string{"usage", "--json"} }},
	}
	perVariant(b, func(b *testing.B, v string) {
		br := newBenchRig(b, v, 1)
		br.populate(b, 254)
		dir, log := spyPath(b)
		env := append(br.env(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		for _, ev := range events {
			ev := ev
			b.Run(ev.name, func(b *testing.B) {
				total := 0
				var first []string
				for i := 0; i < b.N; i++ {
					args := ev.prepare(b, br)
					before := len(readLaunches(b, log))
					br.launch(b, env, args...)
					got := readLaunches(b, log)[before:]
					total += len(got)
					if i == 0 {
						first = got
					}
					if ev.name == "arp-add" {
						br.launch(b, br.env(), "arp-del", args[1], args[2])
					}
				}
				if b.N == 1 { // the probe run: log once per event
					b.Logf("%s launched %d: %s", ev.name, len(first), strings.Join(first, " "))
				}
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(float64(total)/float64(b.N), "execs/op")
			})
		}
	})
}

// ---------------------------------------------------------------------------
// Forwarding throughput.

// BenchmarkForwarding: iperf3, one TCP stream host → Internet4 through the
// router namespace, offloads off, 4 s after 1 s of omitted slow start,
// median of 3 runs in Gbit/s. accounting=off has no chains of ours at all;
// hosts=1 only the iperf host's two rules; hosts=254 puts the iperf host's
// rules last behind 253 others: every packet walks 506 rules first.
//
// The machine is shared, so the three configurations are measured in
// interleaved rounds (off, 1, 254, off, 1, 254, ...) once per variant, and
// load drifting during the run hits them alike; the sub-benchmarks report
// the medians. Run with -benchtime=1x: b.N does not scale the work, so
// ns/op is suppressed.
func BenchmarkForwarding(b *testing.B) {
	perVariant(b, func(b *testing.B, v string) {
		testlan.RequireTools(b, "iperf3")
		br := newBenchRig(b, v, 1)
		h := br.lan.Hosts[0]
		stop := startIperfServer(b, br.lan.WAN, br.lan.Internet4.String())
		defer stop()

		type config struct {
			name  string
			setup func(b *testing.B)
			check func(b *testing.B)
			runs  []float64
		}
		noChains := func(b *testing.B) {
			for _, v6 := range []bool{false, true} {
				out := br.lan.Run(b, br.lan.Router, br.lan.IPTables(v6)+"-save", "-t", "mangle")
				if strings.Contains(out, "TRANSFEROMETER") {
					b.Fatalf("chains of ours present:\n%s", out)
				}
			}
		}
		// hostLast accounts others synthetic hosts, then the iperf host,
		// whose rules go to the end of the chain.
		hostLast := func(others int) func(b *testing.B) {
			return func(b *testing.B) {
				br.populate(b, others)
				br.launch(b, br.env(), "arp-add", h.MAC.String(), h.IP4.String())
				br.populated = -1
				rules := br.forwardRules(b, false, false)
				want := []string{"-A TRANSFEROMETER_FORWARD -s " + h.IP4.String() + "/32 -j RETURN",
					"-A TRANSFEROMETER_FORWARD -d " + h.IP4.String() + "/32 -j RETURN"}
				if len(rules) != 2*others+2 || rules[len(rules)-2] != want[0] || rules[len(rules)-1] != want[1] {
					b.Fatalf("want %d rules ending with the iperf host's, got %d ending %q", 2*others+2, len(rules), rules[max(0, len(rules)-2):])
				}
			}
		}
		// counted checks the traffic crossed the host's rules.
		counted := func(b *testing.B) {
			for _, l := range br.forwardRules(b, false, true) {
				if strings.Contains(l, " -s "+h.IP4.String()+"/32 ") && strings.HasPrefix(l, "[0:") {
					b.Fatalf("the iperf host's upload rule counted nothing: %s", l)
				}
			}
		}
		configs := []*config{
			{name: "accounting=off", setup: func(b *testing.B) {
				br.launch(b, br.env(), "teardown")
				br.populated = -1
				noChains(b)
			}, check: noChains},
			{name: "hosts=1", setup: hostLast(0), check: counted},
			{name: "hosts=254", setup: hostLast(253), check: counted},
		}
		load := loadavg()
		for round := 0; round < 3; round++ {
			for _, c := range configs {
				c.setup(b)
				c.runs = append(c.runs, iperfRun(b, br, h.NS))
				c.check(b)
			}
		}
		loadEnd := loadavg()
		for _, c := range configs {
			c := c
			b.Run(c.name, func(b *testing.B) {
				if b.N == 1 {
					b.Logf("runs: %.2f %.2f %.2f Gbit/s (load average %s before the rounds, %s after)", c.runs[0], c.runs[1], c.runs[2], load, loadEnd)
				}
				reportGbps(b, c.runs)
			})
		}
	})
}

// loadavg is the 1-minute load average: the machine may be shared.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data) + " ?")[0]
}

// requireTool skips (fails under CI, which installs them) without name.
func reportGbps(b *testing.B, runs []float64) {
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(s[len(s)/2], "Gbit/s")
}

// startIperfServer runs `iperf3 -s` in ns bound to addr until stop (or the
// LAN's teardown, which kills everything in its namespaces).
func startIperfServer(b testing.TB, ns, addr string) (stop func()) {
	b.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "iperf3", "-s", "-B", addr, "-p", "5201")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Kill() // ip netns exec execs in place: this is iperf3
		<-done
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ss, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :5201").Output()
		if len(bytes.TrimSpace(ss)) > 0 {
			return stop
		}
		if time.Now().After(end) {
			stop()
			b.Fatalf("iperf3 server did not listen within 10 s: %s", out.String())
		}
	}
}

// iperfRun is one single-stream iperf3 client run from ns; Gbit/s received.
func iperfRun(b testing.TB, br *benchRig, ns string) float64 {
	b.Helper()
	return iperfStreams(b, br, ns, 1)
}

// ---------------------------------------------------------------------------
// rpcd latency.

// BenchmarkRPCD: the rpcd exec plugin as rpcd runs it — the symlink to the
// binary, argv[0] in a libexec/rpcd directory — for `list`, and `call usage` / `call hosts` at 254,
// 1024 and 4096 hosts. Goals: usage ≤ 15 ms at 254 hosts, ≤ 60 ms at 4096.
func BenchmarkRPCD(b *testing.B) {
	perVariant(b, func(b *testing.B, v string) {
		br := newBenchRig(b, v, 1)
		plugin := rpcdPlugin(b, br.bin)
		env := br.env()
		call := func(b *testing.B, stdin []byte, args ...string) (time.Duration, map[string]any) {
			res := br.ns.run(plugin, args, env, stdin)
			if res.code != 0 {
				b.Fatalf("rpcd %v: exit %d: %s", args, res.code, res.stderr)
			}
			return res.dur, oneObject(b, res.stdout)
		}
		b.Run("list", func(b *testing.B) {
			durs := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				d, obj := call(b, nil, "list")
				if _, ok := obj["usage"]; !ok {
					b.Fatalf("list: %v", obj)
				}
				durs = append(durs, d)
			}
			reportLatency(b, durs)
		})
		for _, n := range rpcdCounts {
			n := n
			b.Run("hosts="+strconv.Itoa(n), func(b *testing.B) {
				br.populate(b, n)
				for _, method := range []string{"usage", "hosts"} {
					method := method
					b.Run(method, func(b *testing.B) {
						durs := make([]time.Duration, 0, b.N)
						for i := 0; i < b.N; i++ {
							d, obj := call(b, []byte("{ }"), "call", method)
							if hs, ok := obj["hosts"].([]any); !ok || len(hs) != n {
								b.Fatalf("call %s: want %d hosts, got %v", method, n, obj["error"])
							}
							durs = append(durs, d)
						}
						reportLatency(b, durs)
					})
				}
				// With the daemon running (as on a router) usage answers
				// from the ledger the daemon saved: no lock, no counter
				// read, no write.
				b.Run("usage-daemon", func(b *testing.B) {
					// (one left by a smaller host count's run is stale)
					snap := filepath.Join(br.dbDir, "usage.snapshot")
					if err := os.Remove(snap); err != nil && !os.IsNotExist(err) {
						b.Fatal(err)
					}
					d := br.startDaemon(b)
					defer d.stop(b)
					// Its first collection writes the snapshot the calls read.
					waitFor(b, 20*time.Second, "the daemon's usage snapshot", func() bool { _, err := os.Stat(snap); return err == nil })
					// Side by side with what the plugin was before: a
					// /bin/sh wrapper exec'ing the binary (interleaved).
					sh := filepath.Join(b.TempDir(), "transferometer")
					if err := os.WriteFile(sh, []byte("#!/bin/sh\nexec "+br.bin+" rpcd \"$@\"\n"), 0o755); err != nil {
						b.Fatal(err)
					}
					durs := make([]time.Duration, 0, b.N)
					shDurs := make([]time.Duration, 0, b.N)
					for i := 0; i < b.N; i++ {
						d, obj := call(b, []byte("{ }"), "call", "usage")
						if hs, ok := obj["hosts"].([]any); !ok || len(hs) != n {
							b.Fatalf("call usage: want %d hosts, got %v", n, obj["error"])
						}
						durs = append(durs, d)
						res := br.ns.run(sh, []string{"call", "usage"}, env, []byte("{ }"))
						if res.code != 0 {
							b.Fatalf("sh wrapper: exit %d: %s", res.code, res.stderr)
						}
						shDurs = append(shDurs, res.dur)
					}
					reportLatency(b, durs)
					b.ReportMetric(p50ms(shDurs), "sh-wrapper-p50-ms")
				})
			})
		}
	})
}
