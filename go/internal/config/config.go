// Package config reads Transferometer's settings from the UCI file
// <dir>/transferometer, section `config transferometer 'main'`, and works
// out which addresses are LAN hosts.
//
// Values are read the way OpenWrt's helpers read them: an option given
// where a list is expected is split at spaces and tabs (as uci_blob does
// for array options), a one-item list serves as a single value, and
// booleans take the words config_get_bool knows. A list of several values
// for a single-valued option is an error (config_get would join them with
// spaces, which only hides the mistake). Unknown options are ignored so that an older
// binary can read a newer file. An option with an empty value does not
// exist for UCI, so it leaves the default in place.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/transferometer/transferometer/internal/ipaddr"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/uci"
)

const (
	// DefaultDir is where OpenWrt keeps UCI files.
	DefaultDir = "/etc/config"
	// EnvDir names the environment variable that replaces DefaultDir.
	EnvDir = "TRANSFEROMETER_CONFIG_DIR"
	// FileName is the UCI package (file) name.
	FileName = "transferometer"
	// SectionType and SectionName identify the section holding the settings.
	SectionType = "transferometer"
	SectionName = "main"

	maxChainPrefix = 20 // prefix + "_FORWARD" must fit iptables' 28 characters
	maxLockTimeout = 300
)

// Settings are the effective settings, defaults applied.
type Settings struct {
	Enabled     bool           // enabled
	LockDir     string         // lock_dir
	PIDFile     string         // pid_file
	LockTimeout time.Duration  // lock_timeout, whole seconds 1..300
	DBDir       string         // db_dir
	ChainPrefix string         // chain_prefix
	Subnets     []netip.Prefix // list subnet, masked; empty means derive from Network
	// Network is the logical interface to derive the LAN from; "" disables
	// derivation. A file cannot say "" (UCI drops empty options): listing
	// subnets is how a file turns derivation off.
	Network   string
	IPv6      bool   // ipv6
	LeaseFile string // leasefile
	// Backend, IPTablesVariant and Placement are option values as written
	// ("auto" or a choice); netfilter.Choose decides what runs.
	Backend         string // backend
	IPTablesVariant string // iptables_variant
	// Placement says where the nftables backend counts forwarded bytes:
	// the forward hook, the LAN's lowest devices' ingress/egress (which
	// software flow offloading does not bypass), or auto.
	Placement string // placement
	// LANDevice is the device whose ports the netdev placement counts on;
	// "" means the device of interface Network in the network file.
	LANDevice string // lan_device

	// The resident daemon.
	RefreshInterval time.Duration // refresh_interval: seconds between collections, 1..3600
	CommitInterval  time.Duration // commit_interval: RAM ledger to flash, e.g. '24h', 1m..30d
	PersistDir      string        // persist_dir: the ledger's copy on flash
	// Period: "monthly" (starting on PeriodDay, 1..28) or "days" (every
	// PeriodDays days from PeriodAnchor).
	Period       string    // period
	PeriodDay    int       // period_start as a day of the month
	PeriodAnchor time.Time // period_start as a date (YYYY-MM-DD), local midnight
	PeriodDays   int       // period_days, 1..366
	Generations  int       // generations: periods kept, 1..120
	// MaxDevices bounds the devices the ledger keeps (max_devices,
	// 16..65536): MAC randomisation or a client forging ARP must not
	// grow it without end.
	MaxDevices int
	// The live feed (websocket): plain on LivePort, TLS on LiveTLSPort when
	// the certificate and key exist; 0 turns either off. LiveAddress ""
	// means the LAN addresses of the router.
	LivePort    int    // live_port
	LiveTLSPort int    // live_tls_port
	LiveAddress string // live_address
	LiveCert    string // live_cert
	LiveKey     string // live_key
	// Metrics serves Prometheus text on the live listener at /metrics, to
	// the MetricsAllow addresses only (off by default).
	Metrics      bool           // metrics
	MetricsAllow []netip.Prefix // list metrics_allow: addresses or subnets

	// Names are the `config host` sections: what the admin calls a device
	// and the group it adds up under.
	Names map[macaddr.MAC]DeviceName
	// Quotas are the `config quota` sections, in file order.
	Quotas []Quota
	// Alerts are the alert_* options (alerts.go).
	Alerts Alerts
}

// Option is one setting as UCI would hold it: Value is a string, or a
// []string for a list.
type Option struct {
	Name  string
	Value any
}

// Dir returns the directory holding the UCI files: $TRANSFEROMETER_CONFIG_DIR
// if set, else /etc/config.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir
}

// Defaults returns the settings used when the file or an option is absent.
func Defaults() Settings {
	return Settings{
		Enabled:         true,
		LockDir:         "/tmp/~transferometer",
		PIDFile:         "/var/run/transferometer.pid",
		LockTimeout:     10 * time.Second,
		DBDir:           "/var/lib/transferometer",
		ChainPrefix:     "TRANSFEROMETER",
		Network:         "lan",
		IPv6:            true,
		LeaseFile:       "/tmp/dhcp.leases",
		Backend:         netfilter.Auto,
		IPTablesVariant: netfilter.Auto,
		Placement:       netfilter.Auto,
		RefreshInterval: 30 * time.Second,
		CommitInterval:  24 * time.Hour,
		PersistDir:      "/etc/transferometer",
		Period:          "monthly",
		PeriodDay:       1,
		PeriodDays:      30,
		Generations:     12,
		MaxDevices:      1024,
		LivePort:        8093,
		LiveTLSPort:     8094,
		LiveCert:        "/etc/uhttpd.crt",
		LiveKey:         "/etc/uhttpd.key",
		Alerts:          Alerts{NewDevice: true},
	}
}

// Load reads <dir>/transferometer. A missing file gives Defaults(); a bad
// value is an error naming the file, the option and the value.
func Load(dir string) (Settings, error) {
	path := filepath.Join(dir, FileName)
	s := Defaults()
	f, err := uci.ParseFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	if s.Names, err = parseHosts(path, f); err != nil {
		return Settings{}, err
	}
	if s.Quotas, err = parseQuotas(path, f); err != nil {
		return Settings{}, err
	}
	sec := f.Section(SectionName)
	if sec == nil {
		return s, nil
	}
	if sec.Type != SectionType {
		return Settings{}, fmt.Errorf("%s: section '%s' has type %q, want '%s'", path, SectionName, sec.Type, SectionType)
	}
	for _, sp := range specs() {
		o, ok := sec.Get(sp.name)
		if !ok {
			continue
		}
		kind := "option"
		if o.IsList {
			kind = "list"
		}
		if sp.list != nil {
			if err := sp.list(&s, listValues(o)); err != nil {
				return Settings{}, fmt.Errorf("%s: %s %s: %w", path, kind, sp.name, err)
			}
			continue
		}
		// config_get would join a list with spaces; a list of several
		// values for a single-valued option is a mistake, so say so.
		if o.IsList && len(o.Values) > 1 {
			return Settings{}, fmt.Errorf("%s: list %s: takes a single value, not a list of %d", path, sp.name, len(o.Values))
		}
		v := o.Values[0]
		if err := sp.parse(&s, v); err != nil {
			if sp.secret {
				v = "(value not shown)"
			}
			return Settings{}, fmt.Errorf("%s: %s %s: %q %w", path, kind, sp.name, v, err)
		}
	}
	return s, nil
}

// Options returns every setting with its effective value, in a fixed order,
// as the strings UCI would hold (for `transferometer config --json`).
func (s Settings) Options() []Option {
	all := specs()
	out := make([]Option, 0, len(all))
	for _, sp := range all {
		out = append(out, Option{Name: sp.name, Value: sp.format(s)})
	}
	return out
}

// listValues reads a list setting: list items as they are, an option split
// at spaces and tabs.
func listValues(o uci.Option) []string {
	if o.IsList {
		return o.Values
	}
	return strings.FieldsFunc(o.Values[0], func(r rune) bool { return r == ' ' || r == '\t' })
}

// spec ties an option name to its parsing and its UCI form, so Load and
// Options cannot disagree about the set of options or their order.
type spec struct {
	name   string
	parse  func(s *Settings, v string) error    // single-valued options
	list   func(s *Settings, vs []string) error // list options
	format func(s Settings) any
	// secret: an error never quotes the value (a URL with a token).
	secret bool
}

// specs lists the options in the order Options reports them.
func specs() []spec {
	return append([]spec{
		{
			name:   "enabled",
			parse:  func(s *Settings, v string) (err error) { s.Enabled, err = parseBool(v); return },
			format: func(s Settings) any { return formatBool(s.Enabled) },
		},
		{
			name:   "lock_dir",
			parse:  func(s *Settings, v string) (err error) { s.LockDir, err = runtimePath(v); return },
			format: func(s Settings) any { return s.LockDir },
		},
		{
			name:   "pid_file",
			parse:  func(s *Settings, v string) (err error) { s.PIDFile, err = pidPath(v); return },
			format: func(s Settings) any { return s.PIDFile },
		},
		{
			name:   "lock_timeout",
			parse:  parseLockTimeout,
			format: func(s Settings) any { return strconv.FormatInt(int64(s.LockTimeout/time.Second), 10) },
		},
		{
			name:   "db_dir",
			parse:  func(s *Settings, v string) (err error) { s.DBDir, err = runtimePath(v); return },
			format: func(s Settings) any { return s.DBDir },
		},
		{
			name:   "chain_prefix",
			parse:  parseChainPrefix,
			format: func(s Settings) any { return s.ChainPrefix },
		},
		{
			name:   "subnet",
			list:   parseSubnets,
			format: func(s Settings) any { return prefixStrings(s.Subnets) },
		},
		{
			name:   "network",
			parse:  parseNetwork,
			format: func(s Settings) any { return s.Network },
		},
		{
			name:   "ipv6",
			parse:  func(s *Settings, v string) (err error) { s.IPv6, err = parseBool(v); return },
			format: func(s Settings) any { return formatBool(s.IPv6) },
		},
		{
			name:   "leasefile",
			parse:  func(s *Settings, v string) (err error) { s.LeaseFile, err = confinedPath(v, leaseRoots); return },
			format: func(s Settings) any { return s.LeaseFile },
		},
		{
			name:   "backend",
			parse:  parseBackend,
			format: func(s Settings) any { return s.Backend },
		},
		{
			name:   "iptables_variant",
			parse:  parseVariant,
			format: func(s Settings) any { return s.IPTablesVariant },
		},
		{
			name:   "placement",
			parse:  parsePlacement,
			format: func(s Settings) any { return s.Placement },
		},
		{
			name:   "lan_device",
			parse:  parseDevice,
			format: func(s Settings) any { return s.LANDevice },
		},
		{
			name: "refresh_interval",
			parse: func(s *Settings, v string) (err error) {
				s.RefreshInterval, err = parseDuration(v, time.Second, time.Hour)
				return
			},
			format: func(s Settings) any { return formatDuration(s.RefreshInterval) },
		},
		{
			name: "commit_interval",
			parse: func(s *Settings, v string) (err error) {
				s.CommitInterval, err = parseDuration(v, time.Minute, 30*24*time.Hour)
				return
			},
			format: func(s Settings) any { return formatDuration(s.CommitInterval) },
		},
		{
			name:   "persist_dir",
			parse:  func(s *Settings, v string) (err error) { s.PersistDir, err = confinedPath(v, persistRoots); return },
			format: func(s Settings) any { return s.PersistDir },
		},
		{
			name:   "period",
			parse:  parsePeriod,
			format: func(s Settings) any { return s.Period },
		},
		{
			name:  "period_start",
			parse: parsePeriodStart,
			format: func(s Settings) any {
				if !s.PeriodAnchor.IsZero() {
					return s.PeriodAnchor.Format("2006-01-02")
				}
				return strconv.Itoa(s.PeriodDay)
			},
		},
		{
			name:   "period_days",
			parse:  func(s *Settings, v string) (err error) { s.PeriodDays, err = parseInt(v, 1, 366); return },
			format: func(s Settings) any { return strconv.Itoa(s.PeriodDays) },
		},
		{
			name:   "generations",
			parse:  func(s *Settings, v string) (err error) { s.Generations, err = parseInt(v, 1, 120); return },
			format: func(s Settings) any { return strconv.Itoa(s.Generations) },
		},
		{
			name:   "max_devices",
			parse:  func(s *Settings, v string) (err error) { s.MaxDevices, err = parseInt(v, 16, 65536); return },
			format: func(s Settings) any { return strconv.Itoa(s.MaxDevices) },
		},
		{
			name:   "live_port",
			parse:  func(s *Settings, v string) (err error) { s.LivePort, err = parseInt(v, 0, 65535); return },
			format: func(s Settings) any { return strconv.Itoa(s.LivePort) },
		},
		{
			name:   "live_tls_port",
			parse:  func(s *Settings, v string) (err error) { s.LiveTLSPort, err = parseInt(v, 0, 65535); return },
			format: func(s Settings) any { return strconv.Itoa(s.LiveTLSPort) },
		},
		{
			name:   "live_address",
			parse:  parseLiveAddress,
			format: func(s Settings) any { return s.LiveAddress },
		},
		{
			name:   "live_cert",
			parse:  func(s *Settings, v string) (err error) { s.LiveCert, err = confinedPath(v, certRoots); return },
			format: func(s Settings) any { return s.LiveCert },
		},
		{
			name:   "live_key",
			parse:  func(s *Settings, v string) (err error) { s.LiveKey, err = confinedPath(v, certRoots); return },
			format: func(s Settings) any { return s.LiveKey },
		},
		{
			name:   "metrics",
			parse:  func(s *Settings, v string) (err error) { s.Metrics, err = parseBool(v); return },
			format: func(s Settings) any { return formatBool(s.Metrics) },
		},
		{
			name:   "metrics_allow",
			list:   parseMetricsAllow,
			format: func(s Settings) any { return prefixStrings(s.MetricsAllow) },
		},
	}, alertSpecs()...)
}

// parseBool accepts the words of OpenWrt's config_get_bool (case-sensitive
// there too).
func parseBool(v string) (bool, error) {
	switch v {
	case "1", "on", "true", "yes", "enabled":
		return true, nil
	case "0", "off", "false", "no", "disabled":
		return false, nil
	}
	return false, errors.New("is not a boolean (1/0, on/off, true/false, yes/no, enabled/disabled)")
}

func formatBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func parseLockTimeout(s *Settings, v string) error {
	n, err := parseInt(v, 1, maxLockTimeout)
	if err != nil {
		return fmt.Errorf("is not a whole number of seconds (1-%d)", maxLockTimeout)
	}
	s.LockTimeout = time.Duration(n) * time.Second
	return nil
}

// prefixStrings formats a prefix list for UCI and JSON ([] rather than
// null when empty).
func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func parseChainPrefix(s *Settings, v string) error {
	ok := len(v) >= 1 && len(v) <= maxChainPrefix && isLetter(v[0])
	for i := 0; ok && i < len(v); i++ {
		ok = isLetter(v[i]) || v[i] >= '0' && v[i] <= '9' || v[i] == '_'
	}
	if !ok {
		return fmt.Errorf("is not a chain prefix (1-%d letters, digits or _, starting with a letter)", maxChainPrefix)
	}
	s.ChainPrefix = v
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func parseSubnets(s *Settings, vs []string) error {
	out := make([]netip.Prefix, 0, len(vs))
	for _, v := range vs {
		p, err := ipaddr.ParsePrefix(v)
		if err != nil {
			return fmt.Errorf("%q is not a subnet in CIDR notation (like 192.168.1.0/24 or fd00::/64)", v)
		}
		// dnsmasq never reports IPv4-mapped addresses, so such a subnet
		// would silently match nothing.
		if p.Addr().Is4In6() {
			return fmt.Errorf("%q is an IPv4-mapped IPv6 subnet; write it in IPv4 notation", v)
		}
		out = append(out, p.Masked())
	}
	if len(out) > 0 {
		s.Subnets = out
	}
	return nil
}

// parseNetwork accepts a UCI section name: the network option names
// `config interface '<name>'` in the network file.
func parseNetwork(s *Settings, v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '_') {
			return errors.New("is not an interface name (letters, digits and _)")
		}
	}
	s.Network = v
	return nil
}

func parseBackend(s *Settings, v string) error {
	if err := netfilter.CheckBackendOption(v); err != nil {
		return err
	}
	s.Backend = v
	return nil
}

func parseVariant(s *Settings, v string) error {
	if err := netfilter.CheckVariantOption(v); err != nil {
		return err
	}
	s.IPTablesVariant = v
	return nil
}

func parseInt(v string, lo, hi int) (int, error) {
	bad := fmt.Errorf("is not a whole number from %d to %d", lo, hi)
	if v == "" || len(v) > 9 || strings.Trim(v, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, bad
	}
	return n, nil
}

// parseDuration accepts seconds ("3600") or a number with one unit s, m,
// h or d ("24h", "1d"), as nlbwmon's commit_interval does.
func parseDuration(v string, lo, hi time.Duration) (time.Duration, error) {
	bad := fmt.Errorf("is not a duration from %s to %s (seconds, or a number with s, m, h or d: '30', '24h')", formatDuration(lo), formatDuration(hi))
	unit := time.Second
	num := v
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 's':
			num = v[:n-1]
		case 'm':
			unit, num = time.Minute, v[:n-1]
		case 'h':
			unit, num = time.Hour, v[:n-1]
		case 'd':
			unit, num = 24*time.Hour, v[:n-1]
		}
	}
	n, err := parseInt(num, 0, 1<<30)
	if err != nil {
		return 0, bad
	}
	d := time.Duration(n) * unit
	if d < lo || d > hi {
		return 0, bad
	}
	return d, nil
}

// formatDuration writes d with the largest unit that divides it.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func parsePeriod(s *Settings, v string) error {
	switch v {
	case "monthly", "days":
		s.Period = v
		return nil
	}
	return errors.New("is not 'monthly' or 'days'")
}

// parsePeriodStart takes a day of the month (1-28, for monthly periods) or
// a date (for periods of period_days days counted from it).
func parsePeriodStart(s *Settings, v string) error {
	if t, err := time.ParseInLocation("2006-01-02", v, time.Local); err == nil {
		s.PeriodAnchor = t
		return nil
	}
	n, err := parseInt(v, 1, 28)
	if err != nil {
		return errors.New("is not a day of the month (1-28) or a date (YYYY-MM-DD)")
	}
	s.PeriodDay = n
	return nil
}

// parseLiveAddress takes one unicast address of the router's: a wildcard
// (0.0.0.0, ::) would put the feed and /metrics on the WAN too.
func parseLiveAddress(s *Settings, v string) error {
	a, err := ipaddr.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return errors.New("is not an IP address")
	}
	switch {
	case a.IsUnspecified():
		return errors.New("is a wildcard address: name one LAN address of the router (empty: all of them)")
	case a.IsMulticast(), a.Is4In6(), a.IsLinkLocalUnicast():
		return errors.New("is not a unicast address the feed can listen on")
	}
	s.LiveAddress = a.String()
	return nil
}

// parseMetricsAllow takes addresses (one host) or subnets allowed to scrape.
func parseMetricsAllow(s *Settings, vs []string) error {
	out := make([]netip.Prefix, 0, len(vs))
	for _, v := range vs {
		p, err := ipaddr.ParsePrefix(v)
		if err != nil {
			a, aerr := ipaddr.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return fmt.Errorf("%q is not an address or a subnet", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		// Callers are matched as IPv4 (their mapped form unmapped), so a
		// mapped entry would match nobody.
		if p.Addr().Is4In6() {
			return fmt.Errorf("%q is an IPv4-mapped IPv6 address; write it in IPv4 notation", v)
		}
		out = append(out, p.Masked())
	}
	s.MetricsAllow = out
	return nil
}
