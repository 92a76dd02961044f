// Package account is the core every door (dnsmasq hook, hotplug handler,
// rpcd plugin, daemon, CLI) calls: under one lock it reads the kernel
// counters, credits them to the ledger, applies the event, saves, and only
// then changes rules — an order in which a crash at any point loses nothing.
package account

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/links"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/period"
)

// Core binds settings, a backend and the ledger store.
type Core struct {
	settings  config.Settings
	configDir string
	host      netfilter.Host
	backends  func(netfilter.Kind) (netfilter.Backend, error)
	// backend is replaced when the choice changes (a resident core):
	// mu guards it and choice, since the daemon's /metrics handler reads
	// the backend's kind.
	mu      sync.Mutex
	backend netfilter.Backend
	choice  netfilter.Choice
	// resident: the daemon's core (see Options.Resident).
	resident bool
	store    ledger.Store
	now      func() time.Time
	bootID   func() string
	devices  config.DevicePrefixes
	// alertsQueued: see Options.AlertsQueued.
	alertsQueued func()
	alertCache   alertCache // alerts.go

	// lan is derived at most every lanTTL: a hook run asks twice, the
	// daemon for months (an ISP-delegated prefix can change).
	lan    *config.LAN
	lanErr error
	lanAt  time.Time
}

const lanTTL = 30 * time.Second

// Options are what a core is made with besides its settings. The zero
// value is a one-shot door's core on the real router.
type Options struct {
	// Resident makes the daemon's core: every locked cycle chooses
	// backend and placement again (the firewall's flow offloading options
	// can change while it runs, and a daemon that kept the old choice
	// would switch back and forth with the hooks), and ends by saving the
	// usage snapshot the page's polls are answered from.
	Resident bool
	// Backends builds the backend of a kind; nil means netfilter.New
	// with the settings. Tests pass fakes.
	Backends func(netfilter.Kind) (netfilter.Backend, error)
	// Host is where the choice looks at the router; a zero ConfigDir
	// means the core's config dir.
	Host netfilter.Host
	// DevicePrefixes reports a device's live addresses for the LAN
	// derivation; nil means links.DevicePrefixes.
	DevicePrefixes config.DevicePrefixes
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BootID names the current kernel boot; nil reads the kernel's.
	BootID func() string
	// AlertsQueued is called when a cycle queued alerts and no daemon
	// runs to deliver them (alerts.go); nil: they wait in the outbox.
	AlertsQueued func()
}

// Open makes the core with the backend and placement netfilter.Choose
// picks for the settings, chosen once (again at every cycle of a resident
// core); usage reports that same choice.
func Open(s config.Settings, configDir string, o Options) (*Core, error) {
	c := &Core{settings: s, configDir: configDir, host: o.Host, backends: o.Backends, resident: o.Resident,
		store: ledger.Store{Dir: s.DBDir}, now: o.Now, bootID: o.BootID, devices: o.DevicePrefixes, alertsQueued: o.AlertsQueued}
	if c.now == nil {
		c.now = time.Now
	}
	if c.bootID == nil {
		c.bootID = kernelBootID
	}
	if c.devices == nil {
		c.devices = links.DevicePrefixes
	}
	if c.host.ConfigDir == "" {
		c.host.ConfigDir = configDir
	}
	if c.backends == nil {
		c.backends = c.newBackend
	}
	ch, err := c.choose()
	if err != nil {
		return nil, err
	}
	b, err := c.backends(ch.Kind)
	if err != nil {
		return nil, err
	}
	c.backend, c.choice = b, ch
	return c, nil
}

// kernelBootID names this boot; the kernel makes a new one at every boot.
func kernelBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// periods returns the accounting period rule of the settings.
func (c *Core) periods() period.Spec {
	s := c.settings
	return period.Spec{Monthly: s.Period != "days", Day: s.PeriodDay, Anchor: s.PeriodAnchor, Days: s.PeriodDays}
}

// stamp names the history buckets of t.
func (c *Core) stamp(t time.Time) ledger.Stamp {
	return ledger.Stamp{Day: period.DayKey(t), Period: c.periods().Containing(t).Key(), Now: t.Unix(), Hour: ledger.HourStart(t), DayStart: ledger.DayStart(t)}
}

// Settings returns the settings the core runs with.
func (c *Core) Settings() config.Settings { return c.settings }

// ErrDisabled is returned by operations that would touch the kernel while
// option enabled is '0'.
var ErrDisabled = errors.New("transferometer is disabled (option enabled '0')")

// Warning is a condition the user should see next to the numbers.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IsLAN reports whether a is a LAN host address we account.
func (c *Core) IsLAN(a netip.Addr) (bool, error) {
	lan, err := c.lanSet()
	if err != nil {
		return false, err
	}
	return lan.Contains(a), nil
}

// LANPrefixes returns the LAN prefixes the core accounts.
func (c *Core) LANPrefixes() ([]netip.Prefix, error) {
	lan, err := c.lanSet()
	if err != nil {
		return nil, err
	}
	return lan.Prefixes(), nil
}

func (c *Core) lanSet() (*config.LAN, error) {
	if now := c.now(); now.Sub(c.lanAt) > lanTTL || now.Before(c.lanAt) {
		c.lan, c.lanErr, c.lanAt = nil, nil, now
	}
	if c.lan == nil && c.lanErr == nil {
		l, err := c.settings.LAN(c.configDir, c.devices)
		if err != nil {
			c.lanErr = err
		} else {
			c.lan = &l
		}
	}
	return c.lan, c.lanErr
}

func (c *Core) lockOptions() lock.Options { return lockOptions(c.settings) }

func lockOptions(s config.Settings) lock.Options {
	return lock.Options{Dir: s.LockDir, PIDFile: s.PIDFile, Timeout: s.LockTimeout}
}

// LiveTLS reports whether the live feed serves TLS: a TLS port is set and
// uhttpd's certificate and key (live_cert, live_key) are there. The
// daemon listens by it and usage tells the page by it.
func (c *Core) LiveTLS() bool {
	s := c.settings
	if s.LiveTLSPort == 0 {
		return false
	}
	for _, p := range []string{s.LiveCert, s.LiveKey} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}
