package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// notFound says whether ubus's exit status is UBUS_STATUS_NOT_FOUND (4):
// the session expired or never existed, a plain "no". OpenWrt 22.03's ubus
// (2022-06-01) exits with -4, which the shell sees as 252.
func notFound(code int) bool { return code == 4 || code == 252 }

// maxCached bounds each answer cache: a router has a handful of LuCI
// sessions, and a flood of ids must not grow memory. Yes and no are kept
// apart, so that a flood of made-up ids cannot push a real session out.
const maxCached = 32

// UbusSessionChecker asks rpcd, through the ubus command, whether a LuCI
// session may call transferometer.usage: the feed shows nothing that
// method would not. Use it by pointer; the zero value works.
type UbusSessionChecker struct {
	Ubus    string        // ubus binary, default "ubus" from PATH
	Timeout time.Duration // per ubus call, default 5 s
	TTL     time.Duration // how long a yes is believed, default 5 s
	// NegativeTTL is how long a no is believed (default 5 s): a client
	// retrying one bad id forks ubus once in that time. Session ids are
	// random, so a fresh login never has an id that was refused.
	NegativeTTL time.Duration
	Now         func() time.Time // default time.Now

	mu    sync.Mutex
	yes   map[string]time.Time // session → when its yes expires
	no    map[string]time.Time // session → when its no expires
	calls chan struct{}        // one ubus call at a time
}

// accessRequest is rpcd's session.access argument; field order is kept.
type accessRequest struct {
	Session  string `json:"ubus_rpc_session"`
	Scope    string `json:"scope"`
	Object   string `json:"object"`
	Function string `json:"function"`
}

// Allowed runs `ubus call session access {...}`. Answers are cached, a yes
// for TTL and a no for NegativeTTL, so that a page reconnecting in a loop,
// or a client repeating a bad id, doesn't fork ubus each time. Errors are
// not cached. Calls are serialized (waiting for one ends with ctx), and a
// caller that waited re-reads the cache, so a burst of connections with
// one session forks ubus once.
func (u *UbusSessionChecker) Allowed(ctx context.Context, session string) (bool, error) {
	if session == "" {
		return false, nil
	}
	calls := u.begin()
	if ok, hit := u.cached(session); hit {
		return ok, nil
	}
	select {
	case calls <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("live: wait for a session check: %w", ctx.Err())
	}
	defer func() { <-calls }()
	if ok, hit := u.cached(session); hit {
		return ok, nil
	}
	ok, err := u.ask(ctx, session)
	if err == nil {
		u.remember(session, ok)
	}
	return ok, err
}

func (u *UbusSessionChecker) begin() chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.calls == nil {
		u.calls = make(chan struct{}, 1)
		u.yes = map[string]time.Time{}
		u.no = map[string]time.Time{}
	}
	return u.calls
}

func (u *UbusSessionChecker) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

// cached returns the cached answer for session, and whether there is one.
func (u *UbusSessionChecker) cached(session string) (ok, hit bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	for _, c := range []struct {
		m  map[string]time.Time
		ok bool
	}{{u.yes, true}, {u.no, false}} {
		if exp, found := c.m[session]; found {
			if now.Before(exp) {
				return c.ok, true
			}
			delete(c.m, session)
		}
	}
	return false, false
}

func (u *UbusSessionChecker) remember(session string, ok bool) {
	m, ttl := u.no, u.NegativeTTL
	if ok {
		m, ttl = u.yes, u.TTL
	}
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	if len(m) >= maxCached {
		for s, exp := range m {
			if !now.Before(exp) {
				delete(m, s)
			}
		}
		if len(m) >= maxCached {
			for s := range m { // still full: start over, it's only a cache
				delete(m, s)
			}
		}
	}
	m[session] = now.Add(ttl)
}

func (u *UbusSessionChecker) ask(ctx context.Context, session string) (bool, error) {
	bin, timeout := u.Ubus, u.Timeout
	if bin == "" {
		bin = "ubus"
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// encoding/json and a plain argv: the id never meets a shell or a
	// hand-built JSON string.
	arg, err := json.Marshal(accessRequest{Session: session, Scope: "ubus", Object: "transferometer", Function: "usage"})
	if err != nil {
		return false, fmt.Errorf("live: encode session access: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "call", "session", "access", string(arg))
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && notFound(exit.ExitCode()) {
		return false, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return false, fmt.Errorf("live: %s call session access: %w: %s", bin, err, clip(stderr.String()))
	}
	var reply struct {
		Access *bool `json:"access"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &reply); err != nil {
		return false, fmt.Errorf("live: session access reply %q: %w", clip(stdout.String()), err)
	}
	if reply.Access == nil {
		return false, fmt.Errorf("live: session access reply %q has no access field", clip(stdout.String()))
	}
	return *reply.Access, nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
