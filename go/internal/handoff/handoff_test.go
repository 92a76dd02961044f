package handoff

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/testlan"
)

var sample = Message{Action: "add", MAC: macaddr.MAC{2, 0, 0, 0, 0, 1}, Addr: netip.MustParseAddr("192.168.1.10"), Hostname: "printer one"}

func TestRoundTrip(t *testing.T) {
	for _, m := range []Message{
		sample,
		{Action: "arp-add", MAC: macaddr.MAC{2, 0, 0, 0, 0, 2}, Addr: netip.MustParseAddr("fd00::10")},
		{Action: "del", MAC: macaddr.MAC{2, 0, 0, 0, 0, 3}, Addr: netip.MustParseAddr("10.0.0.1"), Hostname: strings.Repeat("é", 126)},
	} {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if err != nil || got != m {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", b, got, err, m)
		}
	}
}

// TestParseRefuses: every malformed request is ErrBadMessage, and Encode
// refuses to write what Parse would refuse.
func TestParseRefuses(t *testing.T) {
	for _, line := range []string{
		"",
		"\n",
		"1\tarp-add\t02:00:00:00:00:01\t192.168.1.10\t",                               // no newline
		"1\tarp-add\t02:00:00:00:00:01\t192.168.1.10\t\n1\tarp-add\n",                 // two lines
		"1\tarp-add\t02:00:00:00:00:01\t192.168.1.10\n",                               // 4 fields
		"1\tarp-add\t02:00:00:00:00:01\t192.168.1.10\t\t\n",                           // 6 fields
		"2\tarp-add\t02:00:00:00:00:01\t192.168.1.10\t\n",                             // version
		"1\tcollect\t02:00:00:00:00:01\t192.168.1.10\t\n",                             // action
		"1\tARP-ADD\t02:00:00:00:00:01\t192.168.1.10\t\n",                             // action
		"1\tarp-add\t02:00:00:00:00\t192.168.1.10\t\n",                                // MAC
		"1\tarp-add\t02:00:00:00:00:01\t192.168.1.10/24\t\n",                          // prefix
		"1\tarp-add\t02:00:00:00:00:01\tfe80::1%eth0\t\n",                             // zone
		"1\tarp-add\t02:00:00:00:00:01\t192.168.001.010\t\n",                          // leading zeros
		"1\tarp-add\t02:00:00:00:00:01\t\t\n",                                         // no address
		"1\tarp-add\t02:00:00:00:00:01\t192.168.1.10\tname\n",                         // name on arp-*
		"1\tadd\t02:00:00:00:00:01\t192.168.1.10\t<script>\n",                         // markup
		"1\tadd\t02:00:00:00:00:01\t192.168.1.10\tab\x00c\n",                          // NUL
		"1\tadd\t02:00:00:00:00:01\t192.168.1.10\ta\rb\n",                             // CR
		"1\tadd\t02:00:00:00:00:01\t192.168.1.10\t\xff\xfe\n",                         // not UTF-8
		"1\tadd\t02:00:00:00:00:01\t192.168.1.10\t" + strings.Repeat("a", 254) + "\n", // too long a name
		"1\tadd\t02:00:00:00:00:01\t192.168.1.10\t" + strings.Repeat("a", MaxMessage) + "\n",
	} {
		if m, err := Parse([]byte(line)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrBadMessage", line, m, err)
		}
	}
	for _, m := range []Message{
		{Action: "collect", MAC: sample.MAC, Addr: sample.Addr},
		{Action: "arp-add", MAC: sample.MAC},
		{Action: "arp-del", MAC: sample.MAC, Addr: sample.Addr, Hostname: "x"},
		{Action: "add", MAC: sample.MAC, Addr: sample.Addr, Hostname: "a\tb"},
	} {
		if _, err := m.Encode(); !errors.Is(err, ErrBadMessage) {
			t.Errorf("Encode(%+v) = %v, want ErrBadMessage", m, err)
		}
	}
}

// rootDir is a fresh directory that passes safepath (the tests run as
// root, as every door does), mode perm.
func rootDir(t *testing.T, perm os.FileMode) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root, as the doors run: safepath wants directories of root's")
	}
	dir, err := os.MkdirTemp("/tmp", "handoff-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSpool(t *testing.T) {
	dir := rootDir(t, 0o755)
	s, dropped, err := OpenSpool(dir)
	if err != nil || dropped != 0 || s.Len() != 0 {
		t.Fatalf("new spool: %v, dropped %d", err, dropped)
	}
	ms := []Message{sample, {Action: "arp-add", MAC: sample.MAC, Addr: netip.MustParseAddr("fd00::1")}, {Action: "arp-del", MAC: sample.MAC, Addr: sample.Addr}}
	for _, m := range ms {
		if err := s.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// A crash: the next daemon finds all three, in order.
	s, dropped, err = OpenSpool(dir)
	if err != nil || dropped != 0 {
		t.Fatal(err, dropped)
	}
	if got := s.Pending(); len(got) != 3 || got[0] != ms[0] || got[2] != ms[2] {
		t.Fatalf("replayed %+v", got)
	}
	if err := s.Done(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(sample); err != nil { // appends after a rewrite
		t.Fatal(err)
	}
	s.Close()
	s, _, err = OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pending(); len(got) != 2 || got[0] != ms[2] || got[1] != sample {
		t.Fatalf("after Done(2) and an append: %+v", got)
	}
	if err := s.Done(2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, err := os.Stat(filepath.Join(dir, SpoolName)); err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("emptied spool: %v %v", st, err)
	}
}

// TestSpoolDamaged: a line torn by a crash (never acknowledged) and
// garbage are dropped and the file rewritten, so that appends go on.
func TestSpoolDamaged(t *testing.T) {
	dir := rootDir(t, 0o755)
	good, _ := sample.Encode()
	data := string(good) + "garbage\n" + string(good) + "1\tarp-add\t02:00:00:00:00:0"
	if err := os.WriteFile(filepath.Join(dir, SpoolName), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	s, dropped, err := OpenSpool(dir)
	if err != nil || dropped != 2 || s.Len() != 2 {
		t.Fatalf("OpenSpool: %v, dropped %d, %d pending", err, dropped, s.Len())
	}
	if err := s.Append(sample); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(filepath.Join(dir, SpoolName))
	if want := strings.Repeat(string(good), 3); string(b) != want {
		t.Fatalf("spool %q, want %q", b, want)
	}
}

func TestSpoolBounded(t *testing.T) {
	dir := rootDir(t, 0o755)
	s, _, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < MaxSpool; i++ {
		if err := s.Append(sample); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := s.Append(sample); !errors.Is(err, ErrFull) {
		t.Fatalf("append past MaxSpool: %v", err)
	}
}

// TestSpoolRefusesPlanted: a link or a directory at the spool's path, or
// a directory others can write, is not written through.
func TestSpoolRefusesPlanted(t *testing.T) {
	dir := rootDir(t, 0o755)
	target := filepath.Join(rootDir(t, 0o755), "elsewhere")
	if err := os.Symlink(target, filepath.Join(dir, SpoolName)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenSpool(dir); err == nil {
		t.Fatal("opened a spool through a symbolic link")
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the link's target was created: %v", err)
	}
	if _, _, err := OpenSpool(rootDir(t, 0o777)); err == nil {
		t.Fatal("opened a spool in a world-writable directory")
	}
}

// serve runs a server in dir whose take records what it is given.
func serve(t *testing.T, dir string, take func(Message) error) (*Server, *[]Message) {
	t.Helper()
	srv, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Message
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, func(m Message) error {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			if take != nil {
				return take(m)
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return srv, &got
}

func TestSendAndServe(t *testing.T) {
	dir := rootDir(t, 0o755)
	_, got := serve(t, dir, nil)
	ctx := context.Background()
	if err := Send(ctx, dir, os.Getpid(), sample); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 || (*got)[0] != sample {
		t.Fatalf("taken %+v", *got)
	}
	st, err := os.Lstat(filepath.Join(dir, SocketName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want 0600", st.Mode(), err)
	}
	// The peer must be the process the daemon mark names.
	if err := Send(ctx, dir, os.Getpid()+1, sample); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("Send to a PID that is not the listener's: %v", err)
	}
	if len(*got) != 1 {
		t.Fatalf("a refused send reached the server: %+v", *got)
	}
}

func TestServeRefuses(t *testing.T) {
	dir := rootDir(t, 0o755)
	_, got := serve(t, dir, func(m Message) error {
		if m.Hostname == "full" {
			return ErrFull
		}
		return nil
	})
	sock := filepath.Join(dir, SocketName)
	raw := func(req string) string {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(req))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if r := raw("1\tarp-add\tnot-a-mac\t192.168.1.10\t\n"); r != replyNo {
		t.Fatalf("bad request answered %q", r)
	}
	// Past MaxMessage without a newline: closed, no answer.
	if r := raw(strings.Repeat("a", MaxMessage+10)); r != "" {
		t.Fatalf("oversized request answered %q", r)
	}
	full := sample
	full.Hostname = "full"
	if err := Send(context.Background(), dir, os.Getpid(), full); !errors.Is(err, ErrRefused) {
		t.Fatalf("a request the daemon could not make durable: %v", err)
	}
	if len(*got) != 1 {
		t.Fatalf("taken %+v", *got)
	}
}

// TestServeBoundsConnections: MaxConns connections that send nothing hold
// every slot until ConnTimeout; one more is closed at once (its hook runs
// the event itself), and the slots come back.
func TestServeBoundsConnections(t *testing.T) {
	dir := rootDir(t, 0o755)
	serve(t, dir, nil)
	sock := filepath.Join(dir, SocketName)
	var idle []net.Conn
	for i := 0; i < MaxConns; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them all
	if err := Send(context.Background(), dir, os.Getpid(), sample); err == nil {
		t.Fatal("taken past MaxConns")
	}
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("an idle connection was not closed after ConnTimeout: %v", err)
		}
	}
	if err := Send(context.Background(), dir, os.Getpid(), sample); err != nil {
		t.Fatalf("after the idle ones timed out: %v", err)
	}
}

func TestCheckSocket(t *testing.T) {
	dir := rootDir(t, 0o755)
	if err := CheckSocket(dir); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("no socket: %v", err)
	}
	p := filepath.Join(dir, SocketName)
	os.WriteFile(p, nil, 0o600)
	if err := CheckSocket(dir); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("a regular file: %v", err)
	}
	os.Remove(p)
	os.Symlink("/dev/null", p)
	if err := CheckSocket(dir); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("a link: %v", err)
	}
	os.Remove(p)
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(p, 0o666)
	if err := CheckSocket(dir); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("a socket anyone may use: %v", err)
	}
	os.Chmod(p, 0o600)
	os.Lchown(p, 65534, 65534)
	if err := CheckSocket(dir); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("another user's socket: %v", err)
	}
	os.Lchown(p, 0, 0)
	if err := CheckSocket(dir); err != nil {
		t.Fatalf("root's socket, 0600: %v", err)
	}
	open := rootDir(t, 0o777)
	ln2, err := net.Listen("unix", filepath.Join(open, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	os.Chmod(filepath.Join(open, SocketName), 0o600)
	if err := CheckSocket(open); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("a socket in a world-writable directory: %v", err)
	}
}

func TestCheckPeer(t *testing.T) {
	if err := checkPeer(0, 42, 42); err != nil {
		t.Fatal(err)
	}
	if err := checkPeer(65534, 42, 42); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("another uid: %v", err)
	}
	if err := checkPeer(0, 43, 42); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("another PID: %v", err)
	}
	if err := checkPeer(0, 0, 0); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("no daemon PID: %v", err)
	}
}

// TestServeRefusesOtherUsers: a client running as another user reaches a
// socket it may open (mode 0666 here, on purpose) and gets no answer;
// nothing is taken. The client is this test binary run as nobody.
func TestServeRefusesOtherUsers(t *testing.T) {
	dir := rootDir(t, 0o755)
	_, got := serve(t, dir, nil)
	sock := filepath.Join(dir, SocketName)
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	// A copy of this test binary that nobody may run (the build's
	// directory is root's alone).
	bin := filepath.Join(rootDir(t, 0o755), "client")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperClient$")
	cmd.Env = append(os.Environ(), "HANDOFF_HELPER_SOCKET="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `answer ""`) {
		t.Fatalf("helper as nobody:\n%s", out)
	}
	if len(*got) != 0 {
		t.Fatalf("taken from another user: %+v", *got)
	}
}

// TestSendRefusesOtherUsersListener: the socket file is root's, mode 0600,
// in a directory only root writes, and the PID is the one the hook was
// told — but the process listening runs as another user: nothing is sent.
// The listener is this test binary run as nobody.
func TestSendRefusesOtherUsersListener(t *testing.T) {
	dir := rootDir(t, 0o777) // nobody binds here; closed again below
	sock := filepath.Join(dir, SocketName)
	bin := filepath.Join(rootDir(t, 0o755), "listener")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperListener$")
	cmd.Env = append(os.Environ(), "HANDOFF_HELPER_LISTEN="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line := make([]byte, 64)
	if n, _ := io.ReadAtLeast(out, line, len("listening")); !strings.Contains(string(line[:n]), "listening") {
		t.Fatalf("helper: %q", line[:n])
	}
	// Everything but the listening process made to look like the daemon's.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(sock, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckSocket(dir); err != nil {
		t.Fatalf("the socket file should pass: %v", err)
	}
	err = Send(context.Background(), dir, cmd.Process.Pid, sample)
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("Send to a listener of uid 65534: %v", err)
	}
}

// TestHelperListener is the listener TestSendRefusesOtherUsersListener
// runs as another user: it answers ok to anything; on its own it does
// nothing.
func TestHelperListener(t *testing.T) {
	sock := os.Getenv("HANDOFF_HELPER_LISTEN")
	if sock == "" {
		return
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("uid %d: %v", os.Getuid(), err)
	}
	os.Stdout.WriteString("listening\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte(replyOK))
		c.Close()
	}
}

// TestHelperClient is the client TestServeRefusesOtherUsers runs as
// another user; on its own it does nothing.
func TestHelperClient(t *testing.T) {
	sock := os.Getenv("HANDOFF_HELPER_SOCKET")
	if sock == "" {
		return
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("uid %d: %v", os.Getuid(), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := sample.Encode()
	c.Write(b)
	reply, _ := io.ReadAll(c)
	t.Logf("uid %d: answer %q", os.Getuid(), reply)
	os.Stdout.WriteString("answer \"" + string(reply) + "\"\n")
}

// TestSpoolFullDisk: appends on a full file system fail (the hook runs its
// event itself) and leave no partial line: every event acknowledged is
// read back whole, and once applied ones make room, appends go on.
func TestSpoolFullDisk(t *testing.T) {
	dir := rootDir(t, 0o755)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8k,mode=0755"); err != nil {
		testlan.SkipOrFail(t, "mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	s, _, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	big := sample
	big.Hostname = strings.Repeat("n", 250)
	acked := 0
	for i := 0; i < 100; i++ {
		if err := s.Append(big); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append %d: %v", i, err)
			}
			break
		}
		acked++
	}
	if acked == 0 || acked == 100 {
		t.Fatalf("%d appends taken: the file system never filled", acked)
	}
	s.Close()
	s, dropped, err := OpenSpool(dir)
	if err != nil {
		t.Fatalf("after ENOSPC: %v (%d lines dropped)", err, dropped)
	}
	if dropped != 0 || s.Len() != acked {
		t.Fatalf("after ENOSPC: %d dropped, %d read back, %d acknowledged", dropped, s.Len(), acked)
	}
	if err := s.Done(acked); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(sample); err != nil {
		t.Fatalf("append after the spool emptied: %v", err)
	}
	s.Close()
}
