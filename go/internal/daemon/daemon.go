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
	"strings"
	"sync"
	"time"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/links"
	"github.com/transferometer/transferometer/internal/live"
	"github.com/transferometer/transferometer/internal/logline"
	"github.com/transferometer/transferometer/internal/metrics"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// Options wire the daemon; zero fields take the production defaults.
type Options struct {
	Core      *account.Core
	ConfigDir string
	// Logger takes the daemon's messages (default logline.Service: syslog
	// when procd runs the daemon, else information on stdout and warnings
	// and errors on Log).
	Logger *logline.Logger
	// Log is where warnings and errors go without syslog (default os.Stderr).
	Log io.Writer
	Now func() time.Time
	// Neighbours reads the kernel's neighbour table (default neigh.Read).
	Neighbours func() ([]neigh.Entry, error)
	// Watch hands over the kernel's neighbour announcements until its
	// context ends (default neigh.Watch in this namespace).
	Watch func(context.Context, func(neigh.Event)) error
	// Checker decides on live-feed sessions (default: ubus session access).
	Checker live.SessionChecker
	// Tick makes a ticker (default time.NewTicker); tests drive time with it.
	Tick func(d time.Duration) (<-chan time.Time, func())
	// deliverer adjusts the alert deliverer (tests: short timeouts).
	deliverer delivererHook
	// alertTick drives the outbox polls (default: the real clock, also
	// when Tick is set, since tests drive Tick for the collections).
	alertTick func(d time.Duration) (<-chan time.Time, func())
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Neighbours == nil {
		o.Neighbours = neigh.Read
	}
	if o.Watch == nil {
		o.Watch = func(ctx context.Context, fn func(neigh.Event)) error { return neigh.Watch(ctx, 0, fn) }
	}
	if o.Tick == nil {
		o.Tick = realTick
	}
}

func realTick(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Run serves until ctx ends (SIGTERM), then collects and commits a last
// time so that a clean stop loses nothing. A healthy start logs one line,
// at info: "started, counting ...; live feed on ...".
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		if o.Log == nil {
			o.Log = os.Stderr
		}
		o.Logger = logline.Service("transferometer", os.Stdout, o.Log)
		defer o.Logger.Close()
	}
	o.defaults()
	// Routers have little RAM and this heap is small and short-lived (a
	// ledger decoded per collection): collecting garbage sooner keeps the
	// resident size down (docs/benchmarks.md). GOGC in the environment
	// still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(20)
	}
	s := o.Core.Settings()
	lg := o.Logger
	warned := &warnings{log: lg}

	if !s.Enabled {
		idleDisabled(ctx, o.Core, lg)
		return nil
	}

	// While this mark stands, ubus usage answers from the saved ledger.
	if unmark, err := o.Core.MarkDaemon(); err != nil {
		lg.Warningf("%v (usage calls collect themselves)", err)
	} else {
		defer unmark()
	}
	// Hooks hand their events over while the mark stands (handoff.go).
	ho := startHandoff(ctx, o.Core, lg)
	defer ho.close()

	// Listening first, then the table read whole: nothing learned in
	// between is missed.
	watch := startNeighbourFeed(ctx, o.Watch, lg)
	nb := newNeighbours()
	ho.apply(ctx, o.Core, nb, lg, warned) // taken by a daemon that stopped before applying
	nb.reconcile(ctx, o, lg, warned, "start")

	hub, feed, wait := startFeeds(ctx, o, lg)
	if hub != nil {
		defer hub.Close()
	}
	defer wait() // first: the servers end with ctx, then the hub closes
	defer startAlerts(ctx, o, lg)()
	lg.Infof("started, %s; %s", countingWhere(o.Core.Placement()), feed)

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
		lg.Warningf("device watch: %v (devices are followed every refresh_interval)", err)
	}
	var settle, neighbourC, handoffC <-chan time.Time
	midnight := newDayWatch(o.Now())
	for {
		select {
		case <-ctx.Done():
			// A fresh context: the stop itself must not cancel the last commit.
			end, cancel := context.WithTimeout(context.Background(), s.LockTimeout+10*time.Second)
			ho.apply(end, o.Core, nb, lg, warned)
			err := o.Core.Commit(end)
			cancel()
			if err != nil {
				lg.Errorf("final commit: %v", err)
				return err
			}
			return nil
		case <-collectC:
			// procd restarts us when the config changes; without procd (or
			// before it acts) a switch to enabled '0' must still stop the
			// counting.
			if cur, err := config.Load(o.ConfigDir); err == nil && !cur.Enabled {
				idleDisabled(ctx, o.Core, lg)
				end, cancel := context.WithTimeout(context.Background(), s.LockTimeout+10*time.Second)
				defer cancel()
				return o.Core.Persist(end) // the last counts, without touching the kernel
			}
			if !nb.reconcile(ctx, o, lg, warned, "collect") {
				continue
			}
			if ho.pending() {
				ho.apply(ctx, o.Core, nb, lg, warned)
			}
			if !o.Now().Before(nextCommit) {
				if err := o.Core.Commit(ctx); err != nil {
					lg.Errorf("commit: %v", err)
					continue
				}
				nextCommit = o.Now().Add(s.CommitInterval)
			}
		case <-linkC:
			if o.Core.Placement() == netfilter.PlacementNetdev && settle == nil {
				// A bridge port is enslaved a moment after it appears.
				settle = time.After(linkSettle)
			}
		case <-settle:
			settle = nil
			collect(ctx, o.Core, lg, warned, "collect after a device change")
		case <-secondC:
			if midnight.crossed(o.Now()) && len(s.Quotas) > 0 {
				collect(ctx, o.Core, lg, warned, "collect at midnight (quotas)")
			}
			publishSample(ctx, o, hub, lg)
		case e := <-watch.events:
			if nb.offer(e) && neighbourC == nil {
				neighbourC = time.After(neighbourSettle)
			}
		case <-neighbourC:
			neighbourC = nil
			nb.apply(ctx, o.Core, lg, warned)
		case <-ho.readyC():
			if handoffC == nil {
				handoffC = time.After(neighbourSettle)
			}
		case <-handoffC:
			handoffC = nil
			ho.apply(ctx, o.Core, nb, lg, warned)
		case <-watch.resync:
			nb.reconcile(ctx, o, lg, warned, "neighbour table")
		}
	}
}

// idleDisabled removes our rules and waits for the stop: with enabled '0'
// nothing of ours may count, and a daemon that exited would be respawned
// by procd in a loop.
func idleDisabled(ctx context.Context, c *account.Core, lg *logline.Logger) {
	if err := c.Teardown(ctx); err != nil {
		lg.Errorf("teardown: %v", err)
	}
	lg.Infof("disabled (option enabled '0'); idle")
	<-ctx.Done()
}

// startFeeds opens the live feed's listeners (and /metrics on them) and
// serves them until ctx ends. It returns the hub (nil when both ports are
// 0), what the start line says of the feed, and a wait for the servers.
func startFeeds(ctx context.Context, o Options, lg *logline.Logger) (*live.Hub, string, func()) {
	s := o.Core.Settings()
	var wg sync.WaitGroup
	if s.LivePort == 0 && s.LiveTLSPort == 0 {
		if s.Metrics {
			lg.Warningf("metrics: on, but live_port and live_tls_port are 0: nothing listens")
		}
		return nil, "live feed off (live_port and live_tls_port 0)", wg.Wait
	}
	hub := live.NewHub(live.Options{Checker: o.Checker})
	var on []string
	ls, err := listeners(o.Core)
	if err != nil {
		lg.Errorf("live feed: %v", err)
	}
	for _, l := range ls {
		ln, err := live.Listen(l.addr, l.cert, l.key)
		if err != nil {
			lg.Errorf("live feed: %v", err)
			continue
		}
		on = append(on, ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			mux := http.NewServeMux()
			mux.Handle("/live", hub)
			if s.Metrics {
				// The saved numbers: a scrape takes no lock and
				// launches nothing; the daemon collects anyway.
				mux.Handle("/metrics", metrics.Handler(s.MetricsAllow, func(ctx context.Context) (account.Report, error) {
					r, err := o.Core.Usage(ctx, account.UsageQuery{Period: "all"})
					if err != nil {
						return account.Report{}, err
					}
					return r.Report()
				}))
			}
			if err := live.Serve(ctx, ln, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
				lg.Errorf("live feed: %v", err)
			}
		}()
	}
	if len(ls) == 0 && err == nil {
		lg.Warningf("live feed: no address to listen on (live_address, or the router's addresses in the LAN); the LuCI page polls instead")
	}
	if len(on) == 0 {
		return hub, "live feed not listening", wg.Wait
	}
	return hub, "live feed on " + strings.Join(on, ", "), wg.Wait
}

// countingWhere says in words where forwarded bytes are counted.
func countingWhere(placement netfilter.Placement) string {
	if placement == netfilter.PlacementNetdev {
		return "counting on the LAN devices (netdev placement)"
	}
	return "counting in the forward hook"
}

// publishSample sends the live feed's clients the counters as they are
// now; nothing is read while nobody watches.
func publishSample(ctx context.Context, o Options, hub *live.Hub, lg *logline.Logger) {
	if hub == nil || hub.Clients() == 0 {
		return
	}
	sample, err := o.Core.Sample(ctx)
	if err != nil {
		lg.Errorf("live sample: %v", err)
		return
	}
	ls := live.Sample{At: o.Now(), Hosts: map[string]live.Counts{}}
	for mac, v := range sample {
		ls.Hosts[mac.String()] = live.Counts{DownloadBytes: v.Down, UploadBytes: v.Up}
	}
	hub.Publish(ls)
}

// collect runs one collection (the resident core also saves the usage
// reply the page's polls get) and logs its warnings; false when it failed.
func collect(ctx context.Context, c *account.Core, lg *logline.Logger, w *warnings, what string) bool {
	out, err := c.Handle(ctx, account.Event{Kind: account.Collect})
	if err != nil {
		if ctx.Err() == nil { // else stopping: the final commit follows
			lg.Errorf("%s: %v", what, err)
		}
		return false
	}
	w.note(out.Warnings)
	return true
}

// linkSettle is how long a burst of device changes may last before the
// devices are re-attached once.
const linkSettle = 200 * time.Millisecond

// warnings logs the warnings of successive runs, each when it appears: one
// that stands (flow offloading on, say) is logged once, not every
// refresh_interval, and again only after it cleared.
type warnings struct {
	log  *logline.Logger
	last map[string]bool
}

func (w *warnings) note(ws []account.Warning) {
	now := make(map[string]bool, len(ws))
	for _, x := range ws {
		if !w.last[x.Message] && !now[x.Message] {
			w.log.Warningf("%s", x.Message)
		}
		now[x.Message] = true
	}
	w.last = now
}

type listener struct{ addr, cert, key string }

// listeners lists where the live feed listens: on live_address, or on the
// router's LAN addresses (never the WAN), plain on live_port and TLS on
// live_tls_port when uhttpd's certificate and key exist.
func listeners(c *account.Core) ([]listener, error) {
	s := c.Settings()
	var addrs []string
	if s.LiveAddress != "" {
		// The feed and /metrics must never face the WAN: an address on a
		// device that carries a default route is refused.
		a, err := netip.ParseAddr(s.LiveAddress)
		if err != nil {
			return nil, fmt.Errorf("live_address %q: %w", s.LiveAddress, err)
		}
		wan, err := links.WANAddrs(0)
		if err != nil {
			return nil, fmt.Errorf("live_address %s: cannot tell the WAN's addresses: %w", s.LiveAddress, err)
		}
		for _, w := range wan {
			if w == a.Unmap() {
				return nil, fmt.Errorf("live_address %s is an address of the WAN (a device with the default route): not listening, so that the feed and /metrics never face the internet", s.LiveAddress)
			}
		}
		addrs = []string{a.String()}
	} else if lan, err := c.LANPrefixes(); err == nil {
		addrs = routerAddrs(lan)
	}
	var out []listener
	for _, a := range addrs {
		if s.LivePort != 0 {
			out = append(out, listener{addr: net.JoinHostPort(a, strconv.Itoa(s.LivePort))})
		}
		if c.LiveTLS() {
			out = append(out, listener{addr: net.JoinHostPort(a, strconv.Itoa(s.LiveTLSPort)), cert: s.LiveCert, key: s.LiveKey})
		}
	}
	return out, nil
}

// routerAddrs returns this machine's addresses that lie in the LAN.
func routerAddrs(lan []netip.Prefix) []string {
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
		for _, lp := range lan {
			if lp.Contains(a) && !a.IsLinkLocalUnicast() {
				out = append(out, a.String())
				break
			}
		}
	}
	return out
}
