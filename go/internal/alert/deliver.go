package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/logline"
)

// Programs run for the local channels. They are found on PATH, as every
// program the binary runs is (iptables-save, ubus for LuCI sessions):
// procd starts services and hotplug handlers with /bin and /sbin on it,
// where OpenWrt has /bin/ubus and /sbin/hotplug-call (base-files). No
// setting names a program: the settings file may be writable by whoever
// the admin gives LuCI's settings page to, and this runs as root.
const (
	ubusProgram    = "ubus"
	hotplugProgram = "hotplug-call"
	// Event is the ubus event's type; Subsystem is hotplug-call's
	// argument, the directory /etc/hotplug.d/transferometer.
	Event     = "transferometer.alert"
	Subsystem = "transferometer"
)

// HasChannel reports whether an alert can go anywhere: a webhook is set,
// or ubus or hotplug-call is there (on OpenWrt both always are). Where
// none is, nothing is queued: an outbox nobody drains would only fill.
func HasChannel(webhook string) bool {
	if webhook != "" {
		return true
	}
	for _, p := range []string{ubusProgram, hotplugProgram} {
		if _, err := exec.LookPath(p); err == nil {
			return true
		}
	}
	return false
}

// Channels names where alerts go (the webhook by its host only), or
// "nowhere".
func Channels(webhook string) []string {
	var out []string
	if _, err := exec.LookPath(ubusProgram); err == nil {
		out = append(out, "ubus event "+Event)
	}
	if _, err := exec.LookPath(hotplugProgram); err == nil {
		out = append(out, "hotplug-call "+Subsystem+" (/etc/hotplug.d/"+Subsystem+"/)")
	}
	if webhook != "" {
		out = append(out, "webhook "+Redact(webhook))
	}
	if out == nil {
		out = []string{"nowhere (no ubus, no hotplug-call, no alert_webhook)"}
	}
	return out
}

// deliverLock makes one deliverer at a time drain the outbox.
const deliverLock = ".alerts.deliver.lock"

// Defaults of a Deliverer.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultScriptTimeout  = 60 * time.Second
	DefaultUbusTimeout    = 5 * time.Second
)

// defaultBackoff is the wait before each webhook retry: six attempts over
// about twenty minutes (a WAN that is down for a moment, a receiver being
// restarted), then the alert is given up with an error in the log.
func defaultBackoff() []time.Duration {
	return []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}
}

// maxOutput bounds what a script or ubus says that is kept for the log.
const maxOutput = 512

// Deliverer drains an outbox to the channels. The zero values of its
// optional fields take the defaults above.
type Deliverer struct {
	Queue Queue
	// Webhook is the URL alerts are POSTed to ("" none); it passed
	// config's check (an http or https URL).
	Webhook        string
	WebhookTimeout time.Duration
	Backoff        []time.Duration
	ScriptTimeout  time.Duration
	UbusTimeout    time.Duration
	Log            *logline.Logger
	Now            func() time.Time
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deliverer) backoff() []time.Duration {
	if d.Backoff != nil {
		return d.Backoff
	}
	return defaultBackoff()
}

func (d *Deliverer) logf(level logline.Level, format string, a ...any) {
	if d.Log != nil {
		d.Log.Log(level, format, a...)
	}
}

// ErrBusy means another deliverer holds the outbox: it delivers what is
// there, and looks again before it lets go.
var ErrBusy = errBusy

// Drain delivers every entry that is due, under the delivery lock. It
// returns when the earliest webhook retry left waiting is due (zero when
// none waits), or ErrBusy when another deliverer is at work.
func (d *Deliverer) Drain(ctx context.Context) (time.Time, error) {
	unlock, err := flock(filepath.Join(d.Queue.Dir, deliverLock), true)
	if err != nil {
		return time.Time{}, err
	}
	defer unlock()
	entries, err := d.Queue.Entries()
	if err != nil {
		// A damaged outbox was moved aside: say so, and go on with the
		// fresh one.
		d.logf(logline.Error, "%v", err)
		if entries, err = d.Queue.Entries(); err != nil {
			return time.Time{}, err
		}
	}
	var next time.Time
	for _, e := range entries {
		if ctx.Err() != nil {
			return next, ctx.Err()
		}
		if e.Next > d.now().Unix() {
			if t := time.Unix(e.Next, 0); next.IsZero() || t.Before(next) {
				next = t
			}
			continue
		}
		done := d.deliver(ctx, &e)
		if err := d.Queue.Set(e, done); err != nil {
			return next, err
		}
		if !done {
			if t := time.Unix(e.Next, 0); next.IsZero() || t.Before(next) {
				next = t
			}
		}
	}
	return next, nil
}

// deliver runs the channels for one entry; false means the webhook is to
// be retried at e.Next.
func (d *Deliverer) deliver(ctx context.Context, e *Entry) bool {
	a := e.Alert
	if !e.Local {
		if err := d.hotplug(ctx, a); err != nil {
			d.logf(logline.Warning, "alert %s: hotplug scripts: %v", a.ID, err)
		}
		if err := d.ubus(ctx, a); err != nil {
			d.logf(logline.Warning, "alert %s: ubus event: %v", a.ID, err)
		}
		e.Local = true
	}
	if d.Webhook == "" {
		return true
	}
	retry, err := d.post(ctx, a)
	if err == nil {
		return true
	}
	e.Attempts++
	bo := d.backoff()
	if !retry || e.Attempts > len(bo) {
		d.logf(logline.Error, "alert %s: webhook %s: %v; gave up after %d attempt(s)", a.ID, Redact(d.Webhook), err, e.Attempts)
		return true
	}
	e.Next = d.now().Add(bo[e.Attempts-1]).Unix()
	d.logf(logline.Warning, "alert %s: webhook %s: %v; retrying in %s", a.ID, Redact(d.Webhook), err, bo[e.Attempts-1])
	return false
}

// hotplug runs `hotplug-call transferometer` with the alert in a clean
// environment, as OpenWrt's own event sources do (`env -i ACTION=...
// /sbin/hotplug-call iface`). It returns nil when there is no
// hotplug-call (not OpenWrt).
func (d *Deliverer) hotplug(ctx context.Context, a Alert) error {
	prog, err := exec.LookPath(hotplugProgram)
	if err != nil {
		return nil
	}
	t := d.ScriptTimeout
	if t <= 0 {
		t = DefaultScriptTimeout
	}
	return run(ctx, t, prog, []string{Subsystem}, append(baseEnv(), a.Env()...))
}

// ubus sends the event: `ubus send transferometer.alert JSON`. No ubus
// (not OpenWrt) is no error.
func (d *Deliverer) ubus(ctx context.Context, a Alert) error {
	prog, err := exec.LookPath(ubusProgram)
	if err != nil {
		return nil
	}
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	t := d.UbusTimeout
	if t <= 0 {
		t = DefaultUbusTimeout
	}
	return run(ctx, t, prog, []string{"send", Event, string(body)}, baseEnv())
}

// baseEnv is the environment of what we start: PATH only.
func baseEnv() []string {
	p := os.Getenv("PATH")
	if p == "" {
		p = "/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{"PATH=" + p}
}

// run starts prog in its own process group (so that a timeout ends
// whatever a script started, too), with no stdin, and waits at most t.
func run(ctx context.Context, t time.Duration, prog string, args, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Dir = "/"
	var out bounded
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			return fmt.Errorf("%s: %v: %s", filepath.Base(prog), err, out.String())
		}
		return nil
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return fmt.Errorf("%s: killed after %s", filepath.Base(prog), t)
	}
}

// bounded keeps the first maxOutput bytes written to it.
type bounded struct{ b []byte }

func (w *bounded) Write(p []byte) (int, error) {
	if room := maxOutput - len(w.b); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		w.b = append(w.b, p[:room]...)
	}
	return len(p), nil
}

func (w *bounded) String() string { return logline.Clean(string(bytes.TrimSpace(w.b))) }

// post sends the alert to the webhook. retry says whether trying again
// could help (no answer, a timeout, 408, 429, 5xx); other answers are
// final. Errors never carry the URL, which may hold a token.
func (d *Deliverer) post(ctx context.Context, a Alert) (retry bool, err error) {
	body, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	t := d.WebhookTimeout
	if t <= 0 {
		t = DefaultWebhookTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Webhook, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "transferometer")
	resp, err := newClient(t).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		switch {
		case parent.Err() != nil:
			err = errors.New("stopped before an answer")
		case ctx.Err() != nil, isTimeout(err):
			// The context, the client and the transport share the one
			// timeout; whichever says so first, it is the same event.
			err = fmt.Errorf("no answer within %s", t)
		}
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return true, fmt.Errorf("answered %d", code)
	default:
		return false, fmt.Errorf("answered %d", code)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// newClient posts with no proxy from the environment and follows no
// redirect (a 3xx is an answer that did not take the alert).
func newClient(t time.Duration) *http.Client {
	return &http.Client{
		Timeout:       t,
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSHandshakeTimeout: t, ResponseHeaderTimeout: t},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Redact shows a webhook URL without what may be secret in it: only the
// scheme, host and port (user, password, path and query can all hold a
// token, as the URLs of ntfy topics, Slack and Discord hooks do).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(webhook)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Run drains until the outbox is empty, waiting for retries that are due
// (a door's detached deliverer). It returns at once when another
// deliverer holds the outbox, and looks again after letting go, so that
// an alert added while it worked (whose own deliverer found it busy) is
// not left behind.
func (d *Deliverer) Run(ctx context.Context) error {
	for {
		next, err := d.Drain(ctx)
		if errors.Is(err, errBusy) {
			return nil
		}
		if err != nil {
			return err
		}
		if next.IsZero() {
			entries, err := d.Queue.Entries()
			if err != nil || len(entries) == 0 {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
	}
}

// Pending reports whether the outbox file holds anything, from its size
// alone (an empty outbox is a few bytes): the daemon looks every second.
func (q Queue) Pending() bool {
	st, err := os.Stat(q.Path())
	return err == nil && st.Size() > int64(len(`{"version":1,"entries":[]}`)+1)
}
