package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/transferometer/transferometer/internal/metrics"
)

// daemonProc is `transferometer daemon` running in the router namespace.
type daemonProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (r *rig) startDaemon(t testing.TB, extraEnv ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{out: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = r.lan.Exec(context.Background(), r.lan.Router, r.bin, "daemon")
	d.cmd.Env = append(r.env(), extraEnv...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
		}
	})
	return d
}

// stop sends SIGTERM, as procd does, and wants a clean exit in time.
func (d *daemonProc) stop(t testing.TB) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, d.out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("daemon did not stop on SIGTERM\n%s", d.out.String())
	}
}

func (r *rig) hasRules(t *testing.T, ip string) bool {
	return strings.Contains(strings.Join(r.ruleLines(t), "\n"), " "+ip+"/")
}

// TestDaemonLifecycle: the daemon seeds rules from the neighbour table
// (no dnsmasq), collects, commits on SIGTERM; a restart and a simulated
// reboot (RAM ledger and kernel rules gone) keep the totals continuous,
// nothing lost or doubled.
func TestDaemonLifecycle(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			flash := filepath.Join(t.TempDir(), "flash")
			r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '1'\n\toption persist_dir '%s'\n\toption live_port '0'\n\toption live_tls_port '0'\n", flash))
			h := r.lan.Hosts[0]
			h.Ping(t, r.lan.RouterLAN4, 56, 1) // the router now has h as a neighbour
			d := r.startDaemon(t)
			waitFor(t, 20*time.Second, "the daemon to seed host 1 from the neighbour table", func() bool { return r.hasRules(t, h.IP4.String()) })
			if r.hasRules(t, r.lan.WANPeer4.String()) {
				t.Error("WAN neighbour seeded")
			}
			h.Ping(t, r.lan.Internet4, 1000, 10)
			d.stop(t)
			for _, f := range []string{"host.db", "transfer.db"} {
				if _, err := os.Stat(filepath.Join(flash, f)); err != nil {
					t.Fatalf("no commit on stop: %v", err)
				}
			}
			if got := r.usage(t).host(h.MAC.String()).DownloadBytes; got != 10280 {
				t.Fatalf("after stop: %d", got)
			}
			// Restart.
			d = r.startDaemon(t)
			h.Ping(t, r.lan.Internet4, 500, 7)
			time.Sleep(1500 * time.Millisecond) // a collection or two
			d.stop(t)
			if got := r.usage(t).host(h.MAC.String()).DownloadBytes; got != 10280+3696 {
				t.Fatalf("after restart: %d, want %d", got, 10280+3696)
			}
			// Reboot: RAM (db_dir) and the kernel's rules are gone.
			if err := os.RemoveAll(r.dbDir); err != nil {
				t.Fatal(err)
			}
			r.flushRules(t)
			d = r.startDaemon(t)
			waitFor(t, 20*time.Second, "the rules after the reboot", func() bool { return r.hasRules(t, h.IP4.String()) })
			h.Ping(t, r.lan.Internet4, 1000, 1)
			d.stop(t)
			if got := r.usage(t).host(h.MAC.String()).DownloadBytes; got != 10280+3696+1028 {
				t.Fatalf("after reboot: %d, want %d\n%s", got, 10280+3696+1028, d.out.String())
			}
		})
	}
}

// TestDaemonLiveFeed: a client with a valid LuCI session, in a LAN host's
// namespace, receives rates matching the traffic; no session, a bad
// session and a foreign Origin are refused before the upgrade.
func TestDaemonLiveFeed(t *testing.T) {
	r := newRig(t, "nft", 1)
	h := r.lan.Hosts[0]
	const good = "0123456789abcdef0123456789abcdef"
	// The session check runs `ubus call session access JSON`: a stand-in
	// ubus on the daemon's PATH says yes for one session only.
	bin := t.TempDir()
	ubus := "#!/bin/sh\ncase \"$4\" in *'\"ubus_rpc_session\":\"" + good + "\"'*) echo '{\"access\": true}';; *) echo '{\"access\": false}';; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "ubus"), []byte(ubus), 0o755); err != nil {
		t.Fatal(err)
	}
	r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '5'\n\toption persist_dir '%s'\n\toption live_port '8093'\n\toption live_tls_port '0'\n", filepath.Join(t.TempDir(), "flash")))
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	d := r.startDaemon(t, "PATH="+bin+":"+os.Getenv("PATH"))
	url := fmt.Sprintf("ws://%s:8093/live", r.lan.RouterLAN4)
	origin := "http://" + r.lan.RouterLAN4.String()
	waitFor(t, 10*time.Second, "the live feed to listen", func() bool {
		return strings.Contains(d.out.String(), "live feed on")
	})
	for _, c := range []struct{ name, session, origin, want string }{
		{"no session", "", origin, "STATUS 403"},
		{"bad session", strings.Repeat("f", 32), origin, "STATUS 403"},
		{"foreign origin", good, "http://evil.example", "STATUS 403"},
	} {
		out := wsClient(t, r, url+"?session="+c.session, c.origin, 1)
		if strings.TrimSpace(out) != c.want {
			t.Errorf("%s: %q, want %q", c.name, out, c.want)
		}
	}
	// 50 pings a second of 1028 IP bytes each way: 51400 B/s.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping := r.lan.Exec(ctx, h.NS, "ping", "-4", "-q", "-s", "1000", "-i", "0.02", "-c", "400", r.lan.Internet4.String())
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	defer ping.Wait()
	out := wsClient(t, r, url+"?session="+good, origin, 6)
	var downs []float64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Type  string `json:"type"`
			Rates []struct {
				MAC  string  `json:"mac"`
				Down float64 `json:"down"`
				Up   float64 `json:"up"`
			} `json:"rates"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("feed line %q: %v", line, err)
		}
		for _, x := range m.Rates {
			if x.MAC == h.MAC.String() && x.Down > 0 {
				downs = append(downs, x.Down)
			}
		}
	}
	if len(downs) < 3 {
		t.Fatalf("too few rate messages: %q\ndaemon:\n%s", out, d.out.String())
	}
	sort.Float64s(downs)
	if med := downs[len(downs)/2]; med < 51400*0.7 || med > 51400*1.3 {
		t.Fatalf("median download rate %.0f B/s, want about 51400 (%v)", med, downs)
	}
	d.stop(t)
}

// wsClient runs this test binary as a websocket client inside the LAN
// host's namespace (the feed listens on the router's LAN address only).
func wsClient(t *testing.T, r *rig, url, origin string, seconds int) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+10)*time.Second)
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Hosts[0].NS, exe, "-test.run=^TestHelperWSClient$")
	cmd.Env = append(os.Environ(), "WS_HELPER=1", "WS_URL="+url, "WS_ORIGIN="+origin, fmt.Sprintf("WS_SECONDS=%d", seconds))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ws client: %v\n%s", err, out)
	}
	return string(out)
}

// TestHelperWSClient is the client side of wsClient, not a test by itself.
func TestHelperWSClient(t *testing.T) {
	if os.Getenv("WS_HELPER") != "1" {
		t.Skip("helper process for TestDaemonLiveFeed")
	}
	hdr := http.Header{}
	if o := os.Getenv("WS_ORIGIN"); o != "" {
		hdr.Set("Origin", o)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(os.Getenv("WS_URL"), hdr)
	if err != nil {
		if resp != nil {
			fmt.Printf("STATUS %d\n", resp.StatusCode)
			os.Exit(0)
		}
		fmt.Printf("ERROR %v\n", err)
		os.Exit(0)
	}
	defer conn.Close()
	var secs int
	fmt.Sscan(os.Getenv("WS_SECONDS"), &secs)
	conn.SetReadDeadline(time.Now().Add(time.Duration(secs) * time.Second))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			os.Exit(0)
		}
		fmt.Println(string(msg))
	}
}

// TestDaemonMetrics: /metrics answers an allowed LAN host with the text
// format, its numbers those of `usage --period all`; another host gets 403.
func TestDaemonMetrics(t *testing.T) {
	r := newRig(t, "nftables", 2)
	h1, h2 := r.lan.Hosts[0], r.lan.Hosts[1]
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\toption live_port '8093'\n\toption live_tls_port '0'\n\toption metrics '1'\n\tlist metrics_allow '%s'\n",
		filepath.Join(t.TempDir(), "flash"), h1.IP4))
	r.ok(t, "arp-add", h1.MAC.String(), h1.IP4.String())
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	d := r.startDaemon(t)
	waitFor(t, 10*time.Second, "the listener", func() bool { return strings.Contains(d.out.String(), "live feed on") })
	url := fmt.Sprintf("http://%s:8093/metrics", r.lan.RouterLAN4)
	out := r.lan.Run(t, h1.NS, "busybox", "wget", "-q", "-O", "-", url)
	samples, err := metrics.Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var u struct {
		Hosts []struct {
			MAC           string `json:"mac"`
			DownloadBytes uint64 `json:"download_bytes"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(r.ok(t, "usage", "--json", "--period", "all")), &u); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range samples {
		if s.Name == "transferometer_download_bytes_total" && s.Labels["mac"] == h1.MAC.String() {
			found = true
			if s.Value != 10280 || u.Hosts[0].DownloadBytes != 10280 {
				t.Errorf("metrics %d, usage %d, want 10280", s.Value, u.Hosts[0].DownloadBytes)
			}
		}
	}
	if !found {
		t.Fatalf("no download sample for %s:\n%s", h1.MAC, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.lan.Exec(ctx, h2.NS, "busybox", "wget", "-q", "-S", "-O", "-", url).CombinedOutput()
	if err == nil || !strings.Contains(string(res), "403") {
		t.Fatalf("a host not in metrics_allow: %v %s", err, res)
	}
	d.stop(t)
}

// TestDaemonFollowsLANPorts: in the netdev placement the daemon attaches
// to a port the moment it joins br-lan (a Wi-Fi interface when hostapd
// starts), not a refresh_interval later, and detaches from one that goes;
// the new host's traffic is counted exactly.
func TestDaemonFollowsLANPorts(t *testing.T) {
	r := newRig(t, "netdev", 1)
	r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '3600'\n\toption persist_dir '%s'\n\toption live_port '0'\n\toption live_tls_port '0'\n", filepath.Join(t.TempDir(), "flash")))
	d := r.startDaemon(t)
	h1 := r.lan.Hosts[0]
	waitFor(t, 20*time.Second, "chains on the first port", func() bool {
		return strings.Contains(r.nftTable(t, "netdev"), "chain in_"+h1.RouterPort+" {")
	})
	h2 := r.lan.AddHost(t)
	waitFor(t, 5*time.Second, "the daemon to attach to the new port", func() bool {
		nd := r.nftTable(t, "netdev")
		return strings.Contains(nd, "chain in_"+h2.RouterPort+" {") && strings.Contains(nd, "chain out_"+h2.RouterPort+" {")
	})
	r.ok(t, "arp-add", h2.MAC.String(), h2.IP4.String())
	h2.Ping(t, r.lan.Internet4, 1000, 10)
	if got := r.usage(t).host(h2.MAC.String()); got.UploadBytes != 10280 || got.DownloadBytes != 10280 {
		t.Fatalf("new port's host: %+v, want 10280 each way", got)
	}
	r.lan.Run(t, r.lan.Router, "ip", "link", "set", h2.RouterPort, "nomaster")
	waitFor(t, 5*time.Second, "the daemon to detach from the former port", func() bool {
		return !strings.Contains(r.nftTable(t, "netdev"), "_"+h2.RouterPort+" {")
	})
	d.stop(t)
	if strings.Contains(d.out.String(), "collect after a device change:") {
		t.Errorf("daemon log:\n%s", d.out.String())
	}
}

// TestRPCDUsageFromDaemon: while the daemon runs (it collects every
// refresh_interval), ubus usage answers from the saved ledger — no lock, no
// counter read — so the LuCI page's polls cost a process start and a file
// read; collected_at says how old the numbers are. With the daemon gone,
// usage collects itself again.
func TestRPCDUsageFromDaemon(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '1'\n\toption persist_dir '%s'\n\toption live_port '0'\n\toption live_tls_port '0'\n", filepath.Join(t.TempDir(), "flash")))
	h := r.lan.Hosts[0]
	h.Ping(t, r.lan.RouterLAN4, 56, 1) // a neighbour for the daemon to seed
	d := r.startDaemon(t)
	waitFor(t, 20*time.Second, "the daemon to seed the host", func() bool { return r.hasRules(t, h.IP4.String()) })
	h.Ping(t, r.lan.Internet4, 1000, 10)
	waitFor(t, 10*time.Second, "the daemon's collection to reach usage", func() bool {
		u := r.rpcdRun(t, []byte("{}"), "call", "usage")
		return num(t, hostObj(t, u, h.MAC.String()), "upload_bytes") == 10280
	})
	// The daemon's snapshot is a whole usage reply with the same numbers.
	snap, err := os.ReadFile(filepath.Join(r.dbDir, "usage.snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(snap), "\n")
	var reply map[string]any
	if err := json.Unmarshal([]byte(body), &reply); err != nil {
		t.Fatalf("snapshot is not a usage reply: %v\n%s", err, snap)
	}
	if up, down := num(t, hostObj(t, reply, h.MAC.String()), "upload_bytes"), num(t, hostObj(t, reply, h.MAC.String()), "download_bytes"); up != 10280 || down != 10280 {
		t.Fatalf("snapshot: upload %d download %d, want 10280 each", up, down)
	}
	// A reset writes transfer.db: from then on the snapshot no longer
	// applies, and usage never shows the numbers from before the reset.
	r.rpcdRun(t, []byte(`{"mac":"`+h.MAC.String()+`"}`), "call", "reset")
	if got := num(t, hostObj(t, r.rpcdRun(t, []byte("{}"), "call", "usage"), h.MAC.String()), "upload_bytes"); got != 0 {
		t.Fatalf("usage right after a reset: upload %d, want 0", got)
	}
	// The daemon's next collection makes a snapshot of the transfer.db it
	// leaves (its first line names that file: inode, mtime, size).
	snapshotApplies := func() bool {
		b, err := os.ReadFile(filepath.Join(r.dbDir, "usage.snapshot"))
		st, err2 := os.Stat(filepath.Join(r.dbDir, "transfer.db"))
		if err != nil || err2 != nil {
			return false
		}
		id, _, _ := strings.Cut(string(b), "\n")
		return id == fmt.Sprintf("%d %d %d", st.Sys().(*syscall.Stat_t).Ino, st.ModTime().UnixNano(), st.Size())
	}
	waitFor(t, 10*time.Second, "a snapshot of the current transfer.db", snapshotApplies)
	// Another process holds the lock: a collecting usage would wait for
	// it (lock_timeout 20 s here) and warn; the saved answer does neither.
	holder := exec.Command("sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	r.plantLock(t, holder.Process.Pid)
	// Nothing can write while the lock is held, so the snapshot keeps
	// applying: mark its reply, and the call must answer with it.
	if !snapshotApplies() {
		t.Fatal("the snapshot stopped applying while the lock was held")
	}
	snap, err = os.ReadFile(filepath.Join(r.dbDir, "usage.snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	id, body, _ := strings.Cut(string(snap), "\n")
	marked := id + "\n" + strings.Replace(body, "{", `{"from_snapshot":1,`, 1)
	if err := os.WriteFile(filepath.Join(r.dbDir, "usage.snapshot"), []byte(marked), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	u := r.rpcdRun(t, []byte("{}"), "call", "usage")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("usage waited %v: it did not answer from the saved ledger", el)
	}
	if ws, _ := u["warnings"].([]any); len(ws) != 0 {
		t.Errorf("warnings %v", ws)
	}
	if _, ok := u["from_snapshot"]; !ok {
		t.Errorf("usage did not answer from the daemon's snapshot: %v", u)
	}
	at := int64(num(t, u, "collected_at"))
	st, err := os.Stat(filepath.Join(r.dbDir, "transfer.db"))
	if err != nil || at != st.ModTime().Unix() {
		t.Errorf("collected_at %d, transfer.db written at %v (%v)", at, st.ModTime().Unix(), err)
	}
	holder.Process.Kill()
	holder.Wait()
	d.stop(t)
	if _, err := os.Stat(filepath.Join(r.dbDir, "daemon.pid")); !os.IsNotExist(err) {
		t.Fatalf("daemon mark left after stop: %v", err)
	}
	h.Ping(t, r.lan.Internet4, 500, 7)
	u = r.rpcdRun(t, []byte("{}"), "call", "usage") // collects: the stale lock's holder is dead
	if got := num(t, hostObj(t, u, h.MAC.String()), "upload_bytes"); got != 3696 {
		t.Fatalf("without the daemon usage collects: upload %d, want %d", got, 3696)
	}
}
