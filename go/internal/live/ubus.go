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

// maxCached bounds the positive-answer cache: a router has a handful of
// LuCI sessions, and a flood of ids must not grow memory.
const maxCached = 32

// UbusSessionChecker asks rpcd, through the ubus command, whether a LuCI
// session may call transferometer.usage: the feed shows nothing that
// method would not. Use it by pointer; the zero value works.
type UbusSessionChecker struct {
	Ubus    string           // ubus binary, default "ubus" from PATH
	Timeout time.Duration    // per ubus call, default 5 s
	TTL     time.Duration    // how long a yes is believed, default 5 s
	Now     func() time.Time // default time.Now

	mu    sync.Mutex
	yes   map[string]time.Time // session → when its yes expires
	calls chan struct{}        // one ubus call at a time
}

// accessRequest is rpcd's session.access argument; field order is kept.
type accessRequest struct {
	Session  string `json:"ubus_rpc_session"`
	Scope    string `json:"scope"`
	Object   string `json:"object"`
	Function string `json:"function"`
}

// Allowed runs `ubus call session access {...}`. Positive answers are
// cached for TTL so that a page reconnecting in a loop doesn't fork ubus
// each time; negative ones are not, so a fresh login works at once. Calls
// are serialized, and a caller that waited re-reads the cache, so a burst
// of connections with one session forks ubus once.
func (u *UbusSessionChecker) Allowed(ctx context.Context, session string) (bool, error) {
	if session == "" {
		return false, nil
	}
	calls := u.begin()
	if u.cached(session) {
		return true, nil
	}
	select {
	case calls <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("live: wait for a session check: %w", ctx.Err())
	}
	defer func() { <-calls }()
	if u.cached(session) {
		return true, nil
	}
	ok, err := u.ask(ctx, session)
	if ok {
		u.remember(session)
	}
	return ok, err
}

func (u *UbusSessionChecker) begin() chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.calls == nil {
		u.calls = make(chan struct{}, 1)
		u.yes = map[string]time.Time{}
	}
	return u.calls
}

func (u *UbusSessionChecker) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *UbusSessionChecker) cached(session string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	exp, ok := u.yes[session]
	if ok && u.now().Before(exp) {
		return true
	}
	delete(u.yes, session)
	return false
}

func (u *UbusSessionChecker) remember(session string) {
	ttl := u.TTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	if len(u.yes) >= maxCached {
		for s, exp := range u.yes {
			if !now.Before(exp) {
				delete(u.yes, s)
			}
		}
		if len(u.yes) >= maxCached {
			u.yes = map[string]time.Time{} // still full: start over, it's only a cache
		}
	}
	u.yes[session] = now.Add(ttl)
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
