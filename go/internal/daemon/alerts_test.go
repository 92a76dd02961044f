package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
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
