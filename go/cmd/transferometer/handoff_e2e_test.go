package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/handoff"
	"github.com/transferometer/transferometer/internal/ledger"
)

// Hosts no namespace has: an event for one is applied only by whoever
// runs the event (the kernel never announces them).
var (
	handX = struct{ mac, ip string }{"02:00:00:aa:00:01", "10.77.0.201"}
	handY = struct{ mac, ip string }{"02:00:00:aa:00:02", "10.77.0.202"}
	handZ = struct{ mac, ip string }{"02:00:00:aa:00:03", "10.77.0.203"}
)

// startHandoffDaemon starts the daemon and waits until it takes events.
func (r *rig) startHandoffDaemon(t *testing.T) *daemonProc {
	t.Helper()
	d := r.startDaemon(t)
	waitFor(t, 10*time.Second, "the daemon's start", func() bool { return strings.Contains(d.out.String(), "started") })
	waitFor(t, 10*time.Second, "the handoff socket", func() bool {
		st, err := os.Lstat(filepath.Join(r.dbDir, handoff.SocketName))
		return err == nil && st.Mode()&os.ModeSocket != 0
	})
	return d
}

func (r *rig) handoffConfig(t *testing.T) {
	r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '3600'\n\toption persist_dir '%s'\n\toption live_port '0'\n\toption live_tls_port '0'\n", filepath.Join(t.TempDir(), "flash")))
}

// owner is the MAC host.db gives ip ("" none), read without the lock.
func (r *rig) owner(t *testing.T, ip string) string {
	t.Helper()
	h, _, err := ledger.Store{Dir: r.dbDir}.Peek()
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := h.IPs[netip.MustParseAddr(ip)]; ok {
		return e.MAC.String()
	}
	return ""
}

// spooled is the spool's lines.
func (r *rig) spooled(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dbDir, handoff.SpoolName))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// holdLock makes the lock held by this test process (alive, so never
// stale); the returned function releases it.
func (r *rig) holdLock(t *testing.T) func() {
	t.Helper()
	r.plantLock(t, os.Getpid())
	return func() {
		os.RemoveAll(r.lockDir)
		os.Remove(filepath.Join(filepath.Dir(r.lockDir), "transferometer.pid"))
	}
}

// hook runs a dhcp-script event and wants exit 0 and nothing on stderr.
func (r *rig) hook(t *testing.T, args ...string) {
	t.Helper()
	res := r.exec(t, args...)
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("transferometer %s: exit %d, stderr %q", strings.Join(args, " "), res.code, res.stderr)
	}
}

// TestHookHandsOverToDaemon: with the daemon running, a hook's arp-add is
// taken by the daemon and applied there. The proof that the hook process
// did not run the cycle: it exits 0 while this test holds the lock (a hook
// running the cycle waits for the lock, lock_timeout, and fails), its
// event is in the daemon's spool and not in the ledger until the lock is
// released; then the daemon applies it: the address in the ledger, its
// rules (iptables) or its attribution (nftables), a host's bytes exact
// from its first packet after, and the spool empty.
func TestHookHandsOverToDaemon(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 1)
			h := r.lan.Hosts[0]
			r.handoffConfig(t)
			d := r.startHandoffDaemon(t)

			release := r.holdLock(t)
			r.hook(t, "arp-add", handX.mac, handX.ip)
			r.hook(t, "arp-add", h.MAC.String(), h.IP4.String())
			// Validation stays at the door: a poison MAC and a WAN
			// address are normal events with nothing to do, not handed.
			r.hook(t, "arp-add", "ff:ff:ff:ff:ff:ff", "10.77.0.204")
			r.hook(t, "arp-add", "02:00:00:aa:00:05", r.lan.Internet4.String())
			if got := r.spooled(t); len(got) != 2 || !strings.Contains(got[0], handX.ip) || !strings.Contains(got[1], h.IP4.String()) {
				t.Fatalf("spool %q, want the two LAN events", got)
			}
			if o := r.owner(t, handX.ip); o != "" {
				t.Fatalf("%s applied while the lock was held (owner %s)", handX.ip, o)
			}
			release()
			waitFor(t, 15*time.Second, "the handed-over events applied", func() bool {
				return r.owner(t, handX.ip) == handX.mac && r.owner(t, h.IP4.String()) == h.MAC.String()
			})
			waitFor(t, 5*time.Second, "the spool emptied", func() bool { return len(r.spooled(t)) == 0 })
			if o := r.owner(t, "10.77.0.204"); o != "" {
				t.Fatalf("a broadcast MAC's event was applied: %s", o)
			}
			if !r.nft() && (!r.hasRules(t, handX.ip) || !r.hasRules(t, h.IP4.String())) {
				t.Fatalf("no rules for the handed-over hosts:\n%s", strings.Join(r.ruleLines(t), "\n"))
			}

			h.Ping(t, r.lan.Internet4, 1000, 10)
			u := r.usage(t)
			if got := u.host(h.MAC.String()); got.DownloadBytes != 10280 || got.UploadBytes != 10280 {
				t.Fatalf("host %+v, want 10280 bytes each way (unattributed %+v)", got, u.Unattributed)
			}

			r.hook(t, "arp-del", handX.mac, handX.ip)
			waitFor(t, 15*time.Second, "the handed-over arp-del applied", func() bool { return r.owner(t, handX.ip) == "" })
			if !r.nft() && r.hasRules(t, handX.ip) {
				t.Fatalf("rules left for %s after its arp-del", handX.ip)
			}
			d.stop(t)
			if strings.Contains(d.out.String(), "handed-over") || strings.Contains(d.out.String(), "handoff") {
				t.Fatalf("daemon log:\n%s", d.out.String())
			}
		})
	}
}

// TestHandoffSurvivesKill: events the daemon acknowledged and was killed
// (SIGKILL) before applying are applied by the next daemon, once each;
// meanwhile, with no daemon, a hook runs its event itself as it always
// did (applied when it exits).
func TestHandoffSurvivesKill(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.handoffConfig(t)
	d := r.startHandoffDaemon(t)

	release := r.holdLock(t)
	r.hook(t, "arp-add", handX.mac, handX.ip)
	r.hook(t, "add", handY.mac, handY.ip, "printer")
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.done
	release()
	if got := r.spooled(t); len(got) != 2 {
		t.Fatalf("spool after the kill: %q, want the two events", got)
	}
	if r.owner(t, handX.ip) != "" || r.owner(t, handY.ip) != "" {
		t.Fatal("applied before the kill: the test proves nothing")
	}

	// No daemon (its mark names a dead process): the hook's own cycle.
	r.hook(t, "arp-add", handZ.mac, handZ.ip)
	if o := r.owner(t, handZ.ip); o != handZ.mac {
		t.Fatalf("without a daemon, %s belongs to %q when its hook exits, want %s", handZ.ip, o, handZ.mac)
	}
	if r.owner(t, handX.ip) != "" {
		t.Fatal("a hook applied the spool: only the daemon does")
	}

	d = r.startHandoffDaemon(t)
	waitFor(t, 15*time.Second, "the spool replayed", func() bool {
		return r.owner(t, handX.ip) == handX.mac && r.owner(t, handY.ip) == handY.mac
	})
	if got := r.spooled(t); len(got) != 0 {
		t.Fatalf("spool after the replay: %q", got)
	}
	u := r.usage(t)
	seen := map[string]int{}
	for _, x := range u.Hosts {
		seen[x.MAC]++
		if x.MAC == handY.mac && (x.Hostname != "printer" || strings.Join(x.IPs, " ") != handY.ip) {
			t.Fatalf("replayed DHCP event: %+v", x)
		}
	}
	for _, m := range []string{handX.mac, handY.mac, handZ.mac} {
		if seen[m] != 1 {
			t.Fatalf("%s listed %d times in usage, want once\n%+v", m, seen[m], u.Hosts)
		}
	}
	d.stop(t)
}

// TestHandoffRefusesPlanted: a socket at the daemon's path that is not the
// daemon's — a listener of another process (root's), a regular file, a
// socket of another user — gets nothing: the hook says so and runs its
// event itself, applied when it exits.
func TestHandoffRefusesPlanted(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.handoffConfig(t)
	d := r.startHandoffDaemon(t)
	sock := filepath.Join(r.dbDir, handoff.SocketName)

	// Another root process listening there: the wrong PID.
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(3 * time.Second))
			n, _ := io.Copy(io.Discard, c)
			got.Add(n)
			c.Write([]byte("ok\n"))
			c.Close()
		}
	}()
	expectRefused := func(mac, ip, why string) {
		t.Helper()
		res := r.exec(t, "arp-add", mac, ip)
		if res.code != 0 || !strings.Contains(res.stderr, why) || !strings.Contains(res.stderr, "applying the event here") {
			t.Fatalf("arp-add with %s: exit %d, stderr %q", why, res.code, res.stderr)
		}
		if o := r.owner(t, ip); o != mac {
			t.Fatalf("%s belongs to %q when its hook exits, want %s", ip, o, mac)
		}
	}
	expectRefused(handX.mac, handX.ip, "is PID")
	if n := got.Load(); n != 0 {
		t.Fatalf("the planted listener was sent %d bytes", n)
	}
	ln.Close()

	// A regular file.
	os.Remove(sock)
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	expectRefused(handY.mac, handY.ip, "is not a socket")

	// A socket of another user's.
	os.Remove(sock)
	ln2, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	os.Chmod(sock, 0o600)
	if err := os.Lchown(sock, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	expectRefused(handZ.mac, handZ.ip, "owned by uid 65534")
	d.stop(t)
}
