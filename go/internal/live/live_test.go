package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const (
	goodSession  = "0123456789abcdef0123456789abcdef"
	otherSession = "fedcba9876543210fedcba9876543210"
	badSession   = "ffffffffffffffffffffffffffffffff"
)

// fakeChecker is the only fake in these tests: rpcd's verdict.
type fakeChecker struct {
	mu    sync.Mutex
	good  map[string]bool
	err   error
	calls int
}

func newChecker(good ...string) *fakeChecker {
	f := &fakeChecker{good: map[string]bool{}}
	for _, s := range good {
		f.good[s] = true
	}
	return f
}

func (f *fakeChecker) Allowed(ctx context.Context, session string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.good[session], f.err
}

func (f *fakeChecker) set(session string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.good[session] = ok
}

func (f *fakeChecker) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func newHub(t *testing.T, o Options) *Hub {
	t.Helper()
	h := NewHub(o)
	t.Cleanup(h.Close)
	return h
}

// serve runs h through Listen and Serve on a real loopback socket.
func serve(t *testing.T, h http.Handler, certFile, keyFile string) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func liveURL(scheme, addr, session string) string {
	u := scheme + "://" + addr + "/live"
	if session != "" {
		u += "?session=" + session
	}
	return u
}

// dial connects like a browser page on the router's address would.
func dial(t *testing.T, d *websocket.Dialer, url, origin string) (*websocket.Conn, int, error) {
	t.Helper()
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	c, resp, err := d.Dial(url, hdr)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, status, err
}

func mustDial(t *testing.T, addr, session string) *websocket.Conn {
	t.Helper()
	c, status, err := dial(t, websocket.DefaultDialer, liveURL("ws", addr, session), "http://127.0.0.1")
	if err != nil {
		t.Fatalf("dial: status %d: %v", status, err)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readMsg(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d, want text", typ)
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

func assertRates(t *testing.T, m Message, at time.Time, want []Rate) {
	t.Helper()
	if m.Type != "rates" || m.At != at.UnixMilli() {
		t.Fatalf("message %+v, want type rates at %d", m, at.UnixMilli())
	}
	if fmt.Sprint(m.Rates) != fmt.Sprint(want) {
		t.Fatalf("rates %+v, want %+v", m.Rates, want)
	}
}

func sample(at time.Time, hosts map[string]Counts) Sample { return Sample{At: at, Hosts: hosts} }

func TestValidSessionReceivesExactRates(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	c := mustDial(t, addr, goodSession)
	waitFor(t, "the client to register", func() bool { return h.Clients() == 1 })

	t0 := time.Unix(1700000000, 0)
	h.Publish(sample(t0, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 1000, UploadBytes: 2000},
		"aa:00:00:00:00:02": {DownloadBytes: 0, UploadBytes: 0},
	}))
	t1 := t0.Add(time.Second)
	h.Publish(sample(t1, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 1000 + 10280, UploadBytes: 2000 + 512},
		"aa:00:00:00:00:02": {DownloadBytes: 0, UploadBytes: 0},
	}))
	// The first sample sent nothing: the first message is the second's.
	assertRates(t, readMsg(t, c), t1, []Rate{
		{MAC: "aa:00:00:00:00:01", Down: 10280, Up: 512},
		{MAC: "aa:00:00:00:00:02"},
	})

	t2 := t1.Add(2 * time.Second)
	h.Publish(sample(t2, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 11280 + 3000, UploadBytes: 2512 + 1},
		"aa:00:00:00:00:02": {DownloadBytes: 4096, UploadBytes: 0},
	}))
	assertRates(t, readMsg(t, c), t2, []Rate{
		{MAC: "aa:00:00:00:00:01", Down: 1500, Up: 0.5},
		{MAC: "aa:00:00:00:00:02", Down: 2048},
	})

	// A second client gets the latest rates at once, then the next ones.
	c2 := mustDial(t, addr, goodSession)
	assertRates(t, readMsg(t, c2), t2, []Rate{
		{MAC: "aa:00:00:00:00:01", Down: 1500, Up: 0.5},
		{MAC: "aa:00:00:00:00:02", Down: 2048},
	})
}

func TestCounterResetNeverNegative(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	c := mustDial(t, addr, goodSession)
	waitFor(t, "the client to register", func() bool { return h.Clients() == 1 })

	t0 := time.Unix(1700000000, 0)
	h.Publish(sample(t0, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 1 << 40, UploadBytes: 5000},
		"aa:00:00:00:00:02": {DownloadBytes: 100, UploadBytes: 100},
	}))
	// Same instant again (or the clock stepped back): no message, new baseline.
	h.Publish(sample(t0, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 1 << 40, UploadBytes: 5000},
		"aa:00:00:00:00:02": {DownloadBytes: 100, UploadBytes: 100},
	}))
	t1 := t0.Add(time.Second)
	h.Publish(sample(t1, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 300, UploadBytes: 7000},  // rule re-created: down reset
		"aa:00:00:00:00:02": {DownloadBytes: 100, UploadBytes: 50},    // up reset
		"aa:00:00:00:00:03": {DownloadBytes: 9999, UploadBytes: 9999}, // new host: no earlier value
	}))
	assertRates(t, readMsg(t, c), t1, []Rate{
		{MAC: "aa:00:00:00:00:01", Down: 0, Up: 2000},
		{MAC: "aa:00:00:00:00:02", Down: 0, Up: 0},
		{MAC: "aa:00:00:00:00:03", Down: 0, Up: 0},
	})
	// After the reset the new values are the baseline.
	t2 := t1.Add(time.Second)
	h.Publish(sample(t2, map[string]Counts{
		"aa:00:00:00:00:01": {DownloadBytes: 400, UploadBytes: 7000},
		"aa:00:00:00:00:03": {DownloadBytes: 10999, UploadBytes: 9999},
	}))
	assertRates(t, readMsg(t, c), t2, []Rate{
		{MAC: "aa:00:00:00:00:01", Down: 100},
		{MAC: "aa:00:00:00:00:03", Down: 1000},
	})
}

func TestPublishKeepsNoReference(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	c := mustDial(t, addr, goodSession)
	waitFor(t, "the client to register", func() bool { return h.Clients() == 1 })
	t0 := time.Unix(1700000000, 0)
	hosts := map[string]Counts{"aa:00:00:00:00:01": {DownloadBytes: 100}}
	h.Publish(sample(t0, hosts))
	hosts["aa:00:00:00:00:01"] = Counts{DownloadBytes: 1 << 30} // the daemon reuses its map
	h.Publish(sample(t0.Add(time.Second), map[string]Counts{"aa:00:00:00:00:01": {DownloadBytes: 200}}))
	assertRates(t, readMsg(t, c), t0.Add(time.Second), []Rate{{MAC: "aa:00:00:00:00:01", Down: 100}})
}

func TestRefusedBeforeUpgrade(t *testing.T) {
	type tc struct {
		name, session, origin string
		status, calls         int
	}
	cases := []tc{
		{"missing session", "", "http://127.0.0.1", http.StatusForbidden, 0},
		{"malformed session", "abc", "http://127.0.0.1", http.StatusForbidden, 0},
		{"uppercase session", strings.ToUpper(goodSession), "http://127.0.0.1", http.StatusForbidden, 0},
		{"invalid session", badSession, "http://127.0.0.1", http.StatusForbidden, 1},
		{"foreign origin", goodSession, "http://evil.example", http.StatusForbidden, 0},
		{"foreign origin same port", goodSession, "http://evil.example:" + "PORT", http.StatusForbidden, 0},
		{"opaque origin", goodSession, "null", http.StatusForbidden, 0},
		{"file origin", goodSession, "file://127.0.0.1", http.StatusForbidden, 0},
		{"no origin, invalid session", badSession, "", http.StatusForbidden, 1},
		{"no origin, valid session", goodSession, "", http.StatusSwitchingProtocols, 1},
		{"LuCI on another port", goodSession, "https://127.0.0.1:443", http.StatusSwitchingProtocols, 1},
		{"LuCI by name, case-insensitive", goodSession, "http://LOCALHOST", http.StatusSwitchingProtocols, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checker := newChecker(goodSession)
			h := newHub(t, Options{Checker: checker})
			addr := serve(t, h, "", "")
			host := "127.0.0.1"
			if strings.Contains(c.origin, "LOCALHOST") {
				host = "localhost"
				addr = strings.Replace(addr, "127.0.0.1", "localhost", 1)
			}
			origin := strings.Replace(c.origin, "PORT", addr[strings.LastIndex(addr, ":")+1:], 1)
			conn, status, err := dial(t, websocket.DefaultDialer, liveURL("ws", addr, c.session), origin)
			if status != c.status {
				t.Fatalf("status %d (%v), want %d", status, err, c.status)
			}
			if c.status != http.StatusSwitchingProtocols {
				if err == nil || conn != nil {
					t.Fatalf("connected despite %d", status)
				}
				if h.Clients() != 0 {
					t.Fatalf("%d clients after a refusal", h.Clients())
				}
			} else {
				waitFor(t, "the client on "+host, func() bool { return h.Clients() == 1 })
			}
			if n := checker.count(); n != c.calls {
				t.Fatalf("checker called %d times, want %d", n, c.calls)
			}
		})
	}
}

func TestCheckerErrorIsUnavailable(t *testing.T) {
	checker := newChecker(goodSession)
	checker.err = fmt.Errorf("ubus: connection refused")
	h := newHub(t, Options{Checker: checker})
	addr := serve(t, h, "", "")
	_, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, goodSession), "http://127.0.0.1")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", status)
	}
}

func TestPlainRequestsAreNotUpgrades(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	for path, want := range map[string]int{
		"/":                            http.StatusOK,
		"/live?session=" + goodSession: http.StatusBadRequest,
		"/other":                       http.StatusNotFound,
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// The path is exact: the feed is not served under another name.
	_, status, _ := dial(t, websocket.DefaultDialer, "ws://"+addr+"/live/x?session="+goodSession, "http://127.0.0.1")
	if status != http.StatusNotFound {
		t.Errorf("/live/x: %d, want 404", status)
	}
}

func TestConnectionCap(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession, otherSession), MaxClients: 2})
	addr := serve(t, h, "", "")
	first := mustDial(t, addr, goodSession)
	mustDial(t, addr, otherSession)
	waitFor(t, "two clients", func() bool { return h.Clients() == 2 })
	_, status, err := dial(t, websocket.DefaultDialer, liveURL("ws", addr, goodSession), "http://127.0.0.1")
	if status != http.StatusServiceUnavailable || err == nil {
		t.Fatalf("third client: status %d (%v), want 503", status, err)
	}
	first.Close()
	waitFor(t, "the closed client to leave", func() bool { return h.Clients() == 1 })
	mustDial(t, addr, goodSession)
	waitFor(t, "the slot to be reused", func() bool { return h.Clients() == 2 })
}

// bigSample is n hosts whose counters grow by odd amounts, so that every
// message is large (long float digits) and fills socket buffers quickly.
func bigSample(i, n int, t0 time.Time) Sample {
	hosts := make(map[string]Counts, n)
	for j := 0; j < n; j++ {
		v := uint64(i) * uint64(1000003+j*7919)
		hosts[fmt.Sprintf("02:00:00:00:%02x:%02x", j>>8, j&0xff)] = Counts{DownloadBytes: v * 3, UploadBytes: v}
	}
	return Sample{At: t0.Add(time.Duration(i) * 1001 * time.Millisecond), Hosts: hosts}
}

func TestSlowClientDroppedPublishNeverBlocks(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession, otherSession), SendBuffer: 4, WriteTimeout: 30 * time.Second})
	addr := serve(t, h, "", "")
	slow := mustDial(t, addr, goodSession) // never reads
	fast := mustDial(t, addr, otherSession)
	var got atomic.Int64
	go func() {
		for {
			if _, _, err := fast.ReadMessage(); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	waitFor(t, "two clients", func() bool { return h.Clients() == 2 })

	t0 := time.Unix(1700000000, 0)
	var slowest time.Duration
	deadline := time.Now().Add(60 * time.Second)
	i := 0
	for ; h.Clients() == 2; i++ {
		if time.Now().After(deadline) || i > 5000 {
			t.Fatalf("slow client still connected after %d messages", i)
		}
		s := bigSample(i, 2000, t0)
		start := time.Now()
		h.Publish(s)
		if d := time.Since(start); d > slowest {
			slowest = d
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("slow client dropped after %d samples; slowest Publish %v", i, slowest)
	// Generous: Publish never waits for a socket, only encodes.
	if slowest > 3*time.Second {
		t.Fatalf("Publish took %v with a stuck client", slowest)
	}
	// The server really hung up: the slow client reads what was buffered,
	// then an error, well before the 30 s write timeout.
	_ = slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("slow client's connection left open: %v", err)
			}
			break
		}
	}
	// The fast client was not hurt.
	if h.Clients() != 1 {
		t.Fatalf("%d clients, want the fast one", h.Clients())
	}
	before := got.Load()
	h.Publish(bigSample(i+1, 10, t0))
	waitFor(t, "the fast client to keep receiving", func() bool { return got.Load() > before })
}

func TestKeepaliveDropsSilentClient(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession, otherSession), PingInterval: 50 * time.Millisecond})
	addr := serve(t, h, "", "")
	mustDial(t, addr, goodSession) // never reads, so never answers a ping
	alive := mustDial(t, addr, otherSession)
	go func() {
		for {
			if _, _, err := alive.ReadMessage(); err != nil { // answers pings
				return
			}
		}
	}()
	waitFor(t, "two clients", func() bool { return h.Clients() == 2 })
	waitFor(t, "the silent client to be dropped", func() bool { return h.Clients() == 1 })
	time.Sleep(300 * time.Millisecond) // several ping intervals
	if h.Clients() != 1 {
		t.Fatalf("the answering client was dropped too")
	}
}

func TestOversizedInputCloses(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	c := mustDial(t, addr, goodSession)
	waitFor(t, "the client", func() bool { return h.Clients() == 1 })
	if err := c.WriteMessage(websocket.TextMessage, []byte("small talk")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if h.Clients() != 1 {
		t.Fatal("a small message closed the connection")
	}
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client to be closed", func() bool { return h.Clients() == 0 })
}

func TestLoggedOutSessionIsClosed(t *testing.T) {
	checker := newChecker(goodSession)
	h := newHub(t, Options{Checker: checker, Recheck: 20 * time.Millisecond})
	addr := serve(t, h, "", "")
	c := mustDial(t, addr, goodSession)
	waitFor(t, "the client", func() bool { return h.Clients() == 1 })
	checker.set(goodSession, false)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("read after logout: %v, want close 1008", err)
	}
	waitFor(t, "the hub to forget it", func() bool { return h.Clients() == 0 })
}

func TestCloseDisconnectsEveryone(t *testing.T) {
	h := NewHub(Options{Checker: newChecker(goodSession, otherSession)})
	addr := serve(t, h, "", "")
	a := mustDial(t, addr, goodSession)
	mustDial(t, addr, otherSession) // does not read: Close must not wait on it
	waitFor(t, "two clients", func() bool { return h.Clients() == 2 })
	start := time.Now()
	h.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if h.Clients() != 0 {
		t.Fatalf("%d clients after Close", h.Clients())
	}
	_ = a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := a.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("read after Close: %v, want close 1001", err)
	}
	_, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, goodSession), "http://127.0.0.1")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %d, want 503", status)
	}
	h.Publish(bigSample(1, 1, time.Now())) // harmless
	h.Close()                              // idempotent
}

func TestSameHost(t *testing.T) {
	for _, c := range []struct {
		origin, host string
		ok           bool
	}{
		{"http://192.168.1.1", "192.168.1.1:7891", true},
		{"https://192.168.1.1:443", "192.168.1.1:7891", true},
		{"http://OpenWrt.lan", "openwrt.lan:7891", true},
		{"http://[fd00::1]", "[fd00::1]:7891", true},
		{"http://[fd00::1]:80", "[fd00::1]", true},
		{"http://192.168.1.1", "192.168.1.1", true},
		{"http://192.168.1.10", "192.168.1.1:7891", false},
		{"http://evil.example", "192.168.1.1:7891", false},
		{"http://192.168.1.1.evil.example", "192.168.1.1:7891", false},
		{"null", "192.168.1.1:7891", false},
		{"ftp://192.168.1.1", "192.168.1.1:7891", false},
		{"", "192.168.1.1:7891", false},
	} {
		if got := SameHost(c.origin, c.host); got != c.ok {
			t.Errorf("SameHost(%q, %q) = %v, want %v", c.origin, c.host, got, c.ok)
		}
	}
}

func TestListenAndServeStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, "127.0.0.1:0", "", "", NewHub(Options{})) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if err := ListenAndServe(context.Background(), "127.0.0.1:0", "/nonexistent.crt", "", nil); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}
