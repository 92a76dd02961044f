package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// What a healthy router's log holds after the daemon starts: the daemon run
// as procd runs it — the command the init script registers, started by
// PID 1 with stdin /dev/null and procd's PATH, on a router file system
// holding the package with its shipped /etc/config/transferometer and
// OpenWrt's default /etc/TZ ("UTC") — says one thing, at daemon.info, and
// nothing at warning or error, neither through logd's /dev/log nor on
// stdout and stderr (which procd files under daemon.info and daemon.err).

// procdLike is PID 1 of a fresh PID namespace standing in for procd: it
// gives the router a /dev of its own (with /dev/log bound to the test's
// socket when $1 names one, as when logd runs), RAM for /tmp, /run and
// /var/lib and no /etc/localtime as on a stock OpenWrt, and starts the command (the rest of the
// arguments) with stdin /dev/null, stdout on fd 3 and stderr on fd 4. A
// line (or EOF) on its own stdin stops the daemon with SIGTERM, as
// `service transferometer stop` does; it exits with the daemon's status.
const procdLike = `set -eu
sock=$1
shift
mount -t tmpfs -o mode=0755 dev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
if [ -n "$sock" ]; then
	: >/dev/log
	mount --bind "$sock" /dev/log
fi
# No zoneinfo package: no /etc/localtime (removed in the overlay only).
rm -f /etc/localtime
for d in /tmp /run /var/lib; do
	mount -t tmpfs tmpfs "$d"
done
"$@" </dev/null >&3 2>&4 3>&- 4>&- &
pid=$!
read -r _ || true
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
exit "$st"
`

// initScriptCommand is the command line the init script hands procd for
// the daemon (procd_set_param command), with the procd API stubbed as in
// TestShellInitScript and the default settings (enabled).
func initScriptCommand(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	fn, err := filepath.Abs("testdata/functions.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := ". " + fn + "\n" +
		`procd_open_instance() { :; }
procd_set_param() { [ "$1" = command ] && { shift; printf '%s\n' "$@"; }; :; }
procd_close_instance() { :; }
` + ". " + filepath.Join(root, "files/etc/init.d/transferometer") + "\nstart_service\n"
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("init script: %v\n%s", err, out)
	}
	argv := strings.Fields(string(out))
	if len(argv) == 0 || argv[0] != "/usr/sbin/transferometer" {
		t.Fatalf("init script registers %q, want /usr/sbin/transferometer ...", argv)
	}
	return argv
}

// daemonLog is what a daemon run by procdLike said, where.
type daemonLog struct {
	syslog         []string // datagrams, as sent
	stdout, stderr string
	exit           error
}

// runAsProcd starts the daemon under procdLike in the router namespace,
// waits until started(log so far) holds, stops it and returns what it logged.
func (r *rig) runAsProcd(t *testing.T, withLogd bool, extra []sysFile, started func(*daemonLog) bool) *daemonLog {
	t.Helper()
	dir := t.TempDir()
	var list strings.Builder
	for _, f := range append(r.packageFiles(t), extra...) {
		if f.link != "" {
			fmt.Fprintf(&list, "link %s %s\n", f.dest, f.link)
			continue
		}
		fmt.Fprintf(&list, "%o %s %s\n", f.mode, f.dest, f.src)
	}
	setup, listFile, mnt, sock := filepath.Join(dir, "setup.sh"), filepath.Join(dir, "files"), filepath.Join(dir, "root"), ""
	for name, data := range map[string]string{setup: overlaySetup, listFile: list.String()} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	log := &daemonLog{}
	snapshot := func() *daemonLog {
		mu.Lock()
		defer mu.Unlock()
		c := *log
		c.syslog = append([]string(nil), log.syslog...)
		return &c
	}
	var readers sync.WaitGroup
	var logd *net.UnixConn
	if withLogd {
		sock = filepath.Join(dir, "log")
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		logd = c
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				mu.Lock()
				log.syslog = append(log.syslog, string(buf[:n]))
				mu.Unlock()
			}
		}()
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		r  *os.File
		to *string
	}{{outR, &log.stdout}, {errR, &log.stderr}} {
		readers.Add(1)
		go func(rd io.ReadCloser, to *string) {
			defer readers.Done()
			defer rd.Close()
			sc := bufio.NewScanner(rd)
			for sc.Scan() {
				mu.Lock()
				*to += sc.Text() + "\n"
				mu.Unlock()
			}
		}(p.r, p.to)
	}

	argv := append([]string{"--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
		"sh", setup, mnt, listFile, "PATH=" + procdPath}, routerShell()...)
	argv = append(argv, "-c", procdLike, "procd", sock)
	argv = append(argv, initScriptCommand(t)...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Router, "unshare", argv...)
	stop, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var harness strings.Builder // the stand-in's own output, for failures
	cmd.Stdout, cmd.Stderr = &harness, &harness
	cmd.ExtraFiles = []*os.File{outW, errW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	deadline := time.After(30 * time.Second)
	for !started(snapshot()) {
		select {
		case err := <-done:
			l := snapshot()
			t.Fatalf("daemon ended before it started: %v\n%s\nsyslog %q\nstdout %q\nstderr %q", err, harness.String(), l.syslog, l.stdout, l.stderr)
		case <-deadline:
			stop.Close()
			<-done
			l := snapshot()
			t.Fatalf("no start line within 30 s\n%s\nsyslog %q\nstdout %q\nstderr %q", harness.String(), l.syslog, l.stdout, l.stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintln(stop, "stop")
	stop.Close()
	select {
	case err := <-done:
		log.exit = err
	case <-time.After(40 * time.Second):
		t.Fatalf("the daemon did not stop on SIGTERM\n%s", harness.String())
	}
	if logd != nil {
		// Every datagram sent before the exit is queued: read them, then
		// the reader times out.
		if err := logd.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	readers.Wait()
	if harness.Len() > 0 {
		t.Logf("stand-in for procd: %s", harness.String())
	}
	l := snapshot()
	t.Logf("syslog %q, stdout %q, stderr %q", l.syslog, l.stdout, l.stderr)
	return l
}

// routerNetwork is /etc/config/network for the rig's LAN: br-lan with the
// router's IPv4 address (its IPv6 one is read off the device).
func (r *rig) routerNetwork(t *testing.T) sysFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "network")
	conf := fmt.Sprintf("config interface 'lan'\n\toption device '%s'\n\toption proto 'static'\n\toption ipaddr '%s/%d'\n",
		"br-lan", r.lan.RouterLAN4, r.lan.LAN4.Bits())
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return sysFile{dest: "/etc/config/network", mode: 0o644, src: p}
}

// defaultRouter is what the package finds on a stock OpenWrt 22.03 or
// later: the shipped settings, fw4 (so backend 'auto' is nftables), the
// LAN in /etc/config/network, and /etc/TZ as System → Time zone's default
// writes it.
func (r *rig) defaultRouter(t *testing.T) []sysFile {
	t.Helper()
	dir := t.TempDir()
	tz, fw4 := filepath.Join(dir, "TZ"), filepath.Join(dir, "fw4")
	if err := os.WriteFile(tz, []byte("UTC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fw4, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []sysFile{
		{dest: "/etc/config/transferometer", mode: 0o644, src: filepath.Join(repoRoot(t), "files/etc/config/transferometer")},
		r.routerNetwork(t),
		{dest: "/etc/TZ", mode: 0o644, src: tz},
		{dest: "/sbin/fw4", mode: 0o755, src: fw4},
	}
}

func TestDaemonLogAtStart(t *testing.T) {
	r := newRig(t, "nftables", 1)
	feed := fmt.Sprintf("live feed on %s:8093, [%s]:8093", r.lan.RouterLAN4, r.lan.RouterLAN6)
	startLine := "started, counting in the forward hook; " + feed

	t.Run("logd", func(t *testing.T) {
		l := r.runAsProcd(t, true, r.defaultRouter(t), func(l *daemonLog) bool { return len(l.syslog) > 0 })
		if l.exit != nil {
			t.Errorf("exit: %v", l.exit)
		}
		if len(l.syslog) != 1 || !strings.HasPrefix(l.syslog[0], "<30>") || !strings.HasSuffix(l.syslog[0], "]: "+startLine) {
			t.Errorf("syslog: %q\nwant one line at daemon.info (<30>) ending %q", l.syslog, "]: "+startLine)
		}
		if l.stdout != "" || l.stderr != "" {
			t.Errorf("with logd, stdout %q and stderr %q: want nothing", l.stdout, l.stderr)
		}
	})
	t.Run("no logd", func(t *testing.T) {
		l := r.runAsProcd(t, false, r.defaultRouter(t), func(l *daemonLog) bool { return l.stdout != "" })
		if l.exit != nil {
			t.Errorf("exit: %v", l.exit)
		}
		if want := "transferometer: " + startLine + "\n"; l.stdout != want {
			t.Errorf("stdout (procd: daemon.info) %q, want %q", l.stdout, want)
		}
		if l.stderr != "" {
			t.Errorf("stderr (procd: daemon.err) %q: want nothing", l.stderr)
		}
	})
	// A genuine warning still comes, at daemon.warning: a time zone the
	// C library cannot read either.
	t.Run("bad time zone", func(t *testing.T) {
		tz := filepath.Join(t.TempDir(), "TZ")
		if err := os.WriteFile(tz, []byte("Europe/Nowhere\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files := append(r.defaultRouter(t), sysFile{dest: "/etc/TZ", mode: 0o644, src: tz})
		l := r.runAsProcd(t, true, files, func(l *daemonLog) bool { return len(l.syslog) > 1 })
		if len(l.syslog) != 2 || !strings.HasPrefix(l.syslog[0], "<28>") || !strings.Contains(l.syslog[0], `]: /etc/TZ: time zone "Europe/Nowhere\n"`) ||
			!strings.HasPrefix(l.syslog[1], "<30>") || !strings.HasSuffix(l.syslog[1], "]: "+startLine) {
			t.Errorf("syslog: %q\nwant the time zone at daemon.warning (<28>), then the start line", l.syslog)
		}
		if l.stdout != "" || l.stderr != "" {
			t.Errorf("stdout %q and stderr %q: want nothing", l.stdout, l.stderr)
		}
	})
}
