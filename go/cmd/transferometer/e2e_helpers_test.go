package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// binary is the transferometer under test: $TRANSFEROMETER_BIN (make test
// builds it) or a fresh build of this package.
func binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("TRANSFEROMETER_BIN"); b != "" {
		return b
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("transferometer-test-%d", os.Getpid()))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// rig is a routed LAN plus a transferometer configured for it, run in the
// router namespace exactly as dnsmasq would run it there.
type rig struct {
	lan     *testlan.LAN
	bin     string
	cfgDir  string
	dbDir   string
	lockDir string
	// variant is the iptables variant ("legacy", "nft"), "nftables" for
	// the native backend (the LAN's NAT then uses iptables-nft), or
	// "netdev" for the native backend counting hosts on br-lan's ports.
	variant string
	// always is added to every config writeConfig writes.
	always string
}

// nft reports whether the rig runs the nftables backend.
func (r *rig) nft() bool { return r.variant == "nftables" || r.variant == "netdev" }

// netdev reports whether the rig counts hosts on the netdev hooks.
func (r *rig) netdev() bool { return r.variant == "netdev" }

// backendName is what usage reports as the backend.
func (r *rig) backendName() string {
	if r.netdev() {
		return "nftables-netdev"
	}
	if r.nft() {
		return "nftables"
	}
	return "iptables-" + r.variant
}

func newRig(t testing.TB, variant string, hosts int) *rig {
	t.Helper()
	return newRigWith(t, variant, testlan.Options{NumHosts: hosts})
}

// newRigWith is newRig on a LAN built with o (its Variant is set from
// variant).
func newRigWith(t testing.TB, variant string, o testlan.Options) *rig {
	t.Helper()
	testlan.Require(t)
	o.Variant = variant
	if variant == "nftables" || variant == "netdev" {
		o.Variant = "nft"
	}
	lan := testlan.New(t, o)
	dir := t.TempDir()
	r := &rig{lan: lan, bin: binary(t), cfgDir: filepath.Join(dir, "config"), dbDir: filepath.Join(dir, "db"), lockDir: filepath.Join(dir, "lock"), variant: variant}
	if err := os.MkdirAll(r.cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.writeConfig(t, "")
	return r
}

func (r *rig) writeConfig(t testing.TB, extra string) {
	t.Helper()
	cfg := fmt.Sprintf(`config transferometer 'main'
	option enabled '1'
	option lock_dir '%s'
	option pid_file '%s'
	option lock_timeout '20'
	option db_dir '%s'
	option leasefile '%s'
	option chain_prefix 'TRANSFEROMETER'
	list subnet '%s'
	list subnet '%s'
	option ipv6 '1'
	option backend '%s'
	option iptables_variant '%s'
%s`, r.lockDir, filepath.Join(filepath.Dir(r.lockDir), "transferometer.pid"), r.dbDir,
		filepath.Join(filepath.Dir(r.lockDir), "dhcp.leases"), r.lan.LAN4, r.lan.LAN6, r.backendOption(), r.lan.Variant, r.placementOptions()+r.always+extra)
	if err := os.WriteFile(filepath.Join(r.cfgDir, "transferometer"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) placementOptions() string {
	if r.netdev() {
		return "\toption placement 'netdev'\n\toption lan_device '" + testlan.Bridge + "'\n"
	}
	return ""
}

func (r *rig) backendOption() string {
	if r.nft() {
		return "nftables"
	}
	return "iptables"
}

func (r *rig) env() []string {
	return append(os.Environ(), "TRANSFEROMETER_CONFIG_DIR="+r.cfgDir)
}

type result struct {
	stdout, stderr string
	code           int
}

// exec runs the binary in the router namespace.
func (r *rig) exec(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, args...)
	cmd.Env = r.env()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	res := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", args, err)
	}
	return res
}

// ok runs the binary and fails the test unless it exits 0.
func (r *rig) ok(t testing.TB, args ...string) string {
	t.Helper()
	res := r.exec(t, args...)
	if res.code != 0 {
		t.Fatalf("transferometer %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

type hostUsage struct {
	MAC             string   `json:"mac"`
	Hostname        string   `json:"hostname"`
	IPs             []string `json:"ips"`
	DownloadBytes   uint64   `json:"download_bytes"`
	UploadBytes     uint64   `json:"upload_bytes"`
	DownloadPackets uint64   `json:"download_packets"`
	UploadPackets   uint64   `json:"upload_packets"`
	Active          bool     `json:"active"`
}

type usageReport struct {
	CollectedAt int64       `json:"collected_at"`
	Backend     string      `json:"backend"`
	Placement   string      `json:"placement"`
	Hosts       []hostUsage `json:"hosts"`
	Totals      struct {
		DownloadBytes uint64 `json:"download_bytes"`
		UploadBytes   uint64 `json:"upload_bytes"`
	} `json:"totals"`
	Router struct {
		InputBytes  uint64 `json:"input_bytes"`
		OutputBytes uint64 `json:"output_bytes"`
	} `json:"router"`
	Unattributed struct {
		DownloadBytes uint64 `json:"download_bytes"`
		UploadBytes   uint64 `json:"upload_bytes"`
	} `json:"unattributed"`
	UnattributedAddresses []struct {
		IP            string `json:"ip"`
		DownloadBytes uint64 `json:"download_bytes"`
		UploadBytes   uint64 `json:"upload_bytes"`
	} `json:"unattributed_addresses"`
	Warnings []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"warnings"`
}

func (r *rig) usage(t testing.TB) usageReport {
	t.Helper()
	var u usageReport
	out := r.ok(t, "usage", "--json")
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("usage --json: %v\n%s", err, out)
	}
	return u
}

func (u usageReport) host(mac string) hostUsage {
	for _, h := range u.Hosts {
		if h.MAC == mac {
			return h
		}
	}
	return hostUsage{MAC: mac}
}

type hostInfo struct {
	MAC   string   `json:"mac"`
	IPs   []string `json:"ips"`
	Rules bool     `json:"rules"`
}

func (r *rig) hosts(t testing.TB) []hostInfo {
	t.Helper()
	var out struct {
		Hosts []hostInfo `json:"hosts"`
	}
	s := r.ok(t, "hosts", "--json")
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("hosts --json: %v\n%s", err, s)
	}
	return out.Hosts
}

// save returns the router's mangle table (both families) without counters.
func (r *rig) save(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, v6 := range []bool{false, true} {
		out := r.lan.Run(t, r.lan.Router, r.lan.IPTables(v6)+"-save", "-t", "mangle")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "#") {
				continue
			}
			// Built-in chains carry policy counters even without -c
			// (legacy prints them): traffic is not a change.
			if i := strings.LastIndex(l, " ["); strings.HasPrefix(l, ":") && i > 0 {
				l = l[:i]
			}
			b.WriteString(l + "\n")
		}
	}
	// Our nft tables, stateless (no counter values), every line marked
	// so that tests looking for "TRANSFEROMETER" find them too.
	for _, fam := range []string{"ip", "ip6", "netdev"} {
		for _, l := range strings.Split(r.nftTable(t, fam, "-s"), "\n") {
			if l != "" {
				b.WriteString("TRANSFEROMETER nft: " + l + "\n")
			}
		}
	}
	return b.String()
}

// nftTable lists our nft table of a family ("" when absent).
func (r *rig) nftTable(t testing.TB, fam string, flags ...string) string {
	t.Helper()
	if out := r.lan.Run(t, r.lan.Router, "nft", "list", "tables", fam); !strings.Contains(out, "table "+fam+" transferometer\n") {
		return ""
	}
	return r.lan.Run(t, r.lan.Router, "nft", append(flags, "list", "table", fam, "transferometer")...)
}

// nftLines renders our nft table of a family in ruleLines form: each rule
// of a chain as "-A TRANSFEROMETER_chain RULE", and each set element as
// the iptables host rule it replaces ("-A TRANSFEROMETER_FORWARD -s
// ADDR/32 -j RETURN" for set up, -d for down), so that host assertions
// hold for both backends unchanged.
func (r *rig) nftLines(t testing.TB, fam string) []string {
	t.Helper()
	out := r.nftHostLines(t, fam, fam, map[string]string{"up": "-s", "down": "-d"})
	if r.netdev() {
		// Host sets of the netdev table: up4/down4 (ip), up6/down6 (ip6).
		n := map[string]string{"ip": "4", "ip6": "6"}[fam]
		out = append(out, r.nftHostLines(t, "netdev", fam, map[string]string{"up" + n: "-s", "down" + n: "-d"})...)
	}
	chain := ""
	for _, l := range strings.Split(r.nftTable(t, fam, "-s"), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "chain "):
			chain = strings.TrimSuffix(strings.TrimPrefix(l, "chain "), " {")
		case l == "}" || strings.HasPrefix(l, "type ") || l == "":
		case chain != "":
			out = append(out, "-A TRANSFEROMETER_"+chain+" "+l)
		}
	}
	return out
}

// nftHostLines renders the elements of the host sets (names mapped to
// -s/-d) of our table in family table as iptables host rules of family fam.
func (r *rig) nftHostLines(t testing.TB, table, fam string, sets map[string]string) []string {
	t.Helper()
	var out []string
	js := r.nftTable(t, table, "-j")
	if js == "" {
		return nil
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, js)
	}
	bits := map[string]int{"ip": 32, "ip6": 128}[fam]
	for _, o := range doc.Nftables {
		raw, ok := o["set"]
		if !ok {
			continue
		}
		var set struct {
			Name string            `json:"name"`
			Elem []json.RawMessage `json:"elem"`
		}
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		flag, ok := sets[set.Name]
		if !ok {
			continue
		}
		for _, e := range set.Elem {
			var el struct {
				Elem struct {
					Val string `json:"val"`
				} `json:"elem"`
			}
			addr := ""
			if json.Unmarshal(e, &el) == nil && el.Elem.Val != "" {
				addr = el.Elem.Val
			} else if err := json.Unmarshal(e, &addr); err != nil {
				t.Fatalf("set element %s: %v", e, err)
			}
			out = append(out, fmt.Sprintf("-A TRANSFEROMETER_FORWARD %s %s/%d -j RETURN", flag, addr, bits))
		}
	}
	return out
}

// flushRules drops our rules as a reboot or an outside flush would.
func (r *rig) flushRules(t testing.TB) {
	t.Helper()
	if r.nft() {
		for _, fam := range []string{"ip", "ip6", "netdev"} {
			if r.nftTable(t, fam) != "" {
				r.lan.Run(t, r.lan.Router, "nft", "delete", "table", fam, "transferometer")
			}
		}
		return
	}
	for _, v6 := range []bool{false, true} {
		ipt := r.lan.IPTables(v6)
		r.lan.Run(t, r.lan.Router, ipt, "-t", "mangle", "-F")
		r.lan.Run(t, r.lan.Router, ipt, "-t", "mangle", "-X")
	}
}

// ruleLines lists the rules of the mangle table as "v4: -A CHAIN ..." and
// "v6: -A CHAIN ..." lines.
func (r *rig) ruleLines(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, v6 := range []bool{false, true} {
		fam := map[bool]string{false: "v4: ", true: "v6: "}[v6]
		save := r.lan.Run(t, r.lan.Router, r.lan.IPTables(v6)+"-save", "-t", "mangle")
		for _, l := range strings.Split(save, "\n") {
			if strings.HasPrefix(l, "-A ") {
				out = append(out, fam+l)
			}
		}
		for _, l := range r.nftLines(t, map[bool]string{false: "ip", true: "ip6"}[v6]) {
			out = append(out, fam+l)
		}
	}
	return out
}

// plantLock makes the lock look held by pid: the lock dir and the PID file
// the rig's config names, as a holder leaves them.
func (r *rig) plantLock(t testing.TB, pid int) {
	t.Helper()
	if err := os.MkdirAll(r.lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(filepath.Dir(r.lockDir), "transferometer.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dbState is the ledger directory's contents, to prove nothing changed.
func (r *rig) dbState(t testing.TB) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, err := os.ReadDir(r.dbDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err) // two failed reads would compare equal
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(r.dbDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

// variants lists the backends every datapath test runs on: iptables-legacy,
// iptables-nft, and the native nftables backend.
func variants() []string { return []string{"legacy", "nft", "nftables", "netdev"} }
