package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const (
	goneSession   = "deaddeaddeaddeaddeaddeaddeaddead"
	gone22Session = "deadbeefdeadbeefdeadbeefdeadbeef"
	brokenSession = "11111111111111111111111111111111"
)

// fakeUbus writes an executable `ubus` into dir that logs its argv (one
// argument a line, calls separated by "--") and answers like rpcd's
// session.access: true for goodSession, "Not found" for an unknown session
// (exit 4 as current ubus does, 252 as OpenWrt 22.03's does), false
// otherwise. It never evaluates its arguments.
func fakeUbus(t *testing.T, dir string) (logFile string) {
	t.Helper()
	logFile = filepath.Join(dir, "argv.log")
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do printf '%%s\n' "$a"; done >> '%s'
echo -- >> '%s'
case "$4" in
*'"ubus_rpc_session":"%s"'*) printf '{\n\t"access": true\n}\n' ;;
*'"ubus_rpc_session":"%s"'*) echo 'Command failed: Not found' >&2; exit 4 ;;
*'"ubus_rpc_session":"%s"'*) echo 'Command failed: ubus call session access {} (Not found)' >&2; exit 252 ;;
*'"ubus_rpc_session":"%s"'*) echo 'Failed to connect to ubus' >&2; exit 255 ;;
*) printf '{\n\t"access": false\n}\n' ;;
esac
`, logFile, logFile, goodSession, goneSession, gone22Session, brokenSession)
	if err := os.WriteFile(filepath.Join(dir, "ubus"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return logFile
}

// calls reads back the logged argv of every call.
func calls(t *testing.T, logFile string) [][]string {
	t.Helper()
	data, err := os.ReadFile(logFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	var cur []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "--" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return out
}

func wantArgv(session string) []string {
	b, _ := json.Marshal(map[string]string{"ubus_rpc_session": session}) // escaping as encoding/json does
	sess := strings.TrimSuffix(strings.TrimPrefix(string(b), `{"ubus_rpc_session":`), "}")
	return []string{"call", "session", "access",
		`{"ubus_rpc_session":` + sess + `,"scope":"ubus","object":"transferometer","function":"usage"}`}
}

func TestUbusSessionChecker(t *testing.T) {
	dir := t.TempDir()
	logFile := fakeUbus(t, dir)
	now := time.Unix(1700000000, 0)
	u := &UbusSessionChecker{Ubus: filepath.Join(dir, "ubus"), TTL: 5 * time.Second, Now: func() time.Time { return now }}
	ctx := context.Background()

	ok, err := u.Allowed(ctx, goodSession)
	if err != nil || !ok {
		t.Fatalf("good session: %v, %v", ok, err)
	}
	got := calls(t, logFile)
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(wantArgv(goodSession)) {
		t.Fatalf("argv %q, want %q", got, wantArgv(goodSession))
	}

	// A reconnect storm within the TTL forks nothing.
	for i := 0; i < 20; i++ {
		if ok, err := u.Allowed(ctx, goodSession); err != nil || !ok {
			t.Fatalf("cached good session: %v, %v", ok, err)
		}
	}
	if n := len(calls(t, logFile)); n != 1 {
		t.Fatalf("%d ubus calls within the TTL, want 1", n)
	}
	now = now.Add(6 * time.Second)
	if ok, err := u.Allowed(ctx, goodSession); err != nil || !ok {
		t.Fatalf("good session after TTL: %v, %v", ok, err)
	}
	if n := len(calls(t, logFile)); n != 2 {
		t.Fatalf("%d ubus calls after the TTL, want 2", n)
	}

	// "not found" (expired session) is a no, not an error. OpenWrt 22.03's
	// ubus exits 252 (-4 as a byte) for "not found". A no is believed for
	// NegativeTTL: a repeated bad id forks ubus once in that time.
	for _, s := range []string{badSession, badSession, goneSession, gone22Session, goneSession} {
		if ok, err := u.Allowed(ctx, s); err != nil || ok {
			t.Fatalf("session %s: %v, %v; want false, nil", s, ok, err)
		}
	}
	if n := len(calls(t, logFile)); n != 5 {
		t.Fatalf("%d ubus calls, want 5 (each denied id asked once)", n)
	}
	now = now.Add(6 * time.Second)
	if ok, err := u.Allowed(ctx, badSession); err != nil || ok {
		t.Fatalf("bad session after the negative TTL: %v, %v", ok, err)
	}
	if n := len(calls(t, logFile)); n != 6 {
		t.Fatalf("%d ubus calls after the negative TTL, want 6", n)
	}

	// ubus itself failing is an error, not a verdict.
	if ok, err := u.Allowed(ctx, brokenSession); err == nil || ok || !strings.Contains(err.Error(), "Failed to connect") {
		t.Fatalf("broken ubus: %v, %v", ok, err)
	}
	if ok, err := (&UbusSessionChecker{Ubus: filepath.Join(dir, "missing")}).Allowed(ctx, goodSession); err == nil || ok {
		t.Fatalf("missing ubus binary: %v, %v", ok, err)
	}
	if ok, err := u.Allowed(ctx, ""); err != nil || ok {
		t.Fatalf("empty session: %v, %v", ok, err)
	}
}

// TestUbusCheckerCacheBounded: a flood of made-up ids, each refused, keeps
// each cache within maxCached and does not push a real session's yes out.
func TestUbusCheckerCacheBounded(t *testing.T) {
	dir := t.TempDir()
	logFile := fakeUbus(t, dir)
	now := time.Unix(1700000000, 0)
	u := &UbusSessionChecker{Ubus: filepath.Join(dir, "ubus"), Now: func() time.Time { return now }}
	ctx := context.Background()
	if ok, err := u.Allowed(ctx, goodSession); err != nil || !ok {
		t.Fatalf("good session: %v, %v", ok, err)
	}
	const ids = 2*maxCached + 3
	for i := 0; i < ids; i++ {
		if ok, err := u.Allowed(ctx, fmt.Sprintf("%032x", i+1)); err != nil || ok {
			t.Fatalf("made-up id %d: %v, %v", i, ok, err)
		}
	}
	if ok, err := u.Allowed(ctx, goodSession); err != nil || !ok {
		t.Fatalf("good session after the flood: %v, %v", ok, err)
	}
	if n := len(calls(t, logFile)); n != 1+ids {
		t.Fatalf("%d ubus calls, want %d (the good session's yes still cached)", n, 1+ids)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.yes) > maxCached || len(u.no) > maxCached {
		t.Fatalf("caches hold %d yes and %d no, want at most %d each", len(u.yes), len(u.no), maxCached)
	}
}

func TestUbusSessionCheckerNoShell(t *testing.T) {
	dir := t.TempDir()
	logFile := fakeUbus(t, dir)
	u := &UbusSessionChecker{Ubus: filepath.Join(dir, "ubus")}
	marker := filepath.Join(dir, "X")
	before := 0
	for _, s := range []string{
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		`"; touch ` + marker + `; "`,
		`'; touch ` + marker + `; '`,
		`good", "scope": "uci`,
	} {
		ok, err := u.Allowed(context.Background(), s)
		if err != nil || ok {
			t.Fatalf("session %q: %v, %v", s, ok, err)
		}
		got := calls(t, logFile)
		if len(got) != before+1 {
			t.Fatalf("session %q: %d calls", s, len(got))
		}
		if fmt.Sprint(got[before]) != fmt.Sprint(wantArgv(s)) {
			t.Fatalf("argv %q, want %q", got[before], wantArgv(s))
		}
		var req map[string]string
		if err := json.Unmarshal([]byte(got[before][3]), &req); err != nil || req["ubus_rpc_session"] != s || req["scope"] != "ubus" || len(req) != 4 {
			t.Fatalf("argument %s does not carry the id as one string: %v", got[before][3], err)
		}
		before++
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("a session id was evaluated by a shell: %s exists", marker)
	}
}

func TestUbusCheckerCanceled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ubus"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	u := &UbusSessionChecker{Ubus: filepath.Join(dir, "ubus"), Timeout: 200 * time.Millisecond}
	start := time.Now()
	ok, err := u.Allowed(context.Background(), goodSession)
	if err == nil || ok {
		t.Fatalf("hung ubus: %v, %v", ok, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("hung ubus held the check for %v", d)
	}
}

// The whole path as on the router: the hub's default checker runs the
// `ubus` found on PATH.
func TestHubWithUbusOnPath(t *testing.T) {
	dir := t.TempDir()
	logFile := fakeUbus(t, dir)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	h := newHub(t, Options{})
	addr := serve(t, h, "", "")

	c := mustDial(t, addr, goodSession)
	waitFor(t, "the client", func() bool { return h.Clients() == 1 })
	for _, s := range []string{badSession, goneSession} {
		if _, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, s), "http://127.0.0.1"); status != http.StatusForbidden {
			t.Fatalf("session %s: %d, want 403", s, status)
		}
	}
	if _, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, brokenSession), "http://127.0.0.1"); status != http.StatusServiceUnavailable {
		t.Fatalf("ubus failing: %d, want 503", status)
	}
	if _, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, goodSession), "http://evil.example"); status != http.StatusForbidden {
		t.Fatalf("foreign origin: %d, want 403", status)
	}
	if n := len(calls(t, logFile)); n != 4 {
		t.Fatalf("%d ubus calls, want 4 (none for the foreign origin)", n)
	}
	t0 := time.Unix(1700000000, 0)
	h.Publish(sample(t0, map[string]Counts{"aa:00:00:00:00:01": {}}))
	h.Publish(sample(t0.Add(time.Second), map[string]Counts{"aa:00:00:00:00:01": {DownloadBytes: 10280, UploadBytes: 1024}}))
	assertRates(t, readMsg(t, c), t0.Add(time.Second), []Rate{{MAC: "aa:00:00:00:00:01", Down: 10280, Up: 1024}})
}
