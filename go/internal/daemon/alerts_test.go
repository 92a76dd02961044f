package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// A webhook that takes the alert and never answers holds up no
// collection: the daemon goes on counting every tick while the post
// hangs, and the alert waits in the outbox for its retry.
func TestHangingWebhookDoesNotBlockCounting(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no ubus, no hotplug-call here
	var mu sync.Mutex
	var got []map[string]any
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		arrived <- struct{}{}
		select { // never answers while the test runs
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	dir, s := testSettings(t)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	s.Alerts.Webhook = srv.URL + "/alert"
	s.Quotas = []config.Quota{{Name: "kids", MACs: []macaddr.MAC{mac}, Limit: 1000, Per: config.QuotaPerPeriod,
		Direction: config.QuotaBoth, Action: config.QuotaNone, Notify: []int{50}}}
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, nil)
	ticks := make(chan time.Time)
	stop := runDaemon(t, Options{Core: core, ConfigDir: dir,
		Neighbours: func() ([]neigh.Entry, error) { return []neigh.Entry{{MAC: mac, Addr: ip}}, nil },
		Tick:       tickOn(s.RefreshInterval, ticks),
		deliverer:  func(d *alert.Deliverer) { d.WebhookTimeout = time.Hour },
	})
	ticks <- time.Now()
	waitFor(t, "the host seeded", func() bool { return f.Traffic(counter.HostKey(counter.Download, ip), 1, 600) })
	ticks <- time.Now() // 600 of 1000: the 50 % threshold
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the alert never reached the webhook")
	}
	// The post hangs; counting goes on, tick after tick.
	for i := 0; i < 5; i++ {
		f.Traffic(counter.HostKey(counter.Download, ip), 1, 100)
		ticks <- time.Now()
	}
	ticks <- time.Now() // returns once the last collection is done
	r, err := usage(core, mac)
	if err != nil {
		t.Fatal(err)
	}
	if r.Hosts[0].DownloadBytes != 1100 {
		t.Fatalf("download %d, want 1100: counting was held up", r.Hosts[0].DownloadBytes)
	}
	es, err := alert.Queue{Dir: s.DBDir}.Entries()
	if err != nil || len(es) != 1 || es[0].Alert.Percent != 50 {
		t.Fatalf("outbox %+v %v: the alert waits while its post hangs", es, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0]["kind"] != "threshold" || got[0]["quota"] != "kids" || got[0]["percent"] != 50.0 {
		t.Fatalf("posted %v", got)
	}
}

// An outbox the daemon cannot update (db_dir full) keeps what was
// delivered: the daemon says why and leaves it for a while rather than
// posting the same alert at every poll.
func TestStuckOutboxNotDeliveredEveryPoll(t *testing.T) {
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root to mount")
	}
	t.Setenv("PATH", t.TempDir()) // no ubus, no hotplug-call here
	posts := make(chan struct{}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		posts <- struct{}{}
	}))
	defer srv.Close()

	dir, s := testSettings(t)
	s.Alerts.Webhook = srv.URL + "/alert"
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.Local)}
	core := openFake(t, s, dir, netfilter.NewFake(), clk.now)
	// db_dir a small tmpfs, as on the router, filled up once the alert
	// and the deliverer's lock are in it.
	if err := os.MkdirAll(s.DBDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", s.DBDir, "tmpfs", 0, "size=256k,mode=0755"); err != nil {
		testlan.SkipOrFail(t, "tmpfs mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(s.DBDir, syscall.MNT_DETACH) })
	q := alert.Queue{Dir: s.DBDir}
	if _, err := (&alert.Deliverer{Queue: q}).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add([]alert.Alert{{ID: "a1", Kind: alert.KindNewDevice, MAC: mac, Time: clk.now()}}); err != nil {
		t.Fatal(err)
	}
	fill, err := os.Create(filepath.Join(s.DBDir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = fill.Write(make([]byte, 4096))
	}
	fill.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling db_dir: %v", err)
	}
	var logs syncBuffer
	polls := make(chan time.Time)
	stop := runDaemon(t, Options{Core: core, ConfigDir: dir, Now: clk.now, Log: &logs,
		Neighbours: func() ([]neigh.Entry, error) { return nil, nil },
		alertTick:  tickOn(alertPoll, polls)})
	polls <- clk.now()
	select {
	case <-posts:
	case <-time.After(30 * time.Second):
		t.Fatal("the alert never reached the webhook")
	}
	// Each send is taken only once the poll before it is done.
	for i := 0; i < 5; i++ {
		polls <- clk.now()
	}
	if n := len(posts); n != 0 {
		t.Fatalf("the alert posted %d more time(s) while the outbox could not be updated", n)
	}
	if !strings.Contains(logs.String(), "alerts: ") {
		t.Errorf("no word of the outbox that could not be updated:\n%s", logs.String())
	}
	// Past the pause it is tried again: delivered again (at least once).
	clk.add(alertStuck)
	polls <- clk.now()
	polls <- clk.now()
	if n := len(posts); n != 1 {
		t.Fatalf("after the pause: %d post(s), want 1", n)
	}
	if err := os.Remove(fill.Name()); err != nil { // room for the last commit
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
