// Package live is the websocket feed of per-host rates for the LuCI page.
//
// The daemon reads counters every second (a cheap read, no lock) and hands
// them to Hub.Publish; the hub turns successive samples into bytes per
// second and pushes one JSON message to every subscriber. Subscribers never
// cause a counter read, a lock or an iptables run: a page left open costs
// the router nothing more than the encoding of one message a second.
package live

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Counts is one host's counters at a moment, as totals since whenever.
type Counts struct {
	DownloadBytes uint64
	UploadBytes   uint64
}

// Sample is every host's counters at one moment. Hosts is keyed by MAC.
type Sample struct {
	At    time.Time
	Hosts map[string]Counts
}

// Rate is one host's traffic in bytes per second.
type Rate struct {
	MAC  string  `json:"mac"`
	Down float64 `json:"down"`
	Up   float64 `json:"up"`
}

// MessageRates is the type of the only message the feed sends.
const MessageRates = "rates"

// Message is what a subscriber receives, one JSON text frame each.
type Message struct {
	Type  string `json:"type"`
	At    int64  `json:"at"` // unix milliseconds of the newer sample
	Rates []Rate `json:"rates"`
}

// SessionChecker tells whether a LuCI session may see usage.
type SessionChecker interface {
	Allowed(ctx context.Context, session string) (bool, error)
}

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	// MaxClients caps subscribers (default 8): each costs a few goroutines
	// and buffers on a small router.
	MaxClients int
	// SendBuffer is how many messages may wait for one client (default 4);
	// a client that falls further behind is dropped.
	SendBuffer int
	// WriteTimeout bounds every write to a client (default 10 s).
	WriteTimeout time.Duration
	// PingInterval is how often clients are pinged (default 20 s); one that
	// sends nothing, not even a pong, for two intervals is dropped.
	PingInterval time.Duration
	// Recheck is how often a connected client's session is asked about
	// again (default 1 min), so that logging out ends the feed too.
	Recheck time.Duration
	// AllowedOrigins judges a browser's Origin header against the request
	// Host (default SameHost).
	AllowedOrigins func(origin, host string) bool
	// Checker decides on sessions (default: a UbusSessionChecker).
	Checker SessionChecker
	// MaxPending caps session checks under way at once (default 4), and
	// MaxPendingPerClient those of one client, an IPv4 address or an IPv6
	// /64 (default 1): beyond them a connection is refused with 503 at once
	// instead of queueing, so a flood of made-up sessions from one host
	// neither grows memory nor delays anyone else's check.
	MaxPending          int
	MaxPendingPerClient int
	// CheckTimeout bounds one session check, waiting included (default 5 s).
	CheckTimeout time.Duration
}

const (
	// readLimit: clients have nothing to say; anything bigger is abuse.
	readLimit = 512
	// closeGrace bounds the goodbye to each client when the hub closes, so
	// that a daemon stopping on SIGTERM is not held up by a stuck client.
	closeGrace = time.Second
)

func (o Options) withDefaults() Options {
	if o.MaxClients <= 0 {
		o.MaxClients = 8
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = 4
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.Recheck <= 0 {
		o.Recheck = time.Minute
	}
	if o.AllowedOrigins == nil {
		o.AllowedOrigins = SameHost
	}
	if o.Checker == nil {
		o.Checker = &UbusSessionChecker{}
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4
	}
	if o.MaxPendingPerClient <= 0 {
		o.MaxPendingPerClient = 1
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 5 * time.Second
	}
	return o
}

// Hub fans rates out to websocket subscribers. It is an http.Handler.
type Hub struct {
	opts     Options
	upgrader websocket.Upgrader
	wg       sync.WaitGroup // every client goroutine, for Close

	mu       sync.Mutex
	clients  map[*client]struct{}
	reserved int // admitted, still upgrading
	pending  int // session checks under way
	// pendingBy counts them per client; it holds only clients with a check
	// under way, so it is bounded by MaxPending.
	pendingBy map[netip.Prefix]int
	prev      Sample
	havePrev  bool
	last      []byte // latest message, so a new client needn't wait for the next
	closed    bool
}

type client struct {
	conn    *websocket.Conn
	session string
	send    chan []byte
	// ctx ends when the client is removed; closeCode (0: none, just cut
	// the connection) is set before that and read by the write pump after.
	ctx       context.Context
	cancel    context.CancelFunc
	closeCode int
	closeText string
}

// NewHub returns a hub with no subscribers.
func NewHub(o Options) *Hub {
	h := &Hub{opts: o.withDefaults(), clients: map[*client]struct{}{}, pendingBy: map[netip.Prefix]int{}}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      h.originOK,
	}
	return h
}

// Clients is the number of connected subscribers.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Publish computes rates against the previous sample and sends them to
// every subscriber without ever waiting on one: a client whose buffer is
// full is dropped. The first sample, or one not later than the previous,
// only sets the baseline. Publish keeps no reference to s.Hosts.
func (h *Hub) Publish(s Sample) {
	cur := Sample{At: s.At, Hosts: make(map[string]Counts, len(s.Hosts))}
	for mac, c := range s.Hosts {
		cur.Hosts[mac] = c
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	prev, had := h.prev, h.havePrev
	h.prev, h.havePrev = cur, true
	h.last = nil
	if !had || !cur.At.After(prev.At) || len(h.clients) == 0 {
		return // nothing to compute, or nobody to encode it for
	}
	b, err := json.Marshal(Message{Type: MessageRates, At: cur.At.UnixMilli(), Rates: rates(prev, cur)})
	if err != nil {
		return // cannot happen: strings and finite floats only
	}
	h.last = b
	for c := range h.clients {
		select {
		case c.send <- b:
		default:
			h.removeLocked(c, 0, "")
		}
	}
}

// rates is each host of cur in bytes per second since prev. A counter
// that went down was reset (rule re-created) and a host new in cur has no
// earlier value: both read 0 rather than a negative or a bogus spike.
func rates(prev, cur Sample) []Rate {
	secs := cur.At.Sub(prev.At).Seconds()
	out := make([]Rate, 0, len(cur.Hosts))
	for mac, c := range cur.Hosts {
		r := Rate{MAC: mac}
		if p, ok := prev.Hosts[mac]; ok {
			r.Down = perSecond(p.DownloadBytes, c.DownloadBytes, secs)
			r.Up = perSecond(p.UploadBytes, c.UploadBytes, secs)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out
}

func perSecond(before, after uint64, secs float64) float64 {
	if after < before {
		return 0
	}
	return float64(after-before) / secs
}

// ServeHTTP serves the feed at /live?session=ID (a browser cannot set
// headers on a WebSocket, so the session travels in the query). Every
// refusal happens before the upgrade, as a plain HTTP status that closes
// the connection: 403 for a foreign Origin or a session that is missing,
// malformed or not allowed, 503 when full, when too many session checks
// are under way, or when the session cannot be checked in time. The
// cheap refusals come first: a full hub checks no session.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/live":
	case "/":
		// A browser won't prompt about a self-signed certificate on a
		// WebSocket; opening this address once lets the user accept it.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Transferometer live feed. You can close this page and reload LuCI.")
		return
	default:
		http.NotFound(w, r)
		return
	}
	refuse := func(msg string, code int) {
		// A refused client gets no keep-alive connection to sit on.
		w.Header().Set("Connection", "close")
		http.Error(w, msg, code)
	}
	if !websocket.IsWebSocketUpgrade(r) {
		refuse("websocket upgrade expected", http.StatusBadRequest)
		return
	}
	if !h.originOK(r) {
		refuse("origin not allowed", http.StatusForbidden)
		return
	}
	session := r.URL.Query().Get("session")
	if !validSessionID(session) {
		refuse("a LuCI session is required", http.StatusForbidden)
		return
	}
	if h.full() {
		refuse("too many live clients", http.StatusServiceUnavailable)
		return
	}
	who := clientKey(r.RemoteAddr)
	if !h.beginCheck(who) {
		refuse("too many session checks under way", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.CheckTimeout)
	ok, err := h.opts.Checker.Allowed(ctx, session)
	cancel()
	h.endCheck(who)
	if err != nil {
		refuse("cannot check the session now", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		refuse("session not allowed", http.StatusForbidden)
		return
	}
	if !h.reserve() {
		refuse("too many live clients", http.StatusServiceUnavailable)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.unreserve() // the upgrader has answered the client
		return
	}
	c := &client{conn: conn, session: session, send: make(chan []byte, h.opts.SendBuffer)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if !h.register(c) {
		c.cancel()
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(closeGrace))
		rawClose(conn)
		return
	}
	go h.writePump(c)
	go h.recheck(c)
	h.readPump(c)
}

func (h *Hub) full() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed || len(h.clients)+h.reserved >= h.opts.MaxClients
}

func (h *Hub) beginCheck(who netip.Prefix) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending >= h.opts.MaxPending || h.pendingBy[who] >= h.opts.MaxPendingPerClient {
		return false
	}
	h.pending++
	h.pendingBy[who]++
	return true
}

func (h *Hub) endCheck(who netip.Prefix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending--
	if h.pendingBy[who]--; h.pendingBy[who] <= 0 {
		delete(h.pendingBy, who)
	}
}

func (h *Hub) reserve() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.clients)+h.reserved >= h.opts.MaxClients {
		return false
	}
	h.reserved++
	return true
}

func (h *Hub) unreserve() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
}

// register turns a reservation into a client and accounts its three
// goroutines; it fails once the hub is closed, so Close's Wait never races
// an Add.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
	if h.closed {
		return false
	}
	h.clients[c] = struct{}{}
	if h.last != nil {
		c.send <- h.last // the buffer is new and empty
	}
	h.wg.Add(3)
	return true
}

func (h *Hub) remove(c *client, code int, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c, code, text)
}

// removeLocked forgets c and stops its goroutines. Without a close code the
// socket is cut at once: that is the slow-client drop, and it must neither
// wait for the client nor leave a blocked write behind.
func (h *Hub) removeLocked(c *client, code int, text string) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	if len(h.clients) == 0 {
		// Nobody watches: the daemon stops sampling, so the last message
		// and sample go stale. A new client starts from fresh ones.
		h.last, h.havePrev = nil, false
	}
	c.closeCode, c.closeText = code, text
	c.cancel()
	if code == 0 {
		rawClose(c.conn)
	}
}

// rawClose closes the TCP socket under any TLS layer: tls.Conn.Close may
// wait up to 5 s to send close_notify to a client that isn't reading.
func rawClose(conn *websocket.Conn) {
	nc := conn.NetConn()
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	_ = nc.Close()
}

func (h *Hub) writePump(c *client) {
	defer h.wg.Done()
	ping := time.NewTicker(h.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case b := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				h.remove(c, 0, "")
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteTimeout)); err != nil {
				h.remove(c, 0, "")
				return
			}
		case <-c.ctx.Done():
			if c.closeCode != 0 {
				msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
				_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace))
			}
			rawClose(c.conn)
			return
		}
	}
}

// readPump discards what the client sends; it exists to answer pings,
// notice pongs and a closed connection.
func (h *Hub) readPump(c *client) {
	defer h.wg.Done()
	wait := 2 * h.opts.PingInterval
	c.conn.SetReadLimit(readLimit)
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(wait)) })
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			break
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	}
	h.remove(c, 0, "")
}

// recheck ends the feed of a session that has been logged out or expired.
// Errors (ubus busy, rpcd restarting) keep the client: they say nothing
// about the session.
func (h *Hub) recheck(c *client) {
	defer h.wg.Done()
	t := time.NewTicker(h.opts.Recheck)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if ok, err := h.opts.Checker.Allowed(c.ctx, c.session); err == nil && !ok {
			h.remove(c, websocket.ClosePolicyViolation, "session no longer valid")
			return
		}
	}
}

// Close disconnects every client, with a close frame where the client can
// take one within a second, and refuses new ones. It returns when every
// client goroutine has ended.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.last = nil
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
		h.removeLocked(c, websocket.CloseGoingAway, "server shutting down")
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * closeGrace):
		// A write pump stuck in a write to a dead client: cut it loose.
		for _, c := range cs {
			rawClose(c.conn)
		}
		<-done
	}
}

// originOK: a browser always sends Origin on a WebSocket handshake, and it
// must pass AllowedOrigins. No Origin at all means a non-browser client,
// which cannot be tricked into cross-site use of someone's session; it is
// let through to the session check like anyone else.
func (h *Hub) originOK(r *http.Request) bool {
	origins := r.Header.Values("Origin")
	switch len(origins) {
	case 0:
		return true
	case 1:
		return h.opts.AllowedOrigins(origins[0], r.Host)
	}
	return false
}

// SameHost accepts an http(s) origin whose host name equals the request's
// host name, whatever the ports: LuCI (port 80/443) and the feed listen on
// the same router address. Paired with the session check, a DNS-rebinding
// page that passes this still has no session to present.
func SameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return false
	}
	return strings.EqualFold(u.Hostname(), hostname(host))
}

func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// validSessionID: rpcd makes session ids of 32 lowercase hex digits
// (rpc_random in session.c). Anything else is refused without forking ubus.
func validSessionID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
