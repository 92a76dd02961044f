package live

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// slowChecker stands for rpcd under load: it answers the good session at
// once and holds every other check until released (or given up by the
// hub), counting how many it holds at once.
type slowChecker struct {
	good    string
	release chan struct{}

	mu            sync.Mutex
	inFlight, max int
	calls         int
}

func newSlowChecker(good string) *slowChecker {
	return &slowChecker{good: good, release: make(chan struct{})}
}

func (c *slowChecker) Allowed(ctx context.Context, session string) (bool, error) {
	if session == c.good {
		return true, nil
	}
	c.mu.Lock()
	c.calls++
	c.inFlight++
	if c.inFlight > c.max {
		c.max = c.inFlight
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	select {
	case <-c.release:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (c *slowChecker) stats() (inFlight, max, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight, c.max, c.calls
}

// dialerFrom dials from a loopback source address (all of 127/8 is local).
func dialerFrom(src string) *websocket.Dialer {
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: time.Minute}
}

// floodResult counts how a flood's dials ended.
type floodResult struct {
	mu     sync.Mutex
	status map[int]int // HTTP status → dials; 0: no HTTP answer (closed)
	done   int
}

func (r *floodResult) add(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[status]++
	r.done++
}

func (r *floodResult) snapshot() (map[int]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[int]int{}
	for k, v := range r.status {
		m[k] = v
	}
	return m, r.done
}

// flood dials perSource times from each source, all at once, each with a
// made-up session id of the right form, and returns at once; every dial
// ends by itself (answered, refused, or when the checker is released).
func flood(t *testing.T, addr string, sources []string, perSource int) (*floodResult, *sync.WaitGroup) {
	t.Helper()
	res := &floodResult{status: map[int]int{}}
	var wg sync.WaitGroup
	n := 0
	for _, src := range sources {
		d := dialerFrom(src)
		for i := 0; i < perSource; i++ {
			n++
			session := fmt.Sprintf("%032x", n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, resp, err := d.Dial(liveURL("ws", addr, session), http.Header{"Origin": {"http://127.0.0.1"}})
				status := 0
				if resp != nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				if c != nil {
					c.Close()
					status = http.StatusSwitchingProtocols
				} else if err == nil {
					status = -1
				}
				res.add(status)
			}()
		}
	}
	return res, &wg
}

// TestFloodFromOneHost: hundreds of unauthenticated dials at once from one
// host, against a checker that does not answer them, leave one check of
// that host under way (the rest are refused at once: 503, or the
// connection closed), and a good session from another host is served while
// the flood's check is still held.
func TestFloodFromOneHost(t *testing.T) {
	checker := newSlowChecker(goodSession)
	h := newHub(t, Options{Checker: checker, CheckTimeout: time.Minute})
	addr := serve(t, h, "", "")
	const dials = 300
	res, wg := flood(t, addr, []string{"127.0.0.1"}, dials)
	defer func() {
		close(checker.release)
		wg.Wait()
	}()

	// Every dial has ended or is inside the checker.
	waitFor(t, "every flood dial to end or reach the checker", func() bool {
		in, _, _ := checker.stats()
		_, done := res.snapshot()
		return in+done == dials
	})
	in, max, calls := checker.stats()
	status, done := res.snapshot()
	t.Logf("flood of %d from one host: %d checks held, at most %d at once, %d checks in all; ended: %v", dials, in, max, calls, status)
	if max > 1 {
		t.Fatalf("%d session checks of one host under way at once, want at most 1", max)
	}
	if status[http.StatusSwitchingProtocols] != 0 || status[http.StatusForbidden] != 0 || status[-1] != 0 {
		t.Fatalf("flood dials ended %v before any check was answered", status)
	}
	if done != dials-in {
		t.Fatalf("%d dials ended, %d held", done, in)
	}

	// The good session, from another host, while the flood's check is held.
	conn, st, err := dial(t, dialerFrom("127.0.0.2"), liveURL("ws", addr, goodSession), "http://127.0.0.1")
	if err != nil || conn == nil {
		t.Fatalf("good session during the flood: status %d: %v", st, err)
	}
	waitFor(t, "the good client to register", func() bool { return h.Clients() == 1 })
	if in, _, _ := checker.stats(); in == 0 {
		t.Fatal("the flood's check was no longer held: the test proves nothing")
	}
}

// TestFloodFromManyHosts: from many hosts at once, at most MaxPending
// checks are under way in all.
func TestFloodFromManyHosts(t *testing.T) {
	checker := newSlowChecker(goodSession)
	const pending = 4
	h := newHub(t, Options{Checker: checker, CheckTimeout: time.Minute, MaxPending: pending})
	addr := serve(t, h, "", "")
	var srcs []string
	for i := 10; i < 30; i++ {
		srcs = append(srcs, fmt.Sprintf("127.0.0.%d", i))
	}
	const per = 15
	res, wg := flood(t, addr, srcs, per)
	defer func() {
		close(checker.release)
		wg.Wait()
	}()
	waitFor(t, "every flood dial to end or reach the checker", func() bool {
		in, _, _ := checker.stats()
		_, done := res.snapshot()
		return in+done == len(srcs)*per
	})
	in, max, calls := checker.stats()
	status, _ := res.snapshot()
	t.Logf("flood of %d from %d hosts: %d checks held, at most %d at once, %d in all; ended: %v", len(srcs)*per, len(srcs), in, max, calls, status)
	if max > pending || in == 0 {
		t.Fatalf("%d session checks under way at once (%d now), want 1 to %d", max, in, pending)
	}
}

// TestFullHubChecksNoSession: when the hub is full, a new connection is
// refused before its session is checked (no ubus run for it).
func TestFullHubChecksNoSession(t *testing.T) {
	checker := newChecker(goodSession)
	h := newHub(t, Options{Checker: checker, MaxClients: 1})
	addr := serve(t, h, "", "")
	mustDial(t, addr, goodSession)
	waitFor(t, "the client", func() bool { return h.Clients() == 1 })
	before := checker.count()
	_, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, otherSession), "http://127.0.0.1")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", status)
	}
	if n := checker.count() - before; n != 0 {
		t.Fatalf("a full hub checked %d sessions", n)
	}
}

// TestCheckTimeout: a check that does not end within CheckTimeout is
// answered 503, and its slot is free again.
func TestCheckTimeout(t *testing.T) {
	checker := newSlowChecker(goodSession)
	defer close(checker.release)
	h := newHub(t, Options{Checker: checker, CheckTimeout: 100 * time.Millisecond})
	addr := serve(t, h, "", "")
	for i := 0; i < 2; i++ {
		_, status, _ := dial(t, websocket.DefaultDialer, liveURL("ws", addr, badSession), "http://127.0.0.1")
		if status != http.StatusServiceUnavailable {
			t.Fatalf("try %d: status %d, want 503", i, status)
		}
	}
	if _, _, calls := checker.stats(); calls != 2 {
		t.Fatalf("%d checks, want 2 (the first one's slot freed)", calls)
	}
}

// closedByServer counts, of conns, those the server closed within wait.
func closedByServer(conns []net.Conn, wait time.Duration) int {
	var n atomic.Int32
	var wg sync.WaitGroup
	for _, c := range conns {
		c := c
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(wait))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(n.Load())
}

func rawConns(t *testing.T, addr, src string, n int) []net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	var out []net.Conn
	for i := 0; i < n; i++ {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return out
}

// TestIdleConnectionCaps: connections that send nothing are capped per
// client and in all; those beyond are closed at once (the others would
// wait for the header timeout).
func TestIdleConnectionCaps(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	one := rawConns(t, addr, "127.0.0.3", 20)
	if got := closedByServer(one, 2*time.Second); got != 20-maxConnsPerClient {
		t.Fatalf("%d of 20 idle connections from one client closed, want %d", got, 20-maxConnsPerClient)
	}
	var many []net.Conn
	for i := 0; i < 6; i++ {
		many = append(many, rawConns(t, addr, fmt.Sprintf("127.0.1.%d", i+1), maxConnsPerClient)...)
	}
	// 8 open from 127.0.0.3, 48 more offered: 24 fit under maxConns.
	if got, want := closedByServer(many, 2*time.Second), len(many)-(maxConns-maxConnsPerClient); got != want {
		t.Fatalf("%d of %d idle connections from 6 clients closed, want %d", got, len(many), want)
	}
	// A good session from yet another host is refused while all slots are
	// taken, and served once they are given back.
	for _, c := range append(one, many...) {
		c.Close()
	}
	waitFor(t, "a good session after the idle ones left", func() bool {
		c, _, err := dialerFrom("127.0.0.2").Dial(liveURL("ws", addr, goodSession), http.Header{"Origin": {"http://127.0.0.1"}})
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// TestRefusalClosesConnection: a refused request does not keep its
// connection open for another try (keep-alive).
func TestRefusalClosesConnection(t *testing.T) {
	h := newHub(t, Options{Checker: newChecker(goodSession)})
	addr := serve(t, h, "", "")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET /live?session=" + badSession + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after a refusal the connection stayed open (read: %v), want EOF", err)
	}
}

// TestListenRefusesWildcards: the feed (and /metrics) never listen on every
// address, which would include the WAN.
func TestListenRefusesWildcards(t *testing.T) {
	for _, a := range []string{":0", "0.0.0.0:0", "[::]:0", "[::ffff:0.0.0.0]:0"} {
		if ln, err := Listen(a, "", ""); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted a wildcard", a)
		}
	}
}

// TestClientKey: who a connection counts as for the per-client limits.
func TestClientKey(t *testing.T) {
	same := [][2]string{
		{"192.168.1.10:40000", "192.168.1.10:40001"},
		{"[::ffff:192.168.1.10]:1", "192.168.1.10:2"},
		// One host's privacy addresses share its /64.
		{"[2001:db8:0:1::10]:1", "[2001:db8:0:1:a1b2:c3d4:e5f6:1]:2"},
		{"[fe80::1%br-lan]:1", "[fe80::2]:2"},
	}
	for _, p := range same {
		if clientKey(p[0]) != clientKey(p[1]) {
			t.Errorf("%s and %s count as different clients", p[0], p[1])
		}
	}
	differ := [][2]string{
		{"192.168.1.10:1", "192.168.1.11:1"},
		{"[2001:db8:0:1::10]:1", "[2001:db8:0:2::10]:1"},
		{"10.0.0.1:1", "[::a00:1]:1"},
	}
	for _, p := range differ {
		if clientKey(p[0]) == clientKey(p[1]) {
			t.Errorf("%s and %s count as one client", p[0], p[1])
		}
	}
}
