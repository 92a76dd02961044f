package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// TestExactBytes: ping -s 1000 -c 10 to the WAN counts 10280 bytes each way
// (IPv6 10480) for the pinging host's MAC and nothing for the others.
func TestExactBytes(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 3)
			for _, h := range r.lan.Hosts {
				r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
				r.ok(t, "arp-add", h.MAC.String(), h.IP6.String())
			}
			h1 := r.lan.Hosts[0]
			h1.Ping(t, r.lan.Internet4, 1000, 10)
			h1.Ping(t, r.lan.Internet6, 1000, 10)
			u := r.usage(t)
			got := u.host(h1.MAC.String())
			want := uint64(10280 + 10480)
			if got.UploadBytes != want || got.DownloadBytes != want || got.UploadPackets != 20 || got.DownloadPackets != 20 {
				t.Fatalf("host 1: %+v, want %d bytes / 20 packets each way", got, want)
			}
			for _, h := range r.lan.Hosts[1:] {
				if o := u.host(h.MAC.String()); o.UploadBytes != 0 || o.DownloadBytes != 0 {
					t.Errorf("host %d counted %+v, want 0", h.N, o)
				}
			}
			if u.Totals.UploadBytes != want || u.Backend != r.backendName() {
				t.Errorf("totals %+v backend %q", u.Totals, u.Backend)
			}
			// The router's own traffic is counted apart: a ping to the router.
			before := r.usage(t).Router.InputBytes
			h1.Ping(t, r.lan.RouterLAN4, 500, 7)
			if in := r.usage(t).Router.InputBytes - before; in != 3696 {
				t.Errorf("router input grew by %d, want 3696", in)
			}
			if again := r.usage(t).host(h1.MAC.String()); again.UploadBytes != want {
				t.Errorf("collecting again changed host 1: %+v", again)
			}
		})
	}
}

// TestSetupIdempotentTeardownExact: setup N times leaves one jump at
// position 1 of each built-in chain and no duplicate; teardown restores
// the table exactly, foreign rules untouched.
func TestSetupIdempotentTeardownExact(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 1)
			// A foreign rule that must survive, placed before our jump will go.
			r.lan.Run(t, r.lan.Router, r.lan.IPTables(false), "-t", "mangle", "-A", "FORWARD", "-p", "tcp", "-j", "ACCEPT")
			pristine := r.save(t)
			h := r.lan.Hosts[0]
			for i := 0; i < 5; i++ {
				r.ok(t, "setup")
				r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			}
			lines := r.ruleLines(t)
			count := map[string]int{}
			for _, l := range lines {
				count[l]++
			}
			for l, n := range count {
				if n > 1 && strings.Contains(l, "TRANSFEROMETER") {
					t.Errorf("duplicate rule %q ×%d", l, n)
				}
			}
			for _, fam := range []bool{false, true} {
				if r.nft() {
					// Base chains hook in by themselves: check ours are.
					out := r.nftTable(t, map[bool]string{false: "ip", true: "ip6"}[fam])
					hooks := []string{"input", "output", "forward"}
					if r.netdev() {
						// Hosts are counted on br-lan's port instead.
						hooks = hooks[:2]
						nd := r.nftTable(t, "netdev")
						for _, c := range []string{"in_", "out_"} {
							if strings.Count(nd, "chain "+c+h.RouterPort+" {") != 1 {
								t.Errorf("no single %s%s chain:\n%s", c, h.RouterPort, nd)
							}
						}
						if strings.Contains(out, "hook forward") {
							t.Errorf("netdev placement with a forward chain:\n%s", out)
						}
					}
					for _, hook := range hooks {
						if !strings.Contains(out, "type filter hook "+hook+" priority mangle;") {
							t.Errorf("ipv6=%v: no %s base chain:\n%s", fam, hook, out)
						}
					}
					continue
				}
				save := r.lan.Run(t, r.lan.Router, r.lan.IPTables(fam)+"-save", "-t", "mangle")
				for _, bi := range []string{"INPUT", "OUTPUT", "FORWARD"} {
					first := ""
					for _, l := range strings.Split(save, "\n") {
						if strings.HasPrefix(l, "-A "+bi+" ") {
							first = l
							break
						}
					}
					if first != "-A "+bi+" -j TRANSFEROMETER_"+bi {
						t.Errorf("ipv6=%v: first rule of %s is %q", fam, bi, first)
					}
				}
			}
			if n := count["v4: -A TRANSFEROMETER_FORWARD -s "+h.IP4.String()+"/32 -j RETURN"]; n != 1 {
				t.Errorf("upload rule ×%d", n)
			}
			r.ok(t, "teardown")
			if after := r.save(t); after != pristine {
				t.Errorf("teardown left the table changed:\nbefore:\n%s\nafter:\n%s", pristine, after)
			}
		})
	}
}

// TestZeroLossUnderFlood: a flood from a host while collecting at least 100
// times, and adding/removing other hosts (rule changes under load): the
// ledger equals ping's own count exactly.
func TestZeroLossUnderFlood(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h := r.lan.Hosts[0]
			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const size, packets = 200, 30000
			flood, err := h.Flood(ctx, r.lan.Internet4, size, packets)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var res testlan.PingResult
			var ferr error
			go func() { res, ferr = flood.Wait(); close(done) }()
			collections := 0
			other := r.lan.Hosts[1]
			for loop := true; loop || collections < 100; {
				select {
				case <-done:
					loop = false
				default:
				}
				r.ok(t, "collect")
				collections++
				if collections%10 == 0 {
					// A rule change for another host while the flood runs.
					if collections%20 == 0 {
						r.ok(t, "arp-del", other.MAC.String(), other.IP4.String())
					} else {
						r.ok(t, "arp-add", other.MAC.String(), other.IP4.String())
					}
				}
			}
			if ferr != nil {
				t.Fatal(ferr)
			}
			got := r.usage(t).host(h.MAC.String())
			pkt := uint64(testlan.EchoPacketBytes(r.lan.Internet4, size))
			if got.UploadPackets != uint64(res.Transmitted) || got.UploadBytes != uint64(res.Transmitted)*pkt ||
				got.DownloadPackets != uint64(res.Received) || got.DownloadBytes != uint64(res.Received)*pkt {
				t.Fatalf("after %d collections: ledger %+v; ping sent %d, got %d back (%d B each)", collections, got, res.Transmitted, res.Received, pkt)
			}
			t.Logf("%d collections during %d packets: exact", collections, res.Transmitted)
		})
	}
}

// TestHookWithRealDnsmasq: dnsmasq calls the binary as its dhcp-script.
func TestHookWithRealDnsmasq(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h := r.lan.Hosts[0]
			// The WAN gateway becomes a neighbour of the router as well.
			r.lan.Run(t, r.lan.Router, "ping", "-c", "1", "-W", "2", r.lan.WANPeer4.String())
			d := r.lan.StartDnsmasq(t, testlan.DnsmasqOptions{Script: r.bin, Env: []string{"TRANSFEROMETER_CONFIG_DIR=" + r.cfgDir}, Faketime: true, DHCP: true,
				LeaseFile: filepath.Join(filepath.Dir(r.lockDir), "dhcp.leases")})
			h.Ping(t, r.lan.RouterLAN4, 56, 2)
			h.Ping(t, r.lan.RouterLAN6, 56, 2)
			// dnsmasq rescans neighbours only when its loop wakes (on a router
			// DNS and DHCP traffic wake it); HUP wakes it here.
			waitFor(t, 30*time.Second, "dnsmasq's arp-add to give host 1 its rules", func() bool {
				d.HUP(t)
				for _, hi := range r.hosts(t) {
					if hi.MAC == h.MAC.String() && hi.Rules && contains(hi.IPs, h.IP4.String()) && contains(hi.IPs, h.IP6.String()) {
						return true
					}
				}
				return false
			})
			for _, hi := range r.hosts(t) {
				for _, ip := range hi.IPs {
					a := netip.MustParseAddr(ip)
					if !r.lan.LAN4.Contains(a) && !r.lan.LAN6.Contains(a) {
						t.Errorf("non-LAN neighbour %s accounted (%s)", ip, hi.MAC)
					}
				}
			}
			if strings.Contains(strings.Join(r.ruleLines(t), "\n"), r.lan.WANPeer4.String()) {
				t.Error("WAN gateway got rules")
			}
			h.Ping(t, r.lan.Internet4, 1000, 10)
			// DHCP: the lease event names the host.
			_, stop := h.DHCP(t, "laptop")
			waitFor(t, 30*time.Second, "the DHCP add event to name host 1", func() bool {
				return r.usage(t).host(h.MAC.String()).Hostname == "laptop"
			})
			stop()
			// arp-del: flush the neighbour, let dnsmasq's (30× fast) rescan see it.
			deadline := time.Now().Add(45 * time.Second)
			for {
				r.lan.FlushNeigh(t, h)
				time.Sleep(4 * time.Second)
				d.HUP(t)
				time.Sleep(time.Second)
				if !strings.Contains(strings.Join(r.ruleLines(t), "\n"), h.IP4.String()+"/32") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("arp-del never removed host 1's rules\ndnsmasq log:\n%s", d.Log())
				}
			}
			got := r.usage(t).host(h.MAC.String())
			if got.UploadBytes != 10280 || got.DownloadBytes != 10280 {
				t.Fatalf("after arp-del: %+v, want 10280 each way kept", got)
			}
		})
	}
}

// TestConcurrentArpAdd: 20 handlers at once (hotplug runs them
// concurrently) end with 20 hosts, each with exactly its two rules.
func TestConcurrentArpAdd(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) { testConcurrentArpAdd(t, v) })
	}
}

func testConcurrentArpAdd(t *testing.T, v string) {
	r := newRig(t, v, 1)
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res := r.exec(t, "arp-add", fmt.Sprintf("02:99:00:00:00:%02x", i), fmt.Sprintf("10.77.0.%d", 200+i))
			if res.code != 0 {
				errs <- fmt.Sprintf("arp-add %d: exit %d: %s", i, res.code, res.stderr)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	hs := r.hosts(t)
	if len(hs) != 20 {
		t.Fatalf("%d hosts, want 20", len(hs))
	}
	rules := strings.Join(r.ruleLines(t), "\n")
	for i := 0; i < 20; i++ {
		for _, dir := range []string{"-s", "-d"} {
			rule := fmt.Sprintf("-A TRANSFEROMETER_FORWARD %s 10.77.0.%d/32 -j RETURN", dir, 200+i)
			if n := strings.Count(rules, rule+"\n") + boolInt(strings.HasSuffix(rules, rule)); n != 1 {
				t.Errorf("%q ×%d", rule, n)
			}
		}
	}
	for _, hi := range hs {
		if !hi.Rules || len(hi.IPs) != 1 {
			t.Errorf("host %+v", hi)
		}
	}
}

// TestStaleLockReclaimed: a lock left by a dead process does not block.
func TestStaleLockReclaimed(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) { testStaleLockReclaimed(t, v) })
	}
}

func testStaleLockReclaimed(t *testing.T, v string) {
	r := newRig(t, v, 1)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	r.plantLock(t, dead.Process.Pid)
	start := time.Now()
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stale lock took %v to reclaim", el)
	}
	if _, err := os.Stat(r.lockDir); !os.IsNotExist(err) {
		t.Errorf("lock dir left behind: %v", err)
	}
}

// TestKill9NeverLosesOrCorrupts: collections and events killed at random
// points; afterwards the ledger is intact and equals the traffic exactly.
// It fails too unless enough runs really died of the kill mid-way, some of
// them holding the lock (inside a transaction), so that it cannot pass by
// killing only processes that had not started their work or had finished.
func TestKill9NeverLosesOrCorrupts(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) { testKill9NeverLosesOrCorrupts(t, v, true) })
	}
}

// TestKill9WhileCountedBeforeTheEvent: the same while the flooding host has
// had no event at all, so its counter is one the packet path made
// (nftables) or the LAN prefix's catch-all (iptables), waiting for an
// owner: after the kills and its event, hosts + unattributed is exactly
// what the flood sent, and on nftables all of it is the host's.
func TestKill9WhileCountedBeforeTheEvent(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) { testKill9NeverLosesOrCorrupts(t, v, false) })
	}
}

func testKill9NeverLosesOrCorrupts(t *testing.T, v string, event bool) {
	r := newRig(t, v, 2)
	h := r.lan.Hosts[0]
	if event {
		r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	} else {
		r.ok(t, "collect")
	}
	rng := testlan.Rand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const size, packets = 100, 8000
	flood, err := h.Flood(ctx, r.lan.Internet4, size, packets)
	if err != nil {
		t.Fatal(err)
	}
	other := r.lan.Hosts[1]
	kinds := [][]string{
		{"collect"},
		{"arp-add", other.MAC.String(), other.IP4.String()},
		{"arp-del", other.MAC.String(), other.IP4.String()},
	}
	// How long a run of each kind takes here, unkilled (the fastest of
	// three: a busy machine only makes runs slower). The kills below land
	// anywhere from a run's start to a quarter past its end. A run takes
	// the lock only well into that (some 30 ms of 50-100 on a development
	// machine): kills within a fixed few milliseconds, as this test made
	// before, all landed before it and killed nothing but start-ups.
	var took [3]time.Duration
	for k, args := range kinds {
		var ds []time.Duration
		for j := 0; j < 3; j++ {
			cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, args...)
			cmd.Env = r.env()
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v (not killed): %v\n%s", args, err, out)
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		took[k] = ds[0]
	}
	t.Logf("unkilled runs take %v (collect), %v (arp-add), %v (arp-del)", took[0], took[1], took[2])

	// killed: runs that died of the SIGKILL, i.e. were still running when
	// it came (a run that had already finished exits as it did: killing a
	// zombie does nothing). holding: those that died holding the lock,
	// mid-transaction, for the next run to reclaim: the lock dir is there
	// and is not the one there before the run (or the PID file names the
	// run). finished: runs that ended before the kill.
	const runs, minKilled, minHolding = 60, 20, 5
	killed, holding, finished, aged := 0, 0, 0, 0
	pidFile := filepath.Join(filepath.Dir(r.lockDir), "transferometer.pid")
	lockNow := func() os.FileInfo {
		fi, err := os.Stat(r.lockDir)
		if err != nil {
			return nil
		}
		return fi
	}
	for i := 0; i < runs; i++ {
		args := kinds[i%3]
		before := lockNow()
		cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, args...)
		cmd.Env = r.env()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int63n(int64(took[i%3])*5/4 + 1)))
		// Kill the whole group: ip netns exec, the binary, its iptables child.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatalf("run %d %v: kill -9: %v", i, args, err)
		}
		waitErr := cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok {
			t.Fatalf("run %d %v: no wait status (%v)", i, args, waitErr)
		}
		after := lockNow()
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			killed++
			if after == nil {
				break
			}
			made := before == nil || !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime())
			// The PID file's first line is the holder's PID (a second
			// line says when that process started).
			pid, _ := os.ReadFile(pidFile)
			first, _, _ := strings.Cut(string(pid), "\n")
			if made || strings.TrimSpace(first) == fmt.Sprint(cmd.Process.Pid) {
				holding++
			}
		case ws.Exited() && ws.ExitStatus() == 0:
			finished++
			// Runs go faster than measured (a busy machine calmed
			// down): aim earlier.
			took[i%3] = took[i%3] * 7 / 8
		default:
			t.Fatalf("run %d %v: %v; want killed by SIGKILL, or finished with exit 0 before the kill", i, args, waitErr)
		}
		// A run killed between taking the lock (mkdir) and writing its
		// PID file leaves a lock that only ages into staleness (after
		// lock.DefaultGrace, 2 s): every later run here would wait for it
		// and die waiting, testing nothing. Age it as if that time had
		// passed (nothing is running now), for the next run to reclaim.
		if after != nil {
			if _, err := os.Stat(pidFile); errors.Is(err, fs.ErrNotExist) {
				old := time.Now().Add(-time.Minute)
				if err := os.Chtimes(r.lockDir, old, old); err != nil {
					t.Fatal(err)
				}
				aged++
			}
		}
	}
	res, err := flood.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d runs killed mid-way, %d of them holding the lock; %d finished first; %d locks left without a PID file aged",
		killed, runs, holding, finished, aged)
	if killed < minKilled {
		t.Errorf("only %d of %d runs died of the kill, want >= %d: the kills came after the runs had finished", killed, runs, minKilled)
	}
	if holding < minHolding {
		t.Errorf("only %d runs were killed holding the lock, want >= %d: the kills missed the transactions", holding, minHolding)
	}
	if !event {
		r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	}
	// A killed holder leaves a stale lock: the next run must reclaim it.
	u := r.usage(t)
	for _, w := range u.Warnings {
		if w.Code == "ledger_recovered" {
			t.Fatalf("a kill -9 corrupted the ledger: %+v", u.Warnings)
		}
	}
	got := u.host(h.MAC.String())
	if !event && !r.nft() {
		// iptables: what came before the host's rules is the catch-all's.
		got.UploadBytes += u.Unattributed.UploadBytes
		got.DownloadBytes += u.Unattributed.DownloadBytes
	}
	pkt := uint64(testlan.EchoPacketBytes(r.lan.Internet4, size))
	if got.UploadBytes != uint64(res.Transmitted)*pkt || got.DownloadBytes != uint64(res.Received)*pkt {
		t.Fatalf("after %d kills (%d holding the lock): %+v; ping sent %d got %d", killed, holding, got, res.Transmitted, res.Received)
	}
	entries, _ := os.ReadDir(r.dbDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "corrupt") {
			t.Errorf("corrupt file %s", e.Name())
		}
	}
}

// TestHostileInput: every malformed argument is exit 2 with a one-line
// message, and changes nothing: no rule, no ledger change, no lock left.
func TestHostileInput(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) { testHostileInput(t, v) })
	}
}

func testHostileInput(t *testing.T, v string) {
	r := newRig(t, v, 1)
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	mac, ip := h.MAC.String(), h.IP4.String()
	cases := [][]string{
		{"arp-add"}, {"arp-add", mac}, {"arp-add", mac, ip, "extra"},
		{"arp-add", "", ip}, {"arp-add", mac, ""},
		{"arp-add", "-j", "DROP"}, {"arp-add", "--flush", ip}, {"arp-add", mac, "--flush"},
		{"arp-add", mac, "10.77.0.0/24"}, {"arp-add", mac, "10.77.0.5;reboot"}, {"arp-add", "$(reboot)", ip},
		{"arp-add", mac + "; rm -rf /", ip}, {"arp-add", mac, "10.77.0.5 -j DROP"}, {"arp-add", mac, "fe80::1%eth0"},
		{"arp-add", strings.Repeat("a", 100000), ip}, {"arp-add", mac, strings.Repeat("1", 100000)},
		{"arp-del", "zz:zz:zz:zz:zz:zz", ip}, {"arp-del", mac, "300.1.1.1"},
		{"arp-add", mac, "fd77::00010"}, {"arp-add", mac, "010.77.0.5"}, // Go 1.21's netip takes the first
		{"add", mac, ip, "bad\nname"}, {"add", mac, ip, "<script>"},
		{"add", mac, ip, "invoice\u202efdp.exe"}, {"add", mac, ip, "c1\u0085name"}, {"old", mac, ip, "zero\u200bwidth"},
		{"--flush"}, {"-j", "DROP"}, {"usage", "--bogus"}, {"reset", "--mac", "nope"}, {"collect", "extra"},
	}
	rules, db := r.save(t), r.dbState(t)
	for _, args := range cases {
		res := r.exec(t, args...)
		name := strings.Join(args, " ")
		if len(name) > 60 {
			name = name[:60]
		}
		if res.code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", name, res.code, res.stderr)
		}
		if !strings.HasPrefix(res.stderr, "transferometer: ") || strings.Count(res.stderr, "\n") != 1 || len(res.stderr) > 400 {
			t.Errorf("%q: stderr not one clear line: %q", name, res.stderr)
		}
	}
	if after := r.save(t); after != rules {
		t.Errorf("hostile input changed the rules:\n%s", after)
	}
	if after := r.dbState(t); !reflect.DeepEqual(after, db) {
		t.Error("hostile input changed the ledger")
	}
	if _, err := os.Stat(r.lockDir); !os.IsNotExist(err) {
		t.Error("lock left behind")
	}
	// Well-formed addresses outside the LAN are normal events: exit 0, no change.
	for _, a := range []string{r.lan.WANPeer4.String(), "fe80::1", "169.254.1.1", "::ffff:10.77.0.5", "224.0.0.1"} {
		for _, ev := range []string{"arp-add", "arp-del", "add"} {
			if res := r.exec(t, ev, mac, a); res.code != 0 {
				t.Errorf("%s %s: exit %d %s", ev, a, res.code, res.stderr)
			}
		}
	}
	// MACs no device owns (all zeros, broadcast, multicast), also events
	// a LAN client can cause: exit 0, nothing changed.
	for _, m := range []string{"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "33:33:00:00:00:01"} {
		for _, ev := range []string{"arp-add", "arp-del", "add", "del"} {
			if res := r.exec(t, ev, m, ip); res.code != 0 || res.stderr != "" {
				t.Errorf("%s %s %s: exit %d %q", ev, m, ip, res.code, res.stderr)
			}
		}
	}
	if res := r.exec(t, "arp-add", "32-00:11:22:33:44:55:66:77:88:99", ip); res.code != 0 {
		t.Errorf("non-Ethernet hardware: exit %d %s", res.code, res.stderr)
	}
	if after := r.save(t); after != rules {
		t.Errorf("non-LAN events changed the rules:\n%s", after)
	}
	if after := r.dbState(t); !reflect.DeepEqual(after, db) {
		t.Error("non-LAN events changed the ledger")
	}
}

// TestBadConfigChangesNothing: a bad UCI value is exit 2 naming the file,
// option and value.
func TestBadConfigChangesNothing(t *testing.T) {
	r := newRig(t, "nft", 1)
	h := r.lan.Hosts[0]
	r.writeConfig(t, "\toption lock_timeout 'soon'\n")
	res := r.exec(t, "arp-add", h.MAC.String(), h.IP4.String())
	if res.code != 2 || !strings.Contains(res.stderr, "lock_timeout") || !strings.Contains(res.stderr, "soon") || !strings.Contains(res.stderr, filepath.Join(r.cfgDir, "transferometer")) {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	if strings.Contains(r.save(t), "TRANSFEROMETER") {
		t.Fatal("rules added despite the bad config")
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCorruptLedgerMovedAside: a damaged transfer.db never stops the hook:
// it is moved aside with a warning, a fresh ledger starts, counting goes on.
func TestCorruptLedgerMovedAside(t *testing.T) {
	r := newRig(t, "nft", 1)
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	bad := []byte(`{"version":1,"totals":{"02:77:00:00:00:01":{"download_bytes":"lots"}}`)
	if err := os.WriteFile(filepath.Join(r.dbDir, "transfer.db"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.exec(t, "collect")
	if res.code != 0 || !strings.Contains(res.stderr, "warning: ") || !strings.Contains(res.stderr, "transfer.db") {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	matches, _ := filepath.Glob(filepath.Join(r.dbDir, "transfer.db.corrupt-*"))
	if len(matches) != 1 {
		t.Fatalf("moved-aside files: %v", matches)
	}
	if kept, _ := os.ReadFile(matches[0]); string(kept) != string(bad) {
		t.Fatal("the damaged file was not kept as it was")
	}
	h.Ping(t, r.lan.Internet4, 1000, 10)
	if got := r.usage(t).host(h.MAC.String()); got.DownloadBytes != 10280 {
		t.Fatalf("after recovery: %+v", got)
	}
}

// TestDisableAndIPv6OffRemoveRules: enabled '0' removes every rule at the
// next run, keeping the bytes; traffic while off is not credited later.
// ipv6 '0' removes the IPv6 rules. Loopback is not router traffic.
func TestDisableAndIPv6OffRemoveRules(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 1)
			h := r.lan.Hosts[0]
			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			r.ok(t, "arp-add", h.MAC.String(), h.IP6.String())
			before := r.usage(t).Router.InputBytes
			r.lan.Run(t, r.lan.Router, "ping", "-c", "3", "-i", "0.01", "127.0.0.1")
			if got := r.usage(t).Router.InputBytes; got != before {
				t.Errorf("loopback counted as router traffic: %d → %d", before, got)
			}
			h.Ping(t, r.lan.Internet6, 1000, 10)
			r.writeConfig(t, "\toption ipv6 '0'\n")
			r.ok(t, "collect")
			for _, l := range r.ruleLines(t) {
				if strings.HasPrefix(l, "v6: ") && strings.Contains(l, "TRANSFEROMETER") {
					t.Errorf("ipv6 '0' left %q", l)
				}
			}
			h.Ping(t, r.lan.Internet4, 1000, 10)
			r.writeConfig(t, "\toption enabled '0'\n")
			r.ok(t, "collect")
			if s := r.save(t); strings.Contains(s, "TRANSFEROMETER") {
				t.Fatalf("enabled '0' left rules:\n%s", s)
			}
			h.Ping(t, r.lan.Internet4, 500, 7) // while off: never credited
			r.writeConfig(t, "")
			r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
			h.Ping(t, r.lan.Internet4, 1000, 1)
			got := r.usage(t).host(h.MAC.String())
			if want := uint64(10480 + 10280 + 1028); got.DownloadBytes != want {
				t.Fatalf("download = %d, want %d (before, IPv4 before off, after on)", got.DownloadBytes, want)
			}
		})
	}
}
