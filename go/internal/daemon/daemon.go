// Package daemon is `transferometer daemon`, the resident service procd
// runs: it seeds rules from the neighbour table, collects every
// refresh_interval, commits the RAM ledger to flash every commit_interval
// and at stop, and feeds live rates to the LuCI page. Every change still
// goes through the core under the shared lock, like any other door.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/links"
	"github.com/transferometer/transferometer/internal/live"
	"github.com/transferometer/transferometer/internal/metrics"
	"github.com/transferometer/transferometer/internal/neigh"
)

// Options wire the daemon; zero fields take the production defaults.
type Options struct {
	Core      *account.Core
	ConfigDir string
	Log       io.Writer
	Now       func() time.Time
	// Neighbours reads the kernel's neighbour table (default neigh.Read).
	Neighbours func() ([]neigh.Entry, error)
	// Checker decides on live-feed sessions (default: ubus session access).
	Checker live.SessionChecker
	// Tick makes a ticker (default time.NewTicker); tests drive time with it.
	Tick func(d time.Duration) (<-chan time.Time, func())
}

func realTick(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Run serves until ctx ends (SIGTERM), then collects and commits a last
// time so that a clean stop loses nothing.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Neighbours == nil {
		o.Neighbours = neigh.Read
	}
	if o.Tick == nil {
		o.Tick = realTick
	}
	// Routers have little RAM and this heap is small and short-lived (a
	// ledger decoded per collection): collecting garbage sooner keeps the
	// resident size down (1000 hosts: 13.9 MiB at the default 100, 11.4 at
	// 20; docs/benchmarks.md). GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(20)
	}
	s := o.Core.Settings()
	o.Core.Resident()
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "transferometer: "+format+"\n", a...) }

	if !s.Enabled {
		// Off: make sure nothing of ours counts, then idle until stopped,
		// so procd does not respawn us in a loop.
		if err := o.Core.Teardown(ctx); err != nil {
			logf("teardown: %v", err)
		}
		logf("disabled (option enabled '0'); idle")
		<-ctx.Done()
		return nil
	}

	// While this mark stands, ubus usage answers from the saved ledger.
	if unmark, err := o.Core.MarkDaemon(); err != nil {
		logf("%v (usage calls collect themselves)", err)
	} else {
		defer unmark()
	}

	entries, err := o.Neighbours()
	if err != nil {
		logf("neighbour table: %v", err) // dnsmasq's events still come
	}
	if out, err := o.Core.Seed(ctx, entries); err != nil {
		logf("start: %v", err)
	} else {
		warn(logf, out.Warnings)
	}

	if s.Metrics && s.LivePort == 0 && s.LiveTLSPort == 0 {
		logf("metrics: on, but live_port and live_tls_port are 0: nothing listens")
	}
	var hub *live.Hub
	var wg sync.WaitGroup
	if s.LivePort != 0 || s.LiveTLSPort != 0 {
		hub = live.NewHub(live.Options{Checker: o.Checker})
		defer hub.Close()
		for _, l := range listeners(s, o.ConfigDir) {
			ln, err := live.Listen(l.addr, l.cert, l.key)
			if err != nil {
				logf("live feed: %v", err)
				continue
			}
			logf("live feed on %s", ln.Addr())
			wg.Add(1)
			go func() {
				defer wg.Done()
				mux := http.NewServeMux()
				mux.Handle("/live", hub)
				if s.Metrics {
					// The saved numbers: a scrape takes no lock and
					// launches nothing; the daemon collects anyway.
					mux.Handle("/metrics", metrics.Handler(s.MetricsAllow, func(ctx context.Context) (account.Report, error) {
						return o.Core.Saved(ctx, nil, "all")
					}))
				}
				if err := live.Serve(ctx, ln, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
					logf("live feed: %v", err)
				}
			}()
		}
	}
	defer wg.Wait()

	nextCommit := o.Now().Add(s.CommitInterval)
	if last := o.Core.LastCommit(); last > 0 {
		nextCommit = time.Unix(last, 0).Add(s.CommitInterval)
	}
	collectC, stopCollect := o.Tick(s.RefreshInterval)
	defer stopCollect()
	secondC, stopSecond := o.Tick(time.Second)
	defer stopSecond()
	// Devices coming and going (Wi-Fi interfaces appear when hostapd
	// starts) matter to the netdev placement: a new LAN port must be
	// counted on before its hosts' traffic flows, not a refresh later.
	linkC, err := links.Watch(ctx)
	if err != nil {
		logf("device watch: %v (devices are followed every refresh_interval)", err)
	}
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			// A fresh context: the stop itself must not cancel the last commit.
			end, cancel := context.WithTimeout(context.Background(), s.LockTimeout+10*time.Second)
			err := o.Core.Commit(end)
			cancel()
			if err != nil {
				logf("final commit: %v", err)
				return err
			}
			return nil
		case <-collectC:
			// procd restarts us when the config changes; without procd (or
			// before it acts) a switch to enabled '0' must still stop the
			// counting.
			if cur, err := config.Load(o.ConfigDir); err == nil && !cur.Enabled {
				if err := o.Core.Teardown(ctx); err != nil {
					logf("teardown: %v", err)
				}
				logf("disabled (option enabled '0'); idle")
				<-ctx.Done()
				end, cancel := context.WithTimeout(context.Background(), s.LockTimeout+10*time.Second)
				defer cancel()
				return o.Core.Persist(end) // the last counts, without touching the kernel
			}
			if !collect(ctx, o.Core, logf, "collect") {
				continue
			}
			if !o.Now().Before(nextCommit) {
				if err := o.Core.Commit(ctx); err != nil {
					logf("commit: %v", err)
					continue
				}
				nextCommit = o.Now().Add(s.CommitInterval)
			}
		case <-linkC:
			if o.Core.Placement() == config.PlacementNetdev && settle == nil {
				// A bridge port is enslaved a moment after it appears.
				settle = time.After(linkSettle)
			}
		case <-settle:
			settle = nil
			collect(ctx, o.Core, logf, "collect after a device change")
		case <-secondC:
			if hub == nil || hub.Clients() == 0 {
				continue
			}
			sample, err := o.Core.Sample(ctx)
			if err != nil {
				logf("live sample: %v", err)
				continue
			}
			ls := live.Sample{At: o.Now(), Hosts: map[string]live.Counts{}}
			for mac, v := range sample {
				ls.Hosts[mac.String()] = live.Counts{DownloadBytes: v[0], UploadBytes: v[1]}
			}
			hub.Publish(ls)
		}
	}
}

// collect runs one collection (the resident core also saves the usage
// reply the page's polls get) and logs its warnings; false when it failed.
func collect(ctx context.Context, c *account.Core, logf func(string, ...any), what string) bool {
	out, err := c.Handle(ctx, account.Event{Kind: account.Collect})
	if err != nil {
		logf("%s: %v", what, err)
		return false
	}
	warn(logf, out.Warnings)
	return true
}

// linkSettle is how long a burst of device changes may last before the
// devices are re-attached once.
const linkSettle = 200 * time.Millisecond

func warn(logf func(string, ...any), ws []account.Warning) {
	for _, w := range ws {
		logf("warning: %s", w.Message)
	}
}

type listener struct{ addr, cert, key string }

// listeners lists where the live feed listens: on live_address, or on the
// router's LAN addresses (never the WAN), plain on live_port and TLS on
// live_tls_port when uhttpd's certificate and key exist.
func listeners(s config.Settings, configDir string) []listener {
	var addrs []string
	if s.LiveAddress != "" {
		addrs = []string{s.LiveAddress}
	} else if lan, err := s.LAN(configDir); err == nil {
		addrs = routerAddrs(lan)
	}
	var out []listener
	for _, a := range addrs {
		if s.LivePort != 0 {
			out = append(out, listener{addr: net.JoinHostPort(a, strconv.Itoa(s.LivePort))})
		}
		if s.LiveTLSPort != 0 && exists(s.LiveCert) && exists(s.LiveKey) {
			out = append(out, listener{addr: net.JoinHostPort(a, strconv.Itoa(s.LiveTLSPort)), cert: s.LiveCert, key: s.LiveKey})
		}
	}
	return out
}

// routerAddrs returns this machine's addresses that lie in the LAN.
func routerAddrs(lan config.LAN) []string {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, ia := range ifaddrs {
		p, err := netip.ParsePrefix(ia.String())
		if err != nil {
			continue
		}
		a := p.Addr()
		for _, lp := range lan.Prefixes() {
			if lp.Contains(a) && !a.IsLinkLocalUnicast() {
				out = append(out, a.String())
				break
			}
		}
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
