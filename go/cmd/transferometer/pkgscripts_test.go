package main

// The packages' maintainer scripts run as a router runs them: in a root of
// their own (chroot) with busybox as /bin/sh, the package's real files (the
// real binary included) and test stand-ins for what OpenWrt provides around
// them: base-files' default_postinst/default_prerm (which enable and start,
// or disable and stop, the package's init scripts), rc.common with procd
// reduced to `ubus call service set/delete`, and a ubus that keeps procd's
// service list in a file and fails like procd ("Command failed: ... (Not
// found)") when a service that is not registered is deleted. The apk
// packages are installed and removed by apk-tools 3 itself, which runs the
// scripts chrooted; the .ipk's prerm and postrm are run as opkg runs them.
// Everything runs in a network namespace of its own (unshare -n), so the
// binary's teardown cannot touch this machine's firewall.
//
// What is checked: install, upgrade and removal print nothing; the service
// is started on install, stopped and its procd entry gone after removal,
// for a running, a stopped and a never-started service; rpcd is reloaded
// after the plugin is gone.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// Stand-ins, test-only, never shipped. Each logs what it was asked to do to
// /tmp/calls inside the root.
var routerStandIns = map[string]string{
	// procd's service list over ubus: set registers (and replaces the
	// instances of) a service, delete removes it and fails for an unknown
	// one exactly as the ubus CLI reports procd's UBUS_STATUS_NOT_FOUND.
	"/bin/ubus": `#!/bin/sh
echo "ubus $*" >> /tmp/calls
[ "$1" = call ] && [ "$2" = service ] || exit 0
name=$(echo "$4" | sed -n 's/.*"name": *"\([^"]*\)".*/\1/p')
case $3 in
set)
	mkdir -p /tmp/procd
	echo "$4" > "/tmp/procd/$name"
	;;
delete)
	if [ ! -f "/tmp/procd/$name" ]; then
		echo "Command failed: ubus call service delete $4 (Not found)" >&2
		exit 4
	fi
	rm -f "/tmp/procd/$name"
	;;
esac
exit 0
`,
	"/sbin/uci": `#!/bin/sh
echo "uci $*" >> /tmp/calls
exit 1
`,
	// fw4 present: the binary's backend auto is nftables (netlink, in the
	// test's own network namespace).
	"/sbin/fw4": "#!/bin/sh\nexit 0\n",
	"/etc/init.d/rpcd": `#!/bin/sh
if [ -e /usr/libexec/rpcd/transferometer ]; then p=present; else p=gone; fi
echo "rpcd $1 plugin $p" >> /tmp/calls
`,
	"/etc/init.d/dnsmasq": "#!/bin/sh\necho \"dnsmasq $1\" >> /tmp/calls\n",
	// rc.common with USE_PROCD, reduced to what our init script uses: start
	// sends the service with its instance (or none, when start_service
	// opens none), stop deletes it, enable/disable link it in /etc/rc.d.
	"/etc/rc.common": `#!/bin/sh
. /lib/functions.sh
initscript=$1
action=$2
shift 2
name=${initscript##*/}
start_service() { return 0; }
stop_service() { return 0; }
service_triggers() { return 0; }
. "$initscript"
procd_open_instance() { _instance=1; }
procd_set_param() { :; }
procd_close_instance() { :; }
procd_add_reload_trigger() { :; }
start() {
	_instance=
	start_service
	if [ -n "$_instance" ]; then
		ubus call service set "{ \"name\": \"$name\", \"instances\": { \"instance1\": { } } }"
	else
		ubus call service set "{ \"name\": \"$name\", \"instances\": { } }"
	fi
}
stop() {
	stop_service
	ubus call service delete "{ \"name\": \"$name\" }"
}
case $action in
start) start ;;
stop) stop ;;
restart) stop; start ;;
enable) echo "enable $name" >> /tmp/calls; mkdir -p /etc/rc.d; ln -sf "../init.d/$name" "/etc/rc.d/S${START}$name" ;;
disable) echo "disable $name" >> /tmp/calls; rm -f /etc/rc.d/S??"$name" ;;
esac
`,
	// base-files' /lib/functions.sh, reduced to what maintainer scripts use:
	// default_postinst runs the uci-defaults scripts, opkg's postinst-pkg,
	// then enables (unless upgrading) and starts each init script of the
	// package's file list; default_prerm runs opkg's prerm-pkg, then
	// disables (unless upgrading) and stops each. Under apk the package's
	// own blocks follow these in the same script instead.
	"/lib/functions.sh": `
config_load() { return 0; }
config_get_bool() { eval "$1=\${CONFIG_main_enabled:-$4}"; }
add_group_and_user() { return 0; }
_filelist() {
	if [ -f "/lib/apk/packages/$pkgname.list" ]; then
		echo "/lib/apk/packages/$pkgname.list"
	else
		echo "/usr/lib/opkg/info/$pkgname.list"
	fi
}
default_postinst() {
	[ -z "$pkgname" ] && local pkgname="$(basename ${1%.*})"
	local filelist="$(_filelist)" ret=0 i
	for i in $(grep -s "^/etc/uci-defaults/" "$filelist"); do
		( [ -f "$i" ] && cd "$(dirname $i)" && . "$i" ) && rm -f "$i"
	done
	if [ -f "/usr/lib/opkg/info/$pkgname.postinst-pkg" ]; then
		( . "/usr/lib/opkg/info/$pkgname.postinst-pkg" )
		ret=$?
	fi
	for i in $(grep -s "^/etc/init.d/" "$filelist"); do
		[ "$PKG_UPGRADE" = "1" ] || "$i" enable
		"$i" start
	done
	return $ret
}
default_prerm() {
	[ -z "$pkgname" ] && local pkgname="$(basename ${1%.*})"
	local filelist="$(_filelist)" ret=0 i
	if [ -f "/usr/lib/opkg/info/$pkgname.prerm-pkg" ]; then
		( . "/usr/lib/opkg/info/$pkgname.prerm-pkg" )
		ret=$?
	fi
	for i in $(grep -s "^/etc/init.d/" "$filelist"); do
		[ "$PKG_UPGRADE" = "1" ] || "$i" disable
		"$i" stop
	done
	return $ret
}
`,
}

// routerRoot makes a root with busybox (and its libraries) as /bin/sh and
// every applet, and the stand-ins.
func routerRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "running maintainer scripts in a chroot needs root")
	}
	testlan.RequireTools(t, "busybox", "unshare", "chroot", "ldd")
	r := t.TempDir()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	copyIn := func(src, dst string, mode os.FileMode) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(r, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r, dst), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	copyIn(bb, "/bin/busybox", 0o755)
	// A dynamically linked busybox (Debian's) brings its libraries; ldd
	// fails for a static one, which needs none.
	out, err := exec.Command("ldd", bb).Output()
	if err != nil {
		out = nil
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		for _, w := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(w, "/") {
				copyIn(w, w, 0o755)
			}
		}
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(list)) {
		if _, stub := routerStandIns["/bin/"+a]; stub {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(r, "bin", a)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	for p, body := range routerStandIns {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(r, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r, p), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "var/run", "usr/bin", "usr/sbin", "dev"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// /dev/null (character device 1:3), which the scripts redirect to.
	if err := syscall.Mknod(filepath.Join(r, "dev", "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Fatal(err)
	}
	return r
}

// calls reads and empties the root's call log.
func calls(t *testing.T, r string) []string {
	t.Helper()
	p := filepath.Join(r, "tmp", "calls")
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(p)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// registered: whether procd (the stand-in) has the service.
func registered(r string) bool {
	_, err := os.Stat(filepath.Join(r, "tmp", "procd", "transferometer"))
	return err == nil
}

// inOrder: each of want appears in got, in this order.
func inOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && strings.HasPrefix(g, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: calls %q, want in this order %q (missing %q)", what, got, want, want[i])
	}
}

// quietAPK: apk's own progress lines only; script output (apk prefixes it
// with "* ") or errors are failures.
func quietAPK(t *testing.T, what, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "* ") || strings.Contains(l, "ERROR") || strings.Contains(l, "WARNING") {
			t.Errorf("%s printed %q; full output:\n%s", what, l, out)
		}
	}
}

func TestAPKScriptsOnRouter(t *testing.T) {
	apk := apkOracle(t)
	dist, build := t.TempDir(), t.TempDir()
	buildAPKs(t, dist, build, "x86_64")
	stand := standIns(t, apk, "libc", "kmod-nft-core", "luci-base")
	version := apkVersion(t)
	pkgs := []string{filepath.Join(dist, "x86_64", "transferometer-"+version+".apk"), filepath.Join(dist, "x86_64", "luci-app-transferometer-"+version+".apk")}
	apkRun := func(r string, args ...string) string { t.Helper(); return apkScripts(t, apk, r, args...) }
	install := func(t *testing.T, pkgs []string) string {
		r := routerRoot(t)
		out := apkRun(r, append(append([]string{"add", "--initdb"}, stand...), pkgs...)...)
		quietAPK(t, "install", out)
		inOrder(t, "install", calls(t, r), []string{"enable transferometer", "ubus call service set", "rpcd reload plugin present", "dnsmasq restart"})
		if !registered(r) {
			t.Error("install: the service was not started")
		}
		if _, err := os.Stat(filepath.Join(r, "etc/uci-defaults/90-transferometer")); !os.IsNotExist(err) {
			t.Errorf("install: the uci-defaults script did not run (it is still there: %v)", err)
		}
		return r
	}
	remove := func(t *testing.T, r string) string {
		out := apkRun(r, "del", "transferometer", "luci-app-transferometer")
		got := calls(t, r)
		inOrder(t, "removal", got, []string{"disable transferometer", "ubus call service delete", "rpcd reload plugin gone"})
		if registered(r) {
			t.Error("removal: procd still lists the service")
		}
		if _, err := os.Stat(filepath.Join(r, "usr/sbin/transferometer")); !os.IsNotExist(err) {
			t.Errorf("removal: the binary is still there (%v)", err)
		}
		return out
	}

	t.Run("running", func(t *testing.T) {
		r := install(t, pkgs)
		quietAPK(t, "removal", remove(t, r))
	})
	// An upgrade from an older build: post-upgrade restarts the daemon (a
	// delete, then a set with the instance), neither disables nor restarts
	// dnsmasq, and prints nothing.
	t.Run("upgrade", func(t *testing.T) {
		old := t.TempDir()
		cmd := exec.Command(filepath.Join(build, "mkapk"), "apk", "-root", repoRoot(t), "-out", old, "-epoch", "1",
			"-version", "0.0.9-r1", "x86_64="+filepath.Join(build, "x86_64", "transferometer"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("older build: %v\n%s", err, out)
		}
		r := install(t, []string{filepath.Join(old, "x86_64", "transferometer-0.0.9-r1.apk")})
		out := apkRun(r, "add", pkgs[0])
		quietAPK(t, "upgrade", out)
		got := calls(t, r)
		inOrder(t, "upgrade", got, []string{"ubus call service delete", "ubus call service set", "rpcd reload plugin present"})
		for _, g := range got {
			if strings.HasPrefix(g, "disable") || strings.HasPrefix(g, "dnsmasq") {
				t.Errorf("upgrade: %q", g)
			}
		}
		if !registered(r) {
			t.Errorf("after the upgrade the service is not running: calls %q", got)
		}
	})
	// Stopped by hand before the removal: base-files' default_prerm stops
	// it again before our block runs (apk appends the block), and that stop
	// is what prints ubus' "Not found"; our part adds nothing.
	t.Run("stopped", func(t *testing.T) {
		r := install(t, pkgs)
		if err := os.Remove(filepath.Join(r, "tmp", "procd", "transferometer")); err != nil {
			t.Fatal(err)
		}
		out := remove(t, r)
		t.Logf("apk del of a stopped service:\n%s", out)
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "* ") && !strings.Contains(l, "Command failed: ubus call service delete") {
				t.Errorf("removal of a stopped service printed %q", l)
			}
		}
	})
}

func TestIPKScriptsOnRouter(t *testing.T) {
	dist := t.TempDir()
	buildIPKs(t, dist, t.TempDir(), "x86_64")
	mk := filepath.Join(repoRoot(t), "Makefile")
	version := makeVar(t, mk, "PKG_VERSION") + "-" + makeVar(t, mk, "PKG_RELEASE")
	control, data, _ := ipkParts(t, filepath.Join(dist, "transferometer_"+version+"_x86_64.ipk"))

	// The package as opkg leaves it installed: the data tree, the control
	// members as /usr/lib/opkg/info/transferometer.*, the file list.
	install := func(t *testing.T) string {
		r := routerRoot(t)
		info := filepath.Join(r, "usr/lib/opkg/info")
		if err := os.MkdirAll(info, 0o755); err != nil {
			t.Fatal(err)
		}
		var list []string
		for _, m := range data {
			p := filepath.Join(r, m.hdr.Name)
			switch m.hdr.Typeflag {
			case '5':
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
			case '2':
				if err := os.Symlink(m.hdr.Linkname, p); err != nil {
					t.Fatal(err)
				}
				list = append(list, strings.TrimPrefix(m.hdr.Name, "."))
			default:
				if err := os.WriteFile(p, m.data, os.FileMode(m.hdr.Mode)&0o7777); err != nil {
					t.Fatal(err)
				}
				list = append(list, strings.TrimPrefix(m.hdr.Name, "."))
			}
		}
		for _, m := range control {
			if m.hdr.Typeflag == '5' {
				continue
			}
			name := "transferometer." + strings.TrimPrefix(m.hdr.Name, "./")
			if err := os.WriteFile(filepath.Join(info, name), m.data, os.FileMode(m.hdr.Mode)&0o7777); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(info, "transferometer.list"), []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// run runs a maintainer script as opkg does: /bin/sh SCRIPT ACTION in
	// the root, PATH as procd's, in a network namespace of its own.
	run := func(t *testing.T, r, script, action string, env ...string) string {
		cmd := exec.Command("unshare", "--net", "--", "chroot", r, "/bin/sh", "/usr/lib/opkg/info/transferometer."+script, action)
		cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s %s: %v\n%s", script, action, err, out)
		}
		return string(out)
	}

	for _, c := range []struct {
		name  string
		setup func(t *testing.T, r string)
	}{
		{"running", func(t *testing.T, r string) {
			if out := run(t, r, "postinst", "configure"); out != "" {
				t.Errorf("postinst printed %q", out)
			}
			inOrder(t, "postinst", calls(t, r), []string{"rpcd reload plugin present", "dnsmasq restart", "enable transferometer", "ubus call service set"})
			if !registered(r) {
				t.Fatal("postinst did not start the service")
			}
		}},
		{"stopped", func(t *testing.T, r string) {
			run(t, r, "postinst", "configure")
			os.Remove(filepath.Join(r, "tmp", "procd", "transferometer"))
			calls(t, r)
		}},
		{"never-started", func(t *testing.T, r string) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := install(t)
			c.setup(t, r)
			if out := run(t, r, "prerm", "remove"); out != "" {
				t.Errorf("prerm printed %q", out)
			}
			inOrder(t, "prerm", calls(t, r), []string{"ubus call service set", "disable transferometer", "ubus call service delete"})
			if registered(r) {
				t.Error("after prerm procd still lists the service")
			}
			// opkg removes the files, then runs postrm.
			for _, p := range []string{"usr/libexec/rpcd/transferometer", "usr/sbin/transferometer"} {
				os.Remove(filepath.Join(r, p))
			}
			if out := run(t, r, "postrm", "remove"); out != "" {
				t.Errorf("postrm printed %q", out)
			}
			inOrder(t, "postrm", calls(t, r), []string{"rpcd reload plugin gone"})
		})
	}

	// An upgrade: prerm and postinst with PKG_UPGRADE=1 restart the daemon
	// and keep it enabled, quietly.
	t.Run("upgrade", func(t *testing.T) {
		r := install(t)
		run(t, r, "postinst", "configure")
		calls(t, r)
		for _, s := range []string{"prerm", "postinst"} {
			if out := run(t, r, s, "upgrade", "PKG_UPGRADE=1"); out != "" {
				t.Errorf("%s on upgrade printed %q", s, out)
			}
		}
		got := calls(t, r)
		for _, g := range got {
			if strings.HasPrefix(g, "disable") || strings.HasPrefix(g, "dnsmasq") {
				t.Errorf("upgrade: %q", g)
			}
		}
		if !registered(r) {
			t.Errorf("after the upgrade the service is not running: calls %q", got)
		}
	})
}

// apkScripts runs apk on the router root r with its package scripts (no
// --no-scripts), in a network namespace of its own: a script that
// reached for the network would find none.
func apkScripts(t *testing.T, apk, r string, args ...string) string {
	t.Helper()
	argv := append([]string{"--net", "--", apk, "--root", r, "--no-network", "--allow-untrusted", "--arch", "x86_64"}, args...)
	out, err := exec.Command("unshare", argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("apk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
