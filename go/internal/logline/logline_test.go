package logline

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestStreams(t *testing.T) {
	var out, errw bytes.Buffer
	l := Streams("transferometer", &out, &errw)
	l.Infof("live feed on %s", "192.168.1.1:8093")
	l.Warningf("neighbour table: %v", "gone\nmissing")
	l.Errorf("collect: %s", "lock\r\ntimeout")
	if got, want := out.String(), "transferometer: live feed on 192.168.1.1:8093\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	want := "transferometer: warning: neighbour table: gone missing\ntransferometer: collect: lock  timeout\n"
	if got := errw.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

// listen is a syslog socket, as logd's /dev/log: datagrams.
func listen(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// TestSyslog: each level at its priority (facility daemon: info 30,
// warning 28, err 27), with the 16-character timestamp logd strips and
// the tag and PID procd would have given; nothing on the streams.
func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	c := listen(t, sock)
	var out, errw bytes.Buffer
	l := Syslog(sock, "transferometer", &out, &errw)
	defer l.Close()
	l.now = func() time.Time { return time.Date(2026, 12, 7, 3, 4, 5, 0, time.UTC) }
	pid := strconv.Itoa(os.Getpid())
	for _, c2 := range []struct {
		log       func(string, ...any)
		msg, want string
	}{
		{l.Infof, "started", "<30>Dec  7 03:04:05 transferometer[" + pid + "]: started"},
		{l.Warningf, "warning text", "<28>Dec  7 03:04:05 transferometer[" + pid + "]: warning text"},
		{l.Errorf, "error\ntwo lines", "<27>Dec  7 03:04:05 transferometer[" + pid + "]: error two lines"},
	} {
		c2.log("%s", c2.msg)
		got := recv(t, c)
		if got != c2.want {
			t.Errorf("datagram %q, want %q", got, c2.want)
		}
		// What logd keeps after its priority and timestamp strip.
		if rest := got[strings.IndexByte(got, '>')+1:]; rest[15] != ' ' || !strings.HasPrefix(rest[16:], "transferometer[") {
			t.Errorf("timestamp not 15 characters and a space: %q", rest)
		}
	}
	if out.Len()+errw.Len() != 0 {
		t.Errorf("streams written with syslog there: %q %q", out.String(), errw.String())
	}
}

// TestSyslogRestart: logd restarted (a new socket at the same path) still
// gets the next message; with no socket at all, messages go to the
// streams and none is lost.
func TestSyslogRestart(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	c := listen(t, sock)
	var out, errw bytes.Buffer
	l := Syslog(sock, "t", &out, &errw)
	defer l.Close()
	l.Infof("one")
	if got := recv(t, c); !strings.HasSuffix(got, "]: one") {
		t.Fatalf("got %q", got)
	}
	c.Close()
	os.Remove(sock)
	l.Warningf("while logd is down")
	if got, want := errw.String(), "t: warning: while logd is down\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	c = listen(t, sock)
	l.Errorf("after the restart")
	if got := recv(t, c); !strings.HasPrefix(got, "<27>") || !strings.HasSuffix(got, "]: after the restart") {
		t.Errorf("got %q", got)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out.String())
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2 bytes each
	got := Clean(long)
	if len(got) > maxMessage+len("…") || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("Clean of %d bytes: %d bytes, valid UTF-8 %v", len(long), len(got), utf8.ValidString(got))
	}
	if got := Clean("a\nb\tc\x00d"); got != "a b c d" {
		t.Errorf("Clean: %q", got)
	}
	if !regexp.MustCompile(`^[^\n]*$`).MatchString(Clean("x\n\n\ny")) {
		t.Error("line break kept")
	}
}
