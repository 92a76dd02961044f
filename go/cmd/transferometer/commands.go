package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/daemon"
	"github.com/transferometer/transferometer/internal/ipaddr"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/period"
	"github.com/transferometer/transferometer/internal/rpcd"
)

const helpText = `usage: transferometer COMMAND [ARGS]

Per-host data-transfer accounting for OpenWrt.

dnsmasq dhcp-script contract (also used by the hotplug handlers):
  arp-add MAC IP          account a LAN host (non-LAN addresses are ignored)
  arp-del MAC IP          stop accounting an address, keeping its bytes
  add|old MAC IP [NAME]   DHCP lease: account the host, remember its name
  del MAC IP [NAME]       DHCP lease ended: collect only
  any other word          collect only (init, tftp, relay-snoop, ...)

commands:
  collect                 read counters into the ledger (repairs rules)
  setup                   create chains and rules (same as collect)
  teardown                remove every rule and chain we added
  usage [--json] [--mac MAC] [--period current|all|YYYY-MM-DD]
                          per-device download/upload, collected fresh
  hosts [--json]          known devices and whether their rules are in place
  reset [--mac MAC]       zero one device's totals, or all
  quota [--json]          every quota: used, allowance, state (the saved ledger)
  quota lift NAME [--mac MAC]
                          lift a quota's block until its period or day ends
  quota extra NAME SIZE [--mac MAC]
                          add SIZE (e.g. 500MB) to a quota's allowance for today
  config [--json]         the effective settings (defaults applied)
  export [--period P] [--format csv|json]
                          one period's per-device usage (default: current, csv)
  commit                  copy the ledger from db_dir (RAM) to persist_dir (flash)
  backup FILE             write the ledger to FILE (gzip JSON; - for stdout)
  restore FILE            replace the ledger with a backup, checked whole first
  daemon                  the resident service (procd runs it): collects every
                          refresh_interval, commits, serves the live feed
  rpcd list|call METHOD   the rpcd exec-plugin protocol (ubus transferometer)
  alerts deliver|list|test
                          deliver the queued alerts, list them (JSON), or send
                          a test alert through every channel now
  --help, --version

Settings: /etc/config/transferometer (TRANSFEROMETER_CONFIG_DIR replaces /etc/config).
Exit status: 0 ok, 1 runtime error, 2 bad usage or input.
`

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return badUsage("no command (try --help)")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "--help", "-h", "help":
		_, err := io.WriteString(stdout, helpText)
		return err
	case "--version":
		_, err := fmt.Fprintf(stdout, "transferometer %s\n", version)
		return err
	case "rpcd":
		// rpcd ignores exit codes and stderr: every answer is an object.
		return rpcd.MainReady(ctx, rest, stdin, stdout, openCore, readyUsage)
	}
	if strings.HasPrefix(cmd, "-") {
		return badUsage("unknown option %q (try --help)", cmd)
	}
	switch cmd {
	case "arp-add", "arp-del", "add", "old", "update", "del":
		return event(ctx, cmd, rest, stderr)
	case "collect", "setup":
		return collect(ctx, cmd, rest, stderr)
	case "teardown":
		if err := noArgs(cmd, rest); err != nil {
			return err
		}
		core, err := openCore()
		if err != nil {
			return err
		}
		return core.Teardown(ctx)
	case "usage":
		return usage(ctx, rest, stdout)
	case "hosts":
		return hosts(ctx, rest, stdout)
	case "reset":
		return reset(ctx, rest, stdout)
	case "quota":
		return quotaCmd(ctx, rest, stdout)
	case "config":
		return showConfig(rest, stdout)
	case "commit":
		if err := noArgs(cmd, rest); err != nil {
			return err
		}
		core, err := openCore()
		if err != nil {
			return err
		}
		return core.Commit(ctx)
	case "daemon":
		if err := noArgs(cmd, rest); err != nil {
			return err
		}
		core, err := open(account.Options{Resident: true})
		if err != nil {
			return err
		}
		return daemon.Run(ctx, daemon.Options{Core: core, ConfigDir: config.Dir(), Log: stderr})
	case "alerts":
		return alertsCmd(ctx, rest, stdout, stderr)
	case "export":
		return export(ctx, rest, stdout)
	case "backup", "restore":
		return backupRestore(ctx, cmd, rest, stdin, stdout)
	}
	// The dhcp-script contract: unknown actions only collect, since
	// dnsmasq may add actions. Arguments are not inspected.
	return collect(ctx, "collect", nil, stderr)
}

// openCore loads the settings and builds a one-shot door's core.
// Alerts it queues are delivered by a detached process (alerts.go).
func openCore() (*account.Core, error) {
	return open(account.Options{AlertsQueued: spawnDeliverer})
}

func open(o account.Options) (*account.Core, error) {
	dir := config.Dir()
	s, err := config.Load(dir)
	if err != nil {
		return nil, badUsage("%v", err)
	}
	return account.Open(s, dir, o)
}

func noArgs(cmd string, rest []string) error {
	if len(rest) > 0 {
		return badUsage("%s takes no arguments, got %q", cmd, rest[0])
	}
	return nil
}

// parseHostArgs checks MAC and IP strictly: no prefixes, no zones, no
// options, nothing that is not exactly an address.
func parseHostArgs(cmd string, rest []string, maxArgs int) (macaddr.MAC, netip.Addr, error) {
	var mac macaddr.MAC
	var ip netip.Addr
	if len(rest) < 2 || len(rest) > maxArgs {
		return mac, ip, badUsage("%s wants MAC IP%s, got %d argument(s)", cmd, map[bool]string{true: " [HOSTNAME]"}[maxArgs > 2], len(rest))
	}
	mac, err := macaddr.Parse(rest[0])
	if err != nil {
		if errors.Is(err, macaddr.ErrNotEthernet) {
			return mac, ip, err
		}
		return mac, ip, badUsage("%s: %v", cmd, err)
	}
	if len(rest[1]) > 64 {
		return mac, ip, badUsage("%s: invalid IP address: too long", cmd)
	}
	ip, err = ipaddr.ParseAddr(rest[1])
	if err != nil || ip.Zone() != "" {
		return mac, ip, badUsage("%s: invalid IP address %q: want a single address like 192.168.1.10 or fd00::10", cmd, rest[1])
	}
	return mac, ip, nil
}

// warn reports conditions a hook run met (a damaged ledger moved aside, a
// long wait for the lock) on stderr, which dnsmasq and procd log.
func warn(stderr io.Writer, out account.Outcome) {
	for _, w := range out.Warnings {
		fmt.Fprintf(stderr, "transferometer: warning: %s\n", oneLine(w.Message))
	}
}

func event(ctx context.Context, cmd string, rest []string, stderr io.Writer) error {
	maxArgs := 2
	if !strings.HasPrefix(cmd, "arp-") {
		maxArgs = 3
	}
	mac, ip, err := parseHostArgs(cmd, rest, maxArgs)
	if errors.Is(err, macaddr.ErrNotEthernet) {
		return nil // another hardware type: a normal event with no place here
	}
	if err != nil {
		return err
	}
	ev := account.Event{MAC: mac, Addr: ip}
	if len(rest) == 3 {
		if ev.Hostname, err = account.ParseHostname(rest[2]); err != nil {
			return badUsage("%s: %v", cmd, err)
		}
	}
	kind, ok := account.HookKind(cmd)
	if !ok {
		return badUsage("unknown event %q", cmd)
	}
	ev.Kind = kind
	if handOver(ctx, cmd, ev, stderr) {
		return nil
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	out, err := core.Handle(ctx, ev)
	warn(stderr, out)
	return err
}

func collect(ctx context.Context, cmd string, rest []string, stderr io.Writer) error {
	if err := noArgs(cmd, rest); err != nil {
		return err
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	out, err := core.Handle(ctx, account.Event{Kind: account.Collect})
	warn(stderr, out)
	if err == nil && out.Disabled && cmd == "setup" {
		return account.ErrDisabled
	}
	return err
}

// flags parses the few flags the CLI has: --json and --mac MAC.
type flags struct {
	json   bool
	mac    *macaddr.MAC
	period string
}

func parseFlags(cmd string, rest []string, allowJSON, allowMAC bool) (flags, error) {
	var f flags
	is := func(a, name string) bool { return a == name || strings.HasPrefix(a, name+"=") }
	// value returns the value of flag name at rest[i], given as --name=V
	// or --name V (then consumed).
	var i int
	value := func(name, need string) (string, error) {
		if v, ok := strings.CutPrefix(rest[i], name+"="); ok {
			return v, nil
		}
		if i+1 >= len(rest) {
			return "", badUsage("%s: %s needs %s", cmd, name, need)
		}
		i++
		return rest[i], nil
	}
	for i = 0; i < len(rest); i++ {
		switch a := rest[i]; {
		case a == "--json" && allowJSON:
			f.json = true
		case is(a, "--format") && cmd == "export":
			v, err := value("--format", "csv or json")
			if err != nil {
				return f, err
			}
			if v != "csv" && v != "json" {
				return f, badUsage("%s: --format %q: want csv or json", cmd, v)
			}
			f.json = v == "json"
		case is(a, "--period") && (cmd == "usage" || cmd == "export"):
			v, err := value("--period", "current, all or a date")
			if err != nil {
				return f, err
			}
			if !period.ValidSelector(v) {
				return f, badUsage("%s: --period %q: want current, all or a date like 2026-11-01", cmd, v)
			}
			f.period = v
		case is(a, "--mac") && allowMAC:
			v, err := value("--mac", "a MAC address")
			if err != nil {
				return f, err
			}
			m, err := macaddr.Parse(v)
			if err != nil {
				return f, badUsage("%s: --mac: %v", cmd, err)
			}
			f.mac = &m
		default:
			return f, badUsage("%s: unexpected argument %q (try --help)", cmd, a)
		}
	}
	return f, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// freshUsage is the CLI's usage: numbers collected just now, whether or
// not the daemon runs.
func freshUsage(ctx context.Context, core *account.Core, mac *macaddr.MAC, sel string) (account.Report, error) {
	r, err := core.Usage(ctx, account.UsageQuery{MAC: mac, Period: sel, Fresh: true})
	if err != nil {
		return account.Report{}, err
	}
	return r.Report()
}

func usage(ctx context.Context, rest []string, stdout io.Writer) error {
	f, err := parseFlags("usage", rest, true, true)
	if err != nil {
		return err
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	r, err := freshUsage(ctx, core, f.mac, f.period)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if r.Period.Key == "all" {
		fmt.Fprintf(stdout, "Since the last reset\n")
	} else {
		fmt.Fprintf(stdout, "Period %s to %s\n", time.Unix(r.Period.Start, 0).Format("2006-01-02"), time.Unix(r.Period.End, 0).Format("2006-01-02"))
	}
	fmt.Fprintf(tw, "DEVICE\tMAC\tDOWNLOAD\tUPLOAD\tTOTAL\tLAST SEEN\tIPS\t\n")
	for _, h := range r.Hosts {
		name := h.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, h.MAC, human(h.DownloadBytes), human(h.UploadBytes),
			human(h.DownloadBytes+h.UploadBytes), ago(r.CollectedAt, h.LastSeen), strings.Join(h.IPs, " "))
	}
	fmt.Fprintf(tw, "TOTAL\t\t%s\t%s\t%s\t\t\t\n", human(r.Totals.DownloadBytes), human(r.Totals.UploadBytes), human(r.Totals.DownloadBytes+r.Totals.UploadBytes))
	fmt.Fprintf(tw, "ROUTER\t(own traffic)\t%s in\t%s out\t\t\t\t\n", human(r.Router.InputBytes), human(r.Router.OutputBytes))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w.Message)
	}
	return nil
}

// export writes one period's per-device usage: CSV (a header, one row per
// device) or the usage JSON object.
func export(ctx context.Context, rest []string, stdout io.Writer) error {
	f, err := parseFlags("export", rest, false, false)
	if err != nil {
		return err
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	r, err := freshUsage(ctx, core, nil, f.period)
	if err != nil {
		if errors.Is(err, account.ErrNoPeriod) {
			return badUsage("export: %v", err)
		}
		return err
	}
	if f.json {
		return writeJSON(stdout, r)
	}
	w := csv.NewWriter(stdout)
	// name and group last: columns a reader knew keep their places.
	w.Write([]string{"period", "mac", "hostname", "ips", "download_bytes", "upload_bytes", "download_packets", "upload_packets", "first_seen", "last_seen", "name", "group"})
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	for _, h := range r.Hosts {
		w.Write([]string{r.Period.Key, h.MAC, csvSafe(h.Hostname), strings.Join(h.IPs, " "), u(h.DownloadBytes), u(h.UploadBytes),
			u(h.DownloadPackets), u(h.UploadPackets), strconv.FormatInt(h.FirstSeen, 10), strconv.FormatInt(h.LastSeen, 10),
			csvSafe(h.Name), csvSafe(h.Group)})
	}
	w.Flush()
	return w.Error()
}

// csvSafe keeps a hostname from being read as a formula by spreadsheets.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

func hosts(ctx context.Context, rest []string, stdout io.Writer) error {
	f, err := parseFlags("hosts", rest, true, false)
	if err != nil {
		return err
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	reply, err := core.Hosts(ctx)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, reply)
	}
	hs := reply.Hosts
	now := time.Now().Unix()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MAC\tHOSTNAME\tRULES\tLAST SEEN\tIPS\n")
	for _, h := range hs {
		rules := "no"
		if h.Rules {
			rules = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.MAC, h.Hostname, rules, ago(now, h.LastSeen), strings.Join(h.IPs, " "))
	}
	return tw.Flush()
}

func reset(ctx context.Context, rest []string, stdout io.Writer) error {
	f, err := parseFlags("reset", rest, false, true)
	if err != nil {
		return err
	}
	core, err := openCore()
	if err != nil {
		return err
	}
	zeroed, err := core.Reset(ctx, f.mac)
	if err != nil {
		return err
	}
	for _, z := range zeroed {
		fmt.Fprintf(stdout, "reset %s (was %s down, %s up)\n", z.MAC, human(z.DownloadBytes), human(z.UploadBytes))
	}
	return nil
}

func showConfig(rest []string, stdout io.Writer) error {
	f, err := parseFlags("config", rest, true, false)
	if err != nil {
		return err
	}
	s, err := config.Load(config.Dir())
	if err != nil {
		return badUsage("%v", err)
	}
	opts := s.Options()
	if !f.json {
		for _, o := range opts {
			switch v := o.Value.(type) {
			case []string:
				for _, e := range v {
					fmt.Fprintf(stdout, "%s=%s\n", o.Name, e)
				}
			default:
				fmt.Fprintf(stdout, "%s=%v\n", o.Name, v)
			}
		}
		return nil
	}
	// An ordered object: options in the order the config file lists them.
	var b strings.Builder
	b.WriteString("{")
	for i, o := range opts {
		k, _ := json.Marshal(o.Name)
		v, err := json.Marshal(o.Value)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  %s: %s", k, v)
	}
	b.WriteString("\n}\n")
	_, err = io.WriteString(stdout, b.String())
	return err
}

// human formats bytes in binary units, as LuCI does.
func human(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

func ago(now, t int64) string {
	if t == 0 {
		return "-"
	}
	d := time.Duration(now-t) * time.Second
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}
