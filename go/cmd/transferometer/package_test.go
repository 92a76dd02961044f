package main

// Tests of the OpenWrt package as the repository defines it: files.manifest
// (the one list of the data tree), every shipped shell file, and the
// top-level Makefile run as an OpenWrt buildroot runs it. The built
// packages are tested in ipk_test.go (.ipk, opkg) and apk_test.go (.apk,
// apk-tools 3).

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "files.manifest")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return p
}

// manifestEntry is one line of files.manifest: MODE SRC DEST. MODE `link`
// (link set, mode 0): SRC is a symlink in the repository, installed at DEST
// as a symlink with the same target.
type manifestEntry struct {
	mode      os.FileMode
	link      bool
	src, dest string
	line      int
}

const binToken = "@transferometer" // SRC of the binary built from go/

func readManifest(t testing.TB) []manifestEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "files.manifest"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []manifestEntry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("files.manifest:%d: want MODE SRC DEST, got %q", n, line)
		}
		if fields[0] == "link" {
			out = append(out, manifestEntry{link: true, src: fields[1], dest: fields[2], line: n})
			continue
		}
		mode, err := strconv.ParseUint(fields[0], 8, 32)
		if err != nil || (mode != 0o644 && mode != 0o755) {
			t.Fatalf("files.manifest:%d: mode %q: want 0644, 0755 or link", n, fields[0])
		}
		out = append(out, manifestEntry{mode: os.FileMode(mode), src: fields[1], dest: fields[2], line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// shippedFiles lists the files and symlinks under files/ and rpcd/,
// relative to the root. Symlinks are listed, not followed (WalkDir does not
// follow them; a dangling one is fine).
func shippedFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	for _, top := range []string{"files", "rpcd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() && d.Type() != fs.ModeSymlink {
				return fmt.Errorf("%s: not a regular file or a symlink", p)
			}
			rel, err := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

// TestShellFiles: every shell file the package ships parses (sh -n, and
// busybox ash's when busybox is here: OpenWrt's /bin/sh), has the exec bits
// the manifest installs it with, and the scripts that handle outside values
// never eval. Symlinks (manifest `link` lines, TestManifest) are no shell
// files: the rpcd plugin is a symlink to the binary.
func TestShellFiles(t *testing.T) {
	root := repoRoot(t)
	modes := map[string]os.FileMode{}
	for _, e := range readManifest(t) {
		modes[e.src] = e.mode
	}
	shells := [][]string{{"sh", "-n"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh", "-n"})
	}
	mustBeExecutable := []string{
		"files/etc/init.d/transferometer",
		"files/etc/hotplug.d/neigh/50-transferometer",
		"files/etc/hotplug.d/dhcp/50-transferometer",
		"files/etc/uci-defaults/90-transferometer",
		"files/usr/share/transferometer/firewall.include",
	}
	for _, f := range mustBeExecutable {
		if modes[f] != 0o755 {
			t.Errorf("%s: manifest mode %o, want 0755", f, modes[f])
		}
	}
	for _, rel := range shippedFiles(t, root) {
		p := filepath.Join(root, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if want, ok := modes[rel]; ok && fi.Mode().Perm()&0o111 != want&0o111 {
			t.Errorf("%s: mode %o in the repository, installed as %o: exec bits differ", rel, fi.Mode().Perm(), want)
		}
		if strings.HasPrefix(rel, "files/etc/config/") {
			continue // UCI, not shell
		}
		for _, sh := range shells {
			out, err := exec.Command(sh[0], append(sh[1:], p)...).CombinedOutput()
			if err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), rel, err, out)
			}
		}
		if strings.Contains(rel, "hotplug.d/") || strings.HasSuffix(rel, ".include") {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); !strings.HasPrefix(l, "#") && strings.Contains(l, "eval") {
					t.Errorf("%s:%d: eval in a script that handles outside values: %q", rel, i+1, l)
				}
			}
		}
	}
}

// TestManifest: files.manifest names every file and symlink under files/ and
// rpcd/, each source exists (a regular file; for a `link` line a symlink to
// a clean absolute path), files/PATH goes to /PATH, the rpcd plugin is a
// symlink to the binary, and destinations are unique.
func TestManifest(t *testing.T) {
	root := repoRoot(t)
	entries := readManifest(t)
	listed := map[string]bool{}
	dests := map[string]bool{}
	bin := false
	for _, e := range entries {
		if dests[e.dest] {
			t.Errorf("files.manifest:%d: %s installed twice", e.line, e.dest)
		}
		dests[e.dest] = true
		if !strings.HasPrefix(e.dest, "/") || filepath.Clean(e.dest) != e.dest {
			t.Errorf("files.manifest:%d: destination %q is not a clean absolute path", e.line, e.dest)
		}
		switch {
		case e.src == binToken:
			bin = true
			if e.dest != "/usr/sbin/transferometer" || e.mode != 0o755 {
				t.Errorf("files.manifest:%d: the binary goes to /usr/sbin/transferometer, 0755", e.line)
			}
			continue
		case strings.HasPrefix(e.src, "files/"):
			if want := strings.TrimPrefix(e.src, "files"); e.dest != want {
				t.Errorf("files.manifest:%d: %s installed as %s, want %s", e.line, e.src, e.dest, want)
			}
		case e.src == "rpcd/transferometer":
			if e.dest != "/usr/libexec/rpcd/transferometer" {
				t.Errorf("files.manifest:%d: the rpcd plugin goes to /usr/libexec/rpcd/transferometer", e.line)
			}
			// rpcd runs it with argv[0] its own path, by which the binary
			// knows it is the plugin: no shell in between.
			if !e.link {
				t.Errorf("files.manifest:%d: the rpcd plugin is a link to /usr/sbin/transferometer", e.line)
			} else if target, err := os.Readlink(filepath.Join(root, e.src)); err != nil || target != "/usr/sbin/transferometer" {
				t.Errorf("files.manifest:%d: %s links to %q (%v), want /usr/sbin/transferometer", e.line, e.src, target, err)
			}
		default:
			t.Errorf("files.manifest:%d: source %q outside files/ and rpcd/", e.line, e.src)
		}
		if listed[e.src] {
			t.Errorf("files.manifest:%d: %s listed twice", e.line, e.src)
		}
		listed[e.src] = true
		fi, err := os.Lstat(filepath.Join(root, e.src))
		switch {
		case err != nil:
			t.Errorf("files.manifest:%d: source %s: %v", e.line, e.src, err)
		case e.link:
			if fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("files.manifest:%d: source %s: a link line, but not a symlink (%v)", e.line, e.src, fi.Mode())
				break
			}
			target, err := os.Readlink(filepath.Join(root, e.src))
			if err != nil || !strings.HasPrefix(target, "/") || filepath.Clean(target) != target {
				t.Errorf("files.manifest:%d: source %s links to %q (%v): want a clean absolute path", e.line, e.src, target, err)
			}
		case !fi.Mode().IsRegular():
			t.Errorf("files.manifest:%d: source %s: not a regular file (%v)", e.line, e.src, fi.Mode())
		}
	}
	if !bin {
		t.Error("files.manifest does not install the binary (" + binToken + ")")
	}
	for _, rel := range shippedFiles(t, root) {
		if !listed[rel] {
			t.Errorf("%s is not in files.manifest: the package would not install it", rel)
		}
	}
	if !dests["/etc/config/transferometer"] {
		t.Error("the default config is not installed")
	}
}

// TestManifestPackageMakefile runs the top-level Makefile as an OpenWrt
// buildroot would, with a stub TOPDIR: rules.mk, package.mk and
// golang-package.mk reduced to what the package uses, BuildPackage giving
// targets that run its Build/Prepare and Package/transferometer/install.
// Checks: the sources land with go.mod at the root of PKG_BUILD_DIR; the
// installed tree is exactly files.manifest (paths, modes, contents; link
// lines as symlinks with their source's target); the package fields are
// set. Without TOPDIR the developer targets are there.
func TestManifestPackageMakefile(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testlan.SkipOrFail(t, "no make")
	}
	root := repoRoot(t)
	topdir, dest, bindir := t.TempDir(), t.TempDir(), t.TempDir()
	stubs := map[string]string{
		"rules.mk": `INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build_dir
CP:=cp -fpR
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
`,
		// The real BuildPackage evaluates Package/NAME/install inside a
		// $(call) that $(eval) parses, then make expands the recipe: the
		// same two expansions as here.
		"include/package.mk": `PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
define Build/Prepare
	false
endef
define Stub/Targets
stub-prepare:
	rm -rf $(PKG_BUILD_DIR)
	mkdir -p $(PKG_BUILD_DIR)
	$(Build/Prepare)
	@echo 'PKG_BUILD_DIR=$(PKG_BUILD_DIR)'
stub-install:
	$(call Package/$(1)/install,$$(STUB_DEST))
stub-info:
	@echo 'SECTION=$(SECTION)'
	@echo 'CATEGORY=$(CATEGORY)'
	@echo 'TITLE=$(TITLE)'
	@echo 'DEPENDS=$(DEPENDS)'
	@echo 'CONFFILES=$(strip $(Package/$(1)/conffiles))'
	@echo 'GO_PKG=$(GO_PKG) GO_PKG_BUILD_PKG=$(GO_PKG_BUILD_PKG) GO_PKG_LDFLAGS_X=$(GO_PKG_LDFLAGS_X)'
	@echo 'PKG=$(PKG_NAME) $(PKG_VERSION)-$(PKG_RELEASE) $(PKG_LICENSE) build-depends=$(PKG_BUILD_DEPENDS)'
endef
define BuildPackage
  $(eval $(Package/$(1)))
  $(eval $(call Stub/Targets,$(1)))
endef
`,
		"feeds/packages/lang/golang/golang-package.mk": `GO_ARCH_DEPENDS:=@(aarch64||arm||mips||mipsel||x86_64)
GO_PKG_BUILD_BIN_DIR=$(STUB_BIN_DIR)
`,
	}
	for name, data := range stubs {
		p := filepath.Join(topdir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fakeBin := "\x7fELF fake transferometer binary\n"
	if err := os.WriteFile(filepath.Join(bindir, "transferometer"), []byte(fakeBin), 0o755); err != nil {
		t.Fatal(err)
	}
	makeRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-s", "-C", root}, args...)...)
		var env []string
		for _, kv := range os.Environ() { // not the jobserver of a make running this test
			if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	vars := []string{"TOPDIR=" + topdir, "STUB_DEST=" + dest, "STUB_BIN_DIR=" + bindir}

	out := makeRun(append(vars, "stub-prepare")...)
	build := ""
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "PKG_BUILD_DIR="); ok {
			build = v
		}
	}
	for _, f := range []string{"go.mod", "cmd/transferometer/main.go"} {
		if _, err := os.Stat(filepath.Join(build, f)); err != nil {
			t.Errorf("Build/Prepare: %s not at PKG_BUILD_DIR/%s (%v)", f, f, err)
		}
	}

	makeRun(append(vars, "stub-install")...)
	want := map[string]string{}
	for _, e := range readManifest(t) {
		src := filepath.Join(root, e.src)
		if e.link {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			want[e.dest] = "link " + target
			continue
		}
		if e.src == binToken {
			src = filepath.Join(bindir, "transferometer")
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want[e.dest] = fmt.Sprintf("%o %q", e.mode, b)
	}
	got := map[string]string{}
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		k := "/" + filepath.ToSlash(strings.TrimPrefix(p, dest+"/"))
		if d.Type() == fs.ModeSymlink {
			target, err := os.Readlink(p)
			got[k] = "link " + target
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("installed %s: %v, not a file, directory or symlink", k, fi.Mode())
		}
		b, err := os.ReadFile(p)
		got[k] = fmt.Sprintf("%o %q", fi.Mode().Perm(), b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("installed %s: %.80s, want %.80s", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("installed %s, which files.manifest does not list", k)
			}
		}
	}

	info := makeRun(append(vars, "stub-info")...)
	for _, w := range []string{
		"SECTION=net\n", "CATEGORY=Network\n", "TITLE=Per-host traffic accounting\n",
		"DEPENDS=@(aarch64||arm||mips||mipsel||x86_64) +kmod-nft-core\n",
		"CONFFILES=/etc/config/transferometer\n",
		"GO_PKG=github.com/transferometer/transferometer GO_PKG_BUILD_PKG=github.com/transferometer/transferometer/cmd/transferometer GO_PKG_LDFLAGS_X=main.version=",
		"build-depends=golang/host\n",
	} {
		if !strings.Contains(info, w) {
			t.Errorf("package fields: %q missing in\n%s", w, info)
		}
	}

	// Without TOPDIR: the developer targets.
	dry := makeRun("-n", "build", "cross", "test-cross")
	for _, w := range []string{"go build", "GOARCH=mipsle GOMIPS=softfloat", "GOARCH=mips GOMIPS=softfloat",
		"GOARCH=arm GOARM=7", "GOARCH=arm64", "GOARCH=amd64", "-exec qemu-mipsel-static", "-exec qemu-aarch64-static"} {
		if !strings.Contains(dry, w) {
			t.Errorf("make -n build cross test-cross: %q missing in\n%s", w, dry)
		}
	}
}
