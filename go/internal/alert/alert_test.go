package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/logline"
	"github.com/transferometer/transferometer/internal/macaddr"
)

func sample(i int) Alert {
	mac, _ := macaddr.Parse("02:00:00:00:00:0a")
	return Alert{ID: fmt.Sprintf("threshold/kids/2026-12-01/80@%d", i), Kind: KindThreshold, Quota: "kids", MAC: mac,
		Name: "Anna's phone", Percent: 80, Limit: 5_000_000, Used: 4_100_000, Per: "period", Period: "2026-12-01",
		Time: time.Unix(1_796_000_000, 0)}
}

// testDir is a db_dir as the core makes it: root's, mode 0755.
func testDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "db")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestJSONAndEnv(t *testing.T) {
	a := sample(1)
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"threshold/kids/2026-12-01/80@1","kind":"threshold","quota":"kids","mac":"02:00:00:00:00:0a","name":"Anna's phone","ip":"",` +
		`"percent":80,"limit":5000000,"used":4100000,"per":"period","period":"2026-12-01","time":1796000000,` +
		`"message":"quota kids: 80% used (4.1 MB of 5.0 MB this period): Anna's phone (02:00:00:00:00:0a)"}`
	if string(b) != want {
		t.Fatalf("JSON\n%s\nwant\n%s", b, want)
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil || back != a {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	env := strings.Join(a.Env(), "\n")
	for _, w := range []string{"ACTION=threshold", "TRANSFEROMETER_KIND=threshold", "TRANSFEROMETER_QUOTA=kids",
		"TRANSFEROMETER_MAC=02:00:00:00:00:0a", "TRANSFEROMETER_NAME=Anna's phone", "TRANSFEROMETER_PERCENT=80",
		"TRANSFEROMETER_LIMIT=5000000", "TRANSFEROMETER_USED=4100000", "TRANSFEROMETER_PERIOD=2026-12-01",
		"TRANSFEROMETER_PER=period", "TRANSFEROMETER_TIME=1796000000", "TRANSFEROMETER_JSON=" + string(b)} {
		if !strings.Contains(env+"\n", w+"\n") {
			t.Errorf("env lacks %q:\n%s", w, env)
		}
	}
	nd := Alert{ID: "n", Kind: KindNewDevice, MAC: a.MAC, IP: "192.168.1.23", Time: a.Time}
	if m := nd.Message(); m != "new device: 02:00:00:00:00:0a at 192.168.1.23" {
		t.Errorf("new device message %q", m)
	}
	bl := sample(2)
	bl.Kind, bl.Per, bl.Used = KindBlocked, "day", 5_000_100
	if m := bl.Message(); m != "quota kids: limit of 5.0 MB reached (5.0 MB used); blocked until the day ends: Anna's phone (02:00:00:00:00:0a)" {
		t.Errorf("blocked message %q", m)
	}
}

func TestQueueBounds(t *testing.T) {
	q := Queue{Dir: testDir(t), Max: 3}
	dropped, err := q.Add([]Alert{sample(1), sample(2)})
	if err != nil || dropped != 0 {
		t.Fatal(dropped, err)
	}
	// A repeat of an ID is not queued twice; past the bound the newest go.
	dropped, err = q.Add([]Alert{sample(2), sample(3), sample(4), sample(5)})
	if err != nil || dropped != 2 {
		t.Fatalf("dropped %d, %v; want 2", dropped, err)
	}
	es, _ := q.Entries()
	if len(es) != 3 || es[0].Alert.ID != sample(1).ID || es[2].Alert.ID != sample(3).ID {
		t.Fatalf("entries %+v", es)
	}
	es[1].Attempts, es[1].Next = 2, 99
	if err := q.Set(es[1], false); err != nil {
		t.Fatal(err)
	}
	if err := q.Set(es[0], true); err != nil {
		t.Fatal(err)
	}
	es, _ = q.Entries()
	if len(es) != 2 || es[0].Attempts != 2 || es[0].Next != 99 || es[0].Alert != sample(2) {
		t.Fatalf("after Set: %+v", es)
	}
	if st, err := os.Stat(q.Path()); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("outbox mode: %v %v", st, err)
	}
	if !q.Pending() {
		t.Fatal("not pending")
	}
	for _, e := range es {
		q.Set(e, true)
	}
	if q.Pending() {
		t.Fatal("pending when empty")
	}

	// A damaged outbox is kept aside, and said so; a fresh one starts.
	if err := os.WriteFile(q.Path(), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add([]Alert{sample(9)}); err == nil || !strings.Contains(err.Error(), "moved it to") {
		t.Fatalf("damaged outbox: %v", err)
	}
	if es, err := q.Entries(); err != nil || len(es) != 1 {
		t.Fatalf("after recovery: %+v %v", es, err)
	}
	aside, _ := filepath.Glob(q.Path() + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("kept aside: %v", aside)
	}
}

// hook is a webhook receiver that answers with the codes given, then 200.
type hook struct {
	mu     sync.Mutex
	codes  []int
	bodies []string
	hits   atomic.Int32
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	h.bodies = append(h.bodies, string(b))
	code := http.StatusOK
	if len(h.codes) > 0 {
		code, h.codes = h.codes[0], h.codes[1:]
	}
	w.WriteHeader(code)
}

// fakeClock is a deliverer's clock the test moves.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(c.t.Load(), 0) }
func (c *fakeClock) add(d time.Duration) { c.t.Add(int64(d / time.Second)) }
func newClock(at int64) *fakeClock       { c := &fakeClock{}; c.t.Store(at); return c }
func logTo(t *testing.T, b *strings.Builder) *logline.Logger {
	return logline.Streams("transferometer", b, b)
}

func TestWebhookRetriesWithBackoff(t *testing.T) {
	// Isolated from the machine: no ubus, no hotplug-call on PATH.
	t.Setenv("PATH", t.TempDir())
	h := &hook{codes: []int{500, 503, 429}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	clk := newClock(1_796_000_000)
	var log strings.Builder
	q := Queue{Dir: testDir(t)}
	d := &Deliverer{Queue: q, Webhook: srv.URL + "/hook?token=s3cret", Backoff: []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second},
		Now: clk.now, Log: logTo(t, &log)}
	q.Add([]Alert{sample(1)})
	ctx := context.Background()
	next, err := d.Drain(ctx)
	if err != nil || !next.Equal(clk.now().Add(10*time.Second)) {
		t.Fatalf("first failure: next %v, %v", next, err)
	}
	// Not due yet: nothing is sent.
	clk.add(9 * time.Second)
	if _, err := d.Drain(ctx); err != nil || h.hits.Load() != 1 {
		t.Fatalf("before the backoff: %d posts, %v", h.hits.Load(), err)
	}
	clk.add(time.Second)
	if next, _ = d.Drain(ctx); !next.Equal(clk.now().Add(20 * time.Second)) {
		t.Fatalf("second failure: next %v", next)
	}
	clk.add(20 * time.Second)
	d.Drain(ctx) // 429
	clk.add(40 * time.Second)
	if next, err = d.Drain(ctx); err != nil || !next.IsZero() || h.hits.Load() != 4 {
		t.Fatalf("fourth attempt: %d posts, next %v, %v", h.hits.Load(), next, err)
	}
	if es, _ := q.Entries(); len(es) != 0 {
		t.Fatalf("delivered alert still queued: %+v", es)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(h.bodies[3]), &got); err != nil || got["kind"] != "threshold" || got["percent"] != 80.0 || got["mac"] != "02:00:00:00:00:0a" {
		t.Fatalf("body %s: %v", h.bodies[3], err)
	}
	if strings.Contains(log.String(), "s3cret") || strings.Contains(log.String(), "/hook") {
		t.Fatalf("the log shows the URL's secret parts:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "answered 503; retrying in 20s") {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	h := &hook{codes: []int{500, 500, 500, 500}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	clk := newClock(1_796_000_000)
	var log strings.Builder
	q := Queue{Dir: testDir(t)}
	d := &Deliverer{Queue: q, Webhook: srv.URL, Backoff: []time.Duration{time.Second, time.Second}, Now: clk.now, Log: logTo(t, &log)}
	q.Add([]Alert{sample(1)})
	for i := 0; i < 5; i++ {
		d.Drain(context.Background())
		clk.add(time.Second)
	}
	if n := h.hits.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (1 + 2 retries)", n)
	}
	if es, _ := q.Entries(); len(es) != 0 || !strings.Contains(log.String(), "gave up after 3 attempt(s)") {
		t.Fatalf("queue %+v log %s", es, log.String())
	}

	// A 4xx is final at once.
	h.codes = []int{404}
	q.Add([]Alert{sample(2)})
	d.Drain(context.Background())
	if n := h.hits.Load(); n != 4 || !strings.Contains(log.String(), "answered 404; gave up after 1") {
		t.Fatalf("404: %d posts, log %s", n, log.String())
	}
}

// A webhook that never answers costs one timeout per attempt, and the
// alert waits for its retry; the deliverer never hangs.
func TestWebhookHanging(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var log strings.Builder
	q := Queue{Dir: testDir(t)}
	d := &Deliverer{Queue: q, Webhook: srv.URL, WebhookTimeout: 200 * time.Millisecond, Log: logTo(t, &log)}
	q.Add([]Alert{sample(1), sample(2)})
	done := make(chan struct{})
	var next time.Time
	go func() {
		next, _ = d.Drain(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Drain hangs on a webhook that does not answer")
	}
	es, _ := q.Entries()
	if len(es) != 2 || es[0].Attempts != 1 || !es[0].Local || next.IsZero() {
		t.Fatalf("after a timeout: %+v, next %v", es, next)
	}
	if !strings.Contains(log.String(), "no answer within 200ms") {
		t.Fatalf("log: %s", log.String())
	}
}

// standIns puts stand-in ubus and hotplug-call on PATH that record what
// they were given (argv, the environment) in dir.
func standIns(t *testing.T, hotplugBody string) string {
	t.Helper()
	bin := t.TempDir()
	out := t.TempDir()
	ubus := "#!/bin/sh\nprintf '%s\\n' \"$@\" >> " + out + "/ubus\n"
	hp := "#!/bin/sh\n{ echo \"ARG=$1\"; env | sort; echo --; } >> " + out + "/hotplug\n" + hotplugBody
	for name, body := range map[string]string{"ubus": ubus, "hotplug-call": hp} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	return out
}

func TestLocalChannels(t *testing.T) {
	out := standIns(t, "")
	q := Queue{Dir: testDir(t)}
	a := sample(1)
	a.Name = "$(touch " + out + "/pwned)"
	q.Add([]Alert{a})
	d := &Deliverer{Queue: q}
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "ubus"))
	js, _ := json.Marshal(a)
	if string(b) != "send\ntransferometer.alert\n"+string(js)+"\n" {
		t.Fatalf("ubus got:\n%s", b)
	}
	hp, _ := os.ReadFile(filepath.Join(out, "hotplug"))
	env := string(hp)
	for _, w := range []string{"ARG=transferometer", "ACTION=threshold", "TRANSFEROMETER_PERCENT=80", "TRANSFEROMETER_NAME=" + a.Name} {
		if !strings.Contains(env, w+"\n") {
			t.Errorf("hotplug-call's environment lacks %q:\n%s", w, env)
		}
	}
	// A clean environment: nothing of ours but PATH and the alert.
	if strings.Contains(env, "HOME=") || strings.Contains(env, "GOPATH") {
		t.Errorf("environment not clean:\n%s", env)
	}
	if _, err := os.Stat(filepath.Join(out, "pwned")); err == nil {
		t.Fatal("a value was run as a command")
	}
	if es, _ := q.Entries(); len(es) != 0 {
		t.Fatalf("left: %+v", es)
	}
}

// A script that hangs is killed, with whatever it started, and the next
// alert is delivered.
func TestHangingScriptKilled(t *testing.T) {
	standIns(t, "sleep 600 &\nwait\n")
	q := Queue{Dir: testDir(t)}
	var log strings.Builder
	d := &Deliverer{Queue: q, ScriptTimeout: 300 * time.Millisecond, Log: logTo(t, &log)}
	q.Add([]Alert{sample(1), sample(2)})
	start := time.Now()
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if es, _ := q.Entries(); len(es) != 0 {
		t.Fatalf("left: %+v", es)
	}
	if !strings.Contains(log.String(), "hotplug-call: killed after 300ms") {
		t.Fatalf("log: %s", log.String())
	}
	if time.Since(start) > time.Minute {
		t.Fatal("waited for the script's child")
	}
}

// One deliverer at a time: a second one finds the outbox busy and leaves
// it to the first.
func TestOneDelivererAtATime(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	q := Queue{Dir: testDir(t)}
	unlock, err := flock(filepath.Join(q.Dir, deliverLock), true)
	if err != nil {
		t.Fatal(err)
	}
	q.Add([]Alert{sample(1)})
	d := &Deliverer{Queue: q}
	if _, err := d.Drain(context.Background()); err != ErrBusy {
		t.Fatalf("second deliverer: %v", err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if es, _ := q.Entries(); len(es) != 1 {
		t.Fatal("a busy outbox was drained")
	}
	unlock()
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if es, _ := q.Entries(); len(es) != 0 {
		t.Fatal("not drained")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@ntfy.sh/secret-topic?auth=x": "https://ntfy.sh/…",
		"http://192.168.1.5:8080/hooks/abc":           "http://192.168.1.5:8080/…",
		"::":                                          "(webhook)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
