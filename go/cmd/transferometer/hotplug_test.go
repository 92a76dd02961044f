package main

// Tests of what the OpenWrt package installs around the binary: the hotplug
// handlers run exactly as procd runs them, the fw3 firewall include after a
// flush, the uci-defaults script and the init script. The package itself
// (manifest, Makefile, shipped shell files) is tested in package_test.go.
//
// Handlers and includes run in the router namespace inside a private mount
// namespace whose /etc, /usr (and /lib, /sbin, /bin where those are real
// directories) are overlays holding the package as files.manifest installs
// it, the binary under test at /usr/sbin/transferometer, testdata/functions.sh
// at /lib/functions.sh and the rig's settings at /etc/config/transferometer.
// So the shipped scripts run unmodified, with procd's own command line
// (sh -c ". /lib/functions.sh\n. SCRIPT\n", hotplug-dispatch.c) and a clean
// environment, and nothing leaks out to the machine.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// procdPath is the PATH procd gives hotplug handlers and services.
const procdPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// sysFile is a file placed into the router's overlaid file system.
type sysFile struct {
	dest string      // absolute path on the "router"
	mode os.FileMode // permission bits
	src  string      // copied from this path on the test machine
	link string      // if set: dest is a symlink to this, src and mode unused
}

// packageFiles is the package as files.manifest installs it, with the binary
// under test, the test's /lib/functions.sh and the rig's settings.
func (r *rig) packageFiles(t testing.TB) []sysFile {
	t.Helper()
	root := repoRoot(t)
	var files []sysFile
	for _, e := range readManifest(t) {
		src := filepath.Join(root, e.src)
		if e.link {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, sysFile{dest: e.dest, link: target})
			continue
		}
		if e.src == binToken {
			src = r.bin
		}
		files = append(files, sysFile{dest: e.dest, mode: e.mode, src: src})
	}
	fn, err := filepath.Abs("testdata/functions.sh")
	if err != nil {
		t.Fatal(err)
	}
	return append(files,
		sysFile{dest: "/lib/functions.sh", mode: 0o644, src: fn},
		sysFile{dest: "/etc/config/transferometer", mode: 0o644, src: filepath.Join(r.cfgDir, "transferometer")})
}

// overlaySetup mounts a tmpfs at $1 and, on it, the upper layers of overlays
// over the system directories; installs the files listed in $2 (MODE DEST
// SRC per line; MODE link: DEST a symlink to SRC); then runs `env -i` with
// the remaining arguments.
const overlaySetup = `set -eu
root=$1
list=$2
shift 2
mount -t tmpfs tmpfs "$root"
for d in /etc /usr /lib /sbin /bin; do
	if [ -d "$d" ] && [ ! -L "$d" ]; then
		n=$(printf %s "$d" | tr / _)
		mkdir "$root/upper$n" "$root/work$n"
		mount -t overlay overlay -o "lowerdir=$d,upperdir=$root/upper$n,workdir=$root/work$n" "$d"
	fi
done
while read -r mode dest src; do
	mkdir -p "$(dirname "$dest")"
	if [ "$mode" = link ]; then
		ln -sfn "$src" "$dest"
		continue
	fi
	cp "$src" "$dest"
	chmod "$mode" "$dest"
done < "$list"
exec env -i "$@"
`

// onRouter runs `env -i ARGV...` in the router namespace, on a file system
// holding the package (and extra files, installed after it).
func (r *rig) onRouter(t testing.TB, extra []sysFile, argv ...string) result {
	t.Helper()
	dir := t.TempDir()
	var list strings.Builder
	for _, f := range append(r.packageFiles(t), extra...) {
		if strings.ContainsAny(f.dest, " \t\n") || strings.Contains(f.src, "\n") || strings.Contains(f.link, "\n") {
			t.Fatalf("unsupported path %q / %q / %q", f.dest, f.src, f.link)
		}
		if f.link != "" {
			fmt.Fprintf(&list, "link %s %s\n", f.dest, f.link)
			continue
		}
		fmt.Fprintf(&list, "%o %s %s\n", f.mode, f.dest, f.src)
	}
	setup, listFile, mnt := filepath.Join(dir, "setup.sh"), filepath.Join(dir, "files"), filepath.Join(dir, "root")
	for name, data := range map[string]string{setup: overlaySetup, listFile: list.String()} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Router, "unshare", append([]string{"--mount", "--propagation", "private", "sh", setup, mnt, listFile}, argv...)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	res := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %q on the router: %v", argv, err)
	}
	return res
}

// routerShell is OpenWrt's /bin/sh, busybox ash, when the machine has
// busybox; else the machine's /bin/sh.
func routerShell() []string {
	if _, err := exec.LookPath("busybox"); err == nil {
		return []string{"busybox", "sh"}
	}
	return []string{"/bin/sh"}
}

// hotplug runs /etc/hotplug.d/SUBSYSTEM/50-transferometer the way procd's
// hotplug-dispatch.c does for `ubus call hotplug.SUBSYSTEM call`: its own
// environment (PATH) plus the event's variables, and the command line
// ". /lib/functions.sh\n. SCRIPT\n".
func (r *rig) hotplug(t testing.TB, subsystem string, env ...string) result {
	t.Helper()
	script := "/etc/hotplug.d/" + subsystem + "/50-transferometer"
	argv := append([]string{"PATH=" + procdPath}, env...)
	argv = append(argv, routerShell()...)
	return r.onRouter(t, nil, append(argv, "-c", ". /lib/functions.sh\n. "+script+"\n")...)
}

// fwInclude runs the firewall include as fw3's run_include() (includes.c)
// does: system() of a shell that forbids `config` and sources the path.
func (r *rig) fwInclude(t testing.TB) result {
	t.Helper()
	argv := append([]string{"PATH=" + procdPath}, routerShell()...)
	return r.onRouter(t, nil, append(argv, "-c",
		`config() { echo "You cannot use UCI in firewall includes!" >&2; exit 1; }; . /usr/share/transferometer/firewall.include`)...)
}

// hostRules lists the rules (ruleLines format) that name addr.
func (r *rig) hostRules(t testing.TB, addr string) []string {
	t.Helper()
	var out []string
	for _, l := range r.ruleLines(t) {
		if strings.Contains(l, " "+addr+"/") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func wantHostRules(fam, addr string, bits int) []string {
	return []string{
		fmt.Sprintf("%s: -A TRANSFEROMETER_FORWARD -d %s/%d -j RETURN", fam, addr, bits),
		fmt.Sprintf("%s: -A TRANSFEROMETER_FORWARD -s %s/%d -j RETURN", fam, addr, bits),
	}
}

func mustRun(t testing.TB, what string, res result) {
	t.Helper()
	if res.code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, res.code, res.stdout, res.stderr)
	}
}

// TestHotplugNeighWhileDaemonRuns: while the daemon runs (its mark names
// a live process called transferometer) the neigh handler launches
// nothing, since the daemon applies the kernel's neighbours itself; with
// the mark stale it runs the binary as before.
func TestHotplugNeighWhileDaemonRuns(t *testing.T) {
	r := newRig(t, "nftables", 1)
	h := r.lan.Hosts[0]
	mac, ip := h.MAC.String(), h.IP4.String()
	// A process called transferometer: a copy of sleep under that name.
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "transferometer")
	if err := os.WriteFile(fake, mustRead(t, sleepBin), 0o755); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(fake, "60")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer proc.Process.Kill()
	if err := os.MkdirAll(r.dbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(r.dbDir, "daemon.pid")
	if err := os.WriteFile(mark, []byte(fmt.Sprintf("%d\n", proc.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	dbDir := "CONFIG_main_db_dir=" + r.dbDir
	mustRun(t, "neigh add, daemon running", r.hotplug(t, "neigh", dbDir, "ACTION=add", "MACADDR="+mac, "IPADDR="+ip))
	if got := r.hostRules(t, ip); len(got) != 0 {
		t.Fatalf("the handler ran the binary while the daemon runs: rules %q", got)
	}
	if _, err := os.Stat(filepath.Join(r.dbDir, "host.db")); !os.IsNotExist(err) {
		t.Fatal("the handler ran the binary while the daemon runs: host.db written")
	}
	proc.Process.Kill()
	proc.Wait()
	mustRun(t, "neigh add, mark stale", r.hotplug(t, "neigh", dbDir, "ACTION=add", "MACADDR="+mac, "IPADDR="+ip))
	if got := r.hostRules(t, ip); len(got) == 0 {
		t.Fatal("with the daemon gone the handler did nothing")
	}
}

// TestHotplugNeigh: neigh add gives the host exactly its two rules, remove
// takes them away and keeps what was counted; events the handler does not
// know, or with variables missing, do nothing.
func TestHotplugNeigh(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h := r.lan.Hosts[0]
			mac, ip4, ip6 := h.MAC.String(), h.IP4.String(), h.IP6.String()
			for i := 0; i < 2; i++ { // a repeated add changes nothing
				mustRun(t, "neigh add", r.hotplug(t, "neigh", "ACTION=add", "MACADDR="+mac, "IPADDR="+ip4))
				if got, want := r.hostRules(t, ip4), wantHostRules("v4", ip4, 32); !reflect.DeepEqual(got, want) {
					t.Fatalf("after neigh add #%d: rules %q, want %q", i+1, got, want)
				}
			}
			mustRun(t, "neigh add v6", r.hotplug(t, "neigh", "ACTION=add", "MACADDR="+mac, "IPADDR="+ip6))
			if got, want := r.hostRules(t, ip6), wantHostRules("v6", ip6, 128); !reflect.DeepEqual(got, want) {
				t.Fatalf("after neigh add (IPv6): rules %q, want %q", got, want)
			}
			h.Ping(t, r.lan.Internet4, 1000, 10)
			h.Ping(t, r.lan.Internet6, 1000, 10)

			mustRun(t, "neigh remove", r.hotplug(t, "neigh", "ACTION=remove", "MACADDR="+mac, "IPADDR="+ip4))
			if got := r.hostRules(t, ip4); len(got) != 0 {
				t.Fatalf("after neigh remove: rules %q remain", got)
			}
			mustRun(t, "neigh remove v6", r.hotplug(t, "neigh", "ACTION=remove", "MACADDR="+mac, "IPADDR="+ip6))
			if got := r.hostRules(t, ip6); len(got) != 0 {
				t.Fatalf("after neigh remove (IPv6): rules %q remain", got)
			}
			want := uint64(10280 + 10480)
			if got := r.usage(t).host(mac); got.UploadBytes != want || got.DownloadBytes != want {
				t.Fatalf("after remove: %+v, want %d bytes each way kept", got, want)
			}

			// Nothing to do: unknown actions, missing variables.
			rules, db := r.save(t), r.dbState(t)
			for _, env := range [][]string{
				{"ACTION=update", "MACADDR=" + mac, "IPADDR=" + ip4},
				{"ACTION=bind", "MACADDR=" + mac, "IPADDR=" + ip4},
				{"MACADDR=" + mac, "IPADDR=" + ip4},
				{"ACTION=add", "IPADDR=" + ip4},
				{"ACTION=add", "MACADDR=" + mac},
				{"ACTION=add", "MACADDR=", "IPADDR=" + ip4},
			} {
				if res := r.hotplug(t, "neigh", env...); res.code != 0 || res.stderr != "" {
					t.Errorf("%q: exit %d, stderr %q; want a quiet no-op", env, res.code, res.stderr)
				}
			}
			if after := r.save(t); after != rules {
				t.Errorf("no-op events changed the rules:\n%s", after)
			}
			if after := r.dbState(t); !reflect.DeepEqual(after, db) {
				t.Error("no-op events changed the ledger")
			}
		})
	}
}

// TestHotplugDHCP: a lease gives the host its rules and its name; update
// renames; remove only collects.
func TestHotplugDHCP(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 1)
			h := r.lan.Hosts[0]
			mac, ip4 := h.MAC.String(), h.IP4.String()
			mustRun(t, "dhcp add", r.hotplug(t, "dhcp", "ACTION=add", "MACADDR="+mac, "IPADDR="+ip4, "HOSTNAME=laptop"))
			if got, want := r.hostRules(t, ip4), wantHostRules("v4", ip4, 32); !reflect.DeepEqual(got, want) {
				t.Fatalf("after dhcp add: rules %q, want %q", got, want)
			}
			if got := r.usage(t).host(mac).Hostname; got != "laptop" {
				t.Fatalf("hostname %q after dhcp add, want laptop", got)
			}
			h.Ping(t, r.lan.Internet4, 1000, 10)
			mustRun(t, "dhcp update", r.hotplug(t, "dhcp", "ACTION=update", "MACADDR="+mac, "IPADDR="+ip4, "HOSTNAME=laptop-2"))
			if got := r.usage(t).host(mac).Hostname; got != "laptop-2" {
				t.Errorf("hostname %q after dhcp update, want laptop-2", got)
			}
			// procd drops empty variables: a lease without a name has no
			// HOSTNAME, and busybox ash then sets it to the router's own name
			// (unexported), which must not become the device's name.
			mustRun(t, "dhcp update, no name", r.hotplug(t, "dhcp", "ACTION=update", "MACADDR="+mac, "IPADDR="+ip4))
			mustRun(t, "dhcp remove", r.hotplug(t, "dhcp", "ACTION=remove", "MACADDR="+mac, "IPADDR="+ip4, "HOSTNAME=laptop-2"))
			if got, want := r.hostRules(t, ip4), wantHostRules("v4", ip4, 32); !reflect.DeepEqual(got, want) {
				t.Errorf("dhcp remove changed the rules: %q (the host may still be there)", got)
			}
			got := r.usage(t).host(mac)
			if got.UploadBytes != 10280 || got.DownloadBytes != 10280 || got.Hostname != "laptop-2" {
				t.Errorf("after remove: %+v, want 10280 bytes each way and the name laptop-2", got)
			}
		})
	}
}

// TestHotplugHostileEnv: hostile event values reach the binary only as
// arguments, which it refuses: no rule, no ledger, nothing executed. A
// variable the sender adds to the event (procd passes on any it does not
// have itself) does not reach the binary.
func TestHotplugHostileEnv(t *testing.T) {
	r := newRig(t, "legacy", 1)
	h := r.lan.Hosts[0]
	mac, ip := h.MAC.String(), h.IP4.String()
	pwned := filepath.Join(t.TempDir(), "PWNED")
	touch := "touch " + pwned
	type ev struct {
		sub  string
		env  []string
		exit int
	}
	cases := []ev{
		{"neigh", []string{"ACTION=add", "MACADDR=$(" + touch + ")", "IPADDR=" + ip}, 2},
		{"neigh", []string{"ACTION=add", "MACADDR=`" + touch + "`", "IPADDR=" + ip}, 2},
		{"neigh", []string{"ACTION=add", "MACADDR=" + mac + ";" + touch, "IPADDR=" + ip}, 2},
		{"neigh", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=-j DROP"}, 2},
		{"neigh", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=" + ip + " -j DROP"}, 2},
		{"neigh", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=" + ip + "\n" + touch}, 2},
		{"neigh", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=10.77.0.0/24"}, 2},
		{"neigh", []string{"ACTION=remove", "MACADDR=--flush", "IPADDR=" + ip}, 2},
		{"neigh", []string{"ACTION=add;" + touch, "MACADDR=" + mac, "IPADDR=" + ip}, 0},
		{"neigh", []string{"ACTION=$(" + touch + ")", "MACADDR=" + mac, "IPADDR=" + ip}, 0},
		{"dhcp", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=" + ip, "HOSTNAME=lap\"top'$(" + touch + ")"}, 2},
		{"dhcp", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=" + ip, "HOSTNAME=laptop\n" + touch}, 2},
		{"dhcp", []string{"ACTION=add", "MACADDR=" + mac, "IPADDR=$(" + touch + ")", "HOSTNAME=laptop"}, 2},
		{"dhcp", []string{"ACTION=remove", "MACADDR=-j", "IPADDR=DROP"}, 2},
	}
	rules, db := r.save(t), r.dbState(t)
	for _, c := range cases {
		res := r.hotplug(t, c.sub, c.env...)
		if res.code != c.exit {
			t.Errorf("%s %q: exit %d, want %d (stderr %q)", c.sub, c.env, res.code, c.exit, res.stderr)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("%s %q: a value was executed by a shell", c.sub, c.env)
		}
	}
	if after := r.save(t); after != rules {
		t.Errorf("hostile events changed the rules:\n%s", after)
	}
	if after := r.dbState(t); !reflect.DeepEqual(after, db) {
		t.Errorf("hostile events changed the ledger: %v", after)
	}

	// A name with shell syntax but no character the binary refuses is a
	// name like any other: it arrives literally, nothing is run.
	literal := "`" + touch + "`$(" + touch + ")${PATH}"
	mustRun(t, "dhcp add, shell syntax in the name", r.hotplug(t, "dhcp", "ACTION=add", "MACADDR="+mac, "IPADDR="+ip, "HOSTNAME="+literal))
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("the host name was executed by a shell")
	}
	if got := r.usage(t).host(mac).Hostname; got != literal {
		t.Errorf("hostname %q, want the literal %q", got, literal)
	}

	// A sender-chosen settings directory would choose the ledger, lock and
	// PID file paths of a root process: it must not reach the binary.
	evil := t.TempDir()
	cfg := fmt.Sprintf("config transferometer 'main'\n\toption db_dir '%s/db'\n\toption lock_dir '%s/lock'\n\toption pid_file '%s/transferometer.pid'\n\tlist subnet '%s'\n",
		evil, evil, evil, r.lan.LAN4)
	if err := os.WriteFile(filepath.Join(evil, "transferometer"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "neigh add with injected variables", r.hotplug(t, "neigh", "ACTION=add", "MACADDR="+mac, "IPADDR="+ip,
		"TRANSFEROMETER_CONFIG_DIR="+evil, "GODEBUG=panicnil=1"))
	for _, p := range []string{"db", "lock", "pid"} {
		if _, err := os.Stat(filepath.Join(evil, p)); err == nil {
			t.Errorf("the injected TRANSFEROMETER_CONFIG_DIR was used: %s/%s exists", evil, p)
		}
	}
	if got, want := r.hostRules(t, ip), wantHostRules("v4", ip, 32); !reflect.DeepEqual(got, want) {
		t.Errorf("rules %q, want %q (from /etc/config/transferometer)", got, want)
	}
}

// TestFirewallIncludeRestoresAccounting: on 21.02, `fw3 restart` flushes
// every chain of the mangle table and deletes the user chains (both
// families); the firewall include, run as fw3 runs it, brings the chains and
// the host's rules back, and accounting goes on exactly: old bytes kept, new
// bytes counted. A reload runs it again on intact rules: nothing changes.
func TestFirewallIncludeRestoresAccounting(t *testing.T) {
	r := newRig(t, "legacy", 1) // fw3 is iptables-legacy
	h := r.lan.Hosts[0]
	mac := h.MAC.String()
	r.ok(t, "arp-add", mac, h.IP4.String())
	r.ok(t, "arp-add", mac, h.IP6.String())
	h.Ping(t, r.lan.Internet4, 1000, 10)
	h.Ping(t, r.lan.Internet6, 1000, 10)
	round := uint64(10280 + 10480)
	if got := r.usage(t).host(mac); got.UploadBytes != round || got.DownloadBytes != round {
		t.Fatalf("before the flush: %+v, want %d each way", got, round)
	}
	before := r.ruleLines(t)
	sort.Strings(before)

	for _, v6 := range []bool{false, true} { // fw3_flush_all() on the mangle table
		r.lan.Run(t, r.lan.Router, r.lan.IPTables(v6), "-t", "mangle", "-F")
		r.lan.Run(t, r.lan.Router, r.lan.IPTables(v6), "-t", "mangle", "-X")
	}
	if l := r.ruleLines(t); len(l) != 0 {
		t.Fatalf("flush left rules: %q", l)
	}
	mustRun(t, "firewall include after the flush", r.fwInclude(t))
	after := r.ruleLines(t)
	sort.Strings(after)
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("rules after the include:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	h.Ping(t, r.lan.Internet4, 1000, 10)
	h.Ping(t, r.lan.Internet6, 1000, 10)
	if got := r.usage(t).host(mac); got.UploadBytes != 2*round || got.DownloadBytes != 2*round {
		t.Fatalf("after flush, include and more traffic: %+v, want %d each way", got, 2*round)
	}

	// fw3 reload (reload '1'): the include runs with our rules in place.
	mustRun(t, "firewall include on reload", r.fwInclude(t))
	again := r.ruleLines(t)
	sort.Strings(again)
	if !reflect.DeepEqual(again, before) {
		t.Fatalf("rules after a second include:\n%s", strings.Join(again, "\n"))
	}
	h.Ping(t, r.lan.Internet4, 500, 7)
	if got := r.usage(t).host(mac); got.UploadBytes != 2*round+3696 || got.DownloadBytes != 2*round+3696 {
		t.Fatalf("after reload and more traffic: %+v, want %d each way", got, 2*round+3696)
	}
}

// fakeUCI is a stand-in for the uci command, enough for the uci-defaults
// script: get, set, delete and commit on a KEY=VALUE file ($FAKE_UCI); every
// change and commit is logged to $FAKE_UCI.log.
const fakeUCI = `#!/bin/sh
[ "$1" = -q ] && shift
log() { printf '%s\n' "$*" >> "$FAKE_UCI.log"; }
touch "$FAKE_UCI"
case "$1" in
get)
	v=$(grep -F -e "$2=" "$FAKE_UCI" | grep -e "^$2=" | head -n 1)
	[ -n "$v" ] || exit 1
	printf '%s\n' "${v#*=}"
	;;
set)
	grep -v -F -e "${2%%=*}=" "$FAKE_UCI" > "$FAKE_UCI.new" || true
	printf '%s\n' "$2" >> "$FAKE_UCI.new"
	mv "$FAKE_UCI.new" "$FAKE_UCI"
	log "set $2"
	;;
delete)
	grep -v -F -e "$2=" -e "$2." "$FAKE_UCI" > "$FAKE_UCI.new" || true
	mv "$FAKE_UCI.new" "$FAKE_UCI"
	log "delete $2"
	;;
commit)
	log "commit $2"
	;;
*)
	exit 1
	;;
esac
`

// TestFirewallUCIDefaults: the uci-defaults script, run as /etc/init.d/boot
// (and default_postinst) run it, adds the firewall include on fw3 once, and
// on fw4 (which ships a /sbin/fw3 link too) adds nothing and removes an
// include left by fw3.
func TestFirewallUCIDefaults(t *testing.T) {
	if _, err := os.Stat("/sbin/fw3"); err == nil {
		// The router's file system is this machine's with the files
		// above on top: a firewall of its own would mix with the fakes.
		// CI's Debian has none.
		testlan.SkipOrFail(t, "this machine has /sbin/fw3")
	}
	r := newRig(t, "", 1)
	dir := t.TempDir()
	state := filepath.Join(dir, "uci-state")
	files := map[string]string{
		"uci":      fakeUCI,
		"fw3":      "#!/bin/sh\nexit 0\n",
		"firewall": "config defaults\n\toption input 'ACCEPT'\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base := []sysFile{
		{dest: "/usr/bin/uci", mode: 0o755, src: filepath.Join(dir, "uci")},
		{dest: "/etc/config/firewall", mode: 0o644, src: filepath.Join(dir, "firewall")},
	}
	fw3 := sysFile{dest: "/sbin/fw3", mode: 0o755, src: filepath.Join(dir, "fw3")}
	// firewall4 also installs /sbin/fw3 (a link to fw4): fw4 must win.
	fw4 := sysFile{dest: "/sbin/fw4", mode: 0o755, src: filepath.Join(dir, "fw3")}
	run := func(extra ...sysFile) {
		t.Helper()
		argv := append([]string{"PATH=" + procdPath, "FAKE_UCI=" + state}, routerShell()...)
		res := r.onRouter(t, append(base, extra...), append(argv, "-c", `. /lib/functions.sh
cd /etc/uci-defaults || exit 1
( . ./90-transferometer ) && rm -f ./90-transferometer || exit 1
[ ! -e 90-transferometer ]`)...)
		mustRun(t, "uci-defaults", res)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(b)
	}
	const include = "/usr/share/transferometer/firewall.include"
	wantState := "firewall.transferometer=include\nfirewall.transferometer.type=script\n" +
		"firewall.transferometer.path=" + include + "\nfirewall.transferometer.reload=1\n"

	run(fw3)
	if got := read("uci-state"); got != wantState {
		t.Fatalf("fw3: uci state\n%s\nwant\n%s", got, wantState)
	}
	if got := read("uci-state.log"); !strings.HasSuffix(got, "commit firewall\n") || strings.Count(got, "commit") != 1 {
		t.Fatalf("fw3: uci log %q, want one commit of firewall", got)
	}
	log := read("uci-state.log")
	run(fw3) // again: already there, nothing changes
	if read("uci-state") != wantState || read("uci-state.log") != log {
		t.Fatalf("fw3, second run changed something: %q", read("uci-state.log"))
	}

	run(fw3, fw4) // fw4 (with its fw3 link): the include left from fw3 goes
	if got := read("uci-state"); got != "" {
		t.Fatalf("fw4: uci state %q, want the include removed", got)
	}
	if got := read("uci-state.log"); got != log+"delete firewall.transferometer\ncommit firewall\n" {
		t.Fatalf("fw4: uci log %q", got)
	}

	// fw4, a user's own include of that name: left alone.
	own := "firewall.transferometer=include\nfirewall.transferometer.path=/etc/mine.sh\n"
	if err := os.WriteFile(state, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	log = read("uci-state.log")
	run(fw3, fw4)
	if read("uci-state") != own || read("uci-state.log") != log {
		t.Fatalf("fw4 changed a foreign include: %q", read("uci-state.log"))
	}
}

// TestShellInitScript: start_service, run with procd's API stubbed,
// registers the daemon with procd (command, respawn, logging) when enabled
// and nothing when disabled; the reload trigger, reload and boot are wired.
func TestShellInitScript(t *testing.T) {
	root := repoRoot(t)
	initScript := filepath.Join(root, "files/etc/init.d/transferometer")
	fn, err := filepath.Abs("testdata/functions.sh")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(initScript)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "#!/bin/sh /etc/rc.common\n") {
		t.Errorf("init script must start with #!/bin/sh /etc/rc.common")
	}
	const stubs = `
procd_open_instance() { echo "procd_open_instance $*"; }
procd_set_param() { echo "procd_set_param $*"; }
procd_close_instance() { echo "procd_close_instance"; }
procd_add_reload_trigger() { echo "procd_add_reload_trigger $*"; }
restart() { echo "restart $*"; }
start() { echo "start $*"; }
`
	instance := "procd_open_instance \n" +
		"procd_set_param command /usr/sbin/transferometer daemon\n" +
		"procd_set_param respawn 3600 5 5\n" +
		"procd_set_param term_timeout 20\n" +
		"procd_set_param stdout 1\n" +
		"procd_set_param stderr 1\n" +
		"procd_close_instance\n"
	tail := "procd_add_reload_trigger transferometer firewall\nrestart \nstart boot-arg\nSTART=95 STOP=10 USE_PROCD=1\n"
	shells := [][]string{{"/bin/sh"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh"})
	}
	for _, sh := range shells {
		for _, c := range []struct{ enabled, want string }{
			{"", instance}, {"1", instance}, {"yes", instance}, {"on", instance},
			{"0", ""}, {"off", ""}, {"no", ""}, {"disabled", ""},
		} {
			script := ". " + fn + "\n" + stubs + ". " + initScript + "\n" +
				"start_service\nservice_triggers\nreload_service\nboot boot-arg\n" +
				`echo "START=$START STOP=$STOP USE_PROCD=$USE_PROCD"` + "\n"
			cmd := exec.Command(sh[0], append(sh[1:], "-c", script)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			if c.enabled != "" {
				cmd.Env = append(cmd.Env, "CONFIG_main_enabled="+c.enabled)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v enabled=%q: %v\n%s", sh, c.enabled, err, out)
			}
			if got, want := string(out), c.want+tail; got != want {
				t.Errorf("%v enabled=%q:\n%s\nwant:\n%s", sh, c.enabled, got, want)
			}
		}
	}
}
