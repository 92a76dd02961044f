package main

// Tests of the .ipk packages scripts/mkipk.sh builds (make ipk): each package
// is taken apart as opkg would, and its members, control fields, maintainer
// scripts and data tree checked against the sources they come from — the
// OpenWrt package Makefiles and files.manifest. The binaries' ELF headers are
// checked per architecture, each one extracted with tar runs --version
// (x86_64 natively, the others under qemu-user), and a second build must give
// the same bytes.
//
// Building five architectures takes a while on a cold cache: these tests run
// in `make test-ipk`; `make test-go` skips them.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// ipkArches are the architectures make ipk builds, with what their binary
// must be.
var ipkArches = []struct {
	arch    string
	machine elf.Machine
	data    elf.Data
	class   elf.Class
	qemu    string // run it --version under this (empty: natively for x86_64, else not)
}{
	{"x86_64", elf.EM_X86_64, elf.ELFDATA2LSB, elf.ELFCLASS64, ""},
	{"mipsel_24kc", elf.EM_MIPS, elf.ELFDATA2LSB, elf.ELFCLASS32, "qemu-mipsel-static"},
	{"mips_24kc", elf.EM_MIPS, elf.ELFDATA2MSB, elf.ELFCLASS32, "qemu-mips-static"},
	{"arm_cortex-a7_neon-vfpv4", elf.EM_ARM, elf.ELFDATA2LSB, elf.ELFCLASS32, "qemu-arm-static"},
	{"aarch64_cortex-a53", elf.EM_AARCH64, elf.ELFDATA2LSB, elf.ELFCLASS64, "qemu-aarch64-static"},
}

// ipkMember is one member of a tar archive, in archive order.
type ipkMember struct {
	hdr  *tar.Header
	data []byte
}

// untgz reads a gzipped tar archive; the gzip header must carry no name and
// no time (gzip -n).
func untgz(t *testing.T, what string, b []byte) []ipkMember {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("%s: gzip header has name %q, time %v: not reproducible (want gzip -n)", what, zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var out []ipkMember
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", what, h.Name, err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s owned by %d:%d, want 0:0", what, h.Name, h.Uid, h.Gid)
		}
		out = append(out, ipkMember{h, data})
	}
	return out
}

// ipkParts checks the outer archive of an .ipk (members, their order,
// debian-binary) and returns the members of its control.tar.gz and
// data.tar.gz, and the data tar's uncompressed size.
func ipkParts(t *testing.T, path string) (control, data []ipkMember, dataTarSize int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	outer := untgz(t, name, b)
	var names []string
	for _, m := range outer {
		names = append(names, m.hdr.Name)
		if m.hdr.Typeflag != tar.TypeReg || m.hdr.Mode&0o7777 != 0o644 {
			t.Errorf("%s: %s: type %c mode %o, want a regular file 0644", name, m.hdr.Name, m.hdr.Typeflag, m.hdr.Mode)
		}
	}
	want := []string{"./debian-binary", "./control.tar.gz", "./data.tar.gz"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("%s: members %q, want %q", name, names, want)
	}
	byName := memberMap(t, name, outer)
	for _, n := range want {
		if _, ok := byName[n]; !ok {
			t.Fatalf("%s: no %s", name, n)
		}
	}
	if got := string(byName["./debian-binary"].data); got != "2.0\n" {
		t.Errorf("%s: debian-binary %q, want \"2.0\\n\"", name, got)
	}
	zr, err := gzip.NewReader(bytes.NewReader(byName["./data.tar.gz"].data))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		t.Fatal(err)
	}
	return untgz(t, name+" control.tar.gz", byName["./control.tar.gz"].data), untgz(t, name+" data.tar.gz", byName["./data.tar.gz"].data), int(n)
}

// controlFields parses a control file (continuation lines joined with \n).
func controlFields(t *testing.T, b []byte) (map[string]string, []string) {
	t.Helper()
	fields := map[string]string{}
	var order []string
	last := ""
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(l, " ") && last != "" {
			fields[last] += "\n" + l
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("control: bad line %q", l)
		}
		if _, dup := fields[k]; dup {
			t.Errorf("control: %s twice", k)
		}
		fields[k] = strings.TrimLeft(v, " ")
		order = append(order, k)
		last = k
	}
	return fields, order
}

// makeVar is NAME:=VALUE from an OpenWrt Makefile.
func makeVar(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:=(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no %s:=", file, name)
	}
	return strings.TrimSpace(string(m[1]))
}

// memberMap indexes members by name, failing on a duplicate.
func memberMap(t *testing.T, what string, ms []ipkMember) map[string]ipkMember {
	t.Helper()
	out := map[string]ipkMember{}
	for _, m := range ms {
		if _, dup := out[m.hdr.Name]; dup {
			t.Errorf("%s: %s twice", what, m.hdr.Name)
		}
		out[m.hdr.Name] = m
	}
	return out
}

// checkMaintainerScripts: the control archive holds exactly control,
// conffiles (when given) and the scripts, each script executable, starting
// with #!/bin/sh where opkg runs it, valid for sh -n (and busybox sh -n), and
// a no-op exiting 0 in an image build (IPKG_INSTROOT set).
func checkMaintainerScripts(t *testing.T, control map[string]ipkMember, scripts []string, conffiles string) {
	t.Helper()
	want := []string{"./", "./control"}
	if conffiles != "" {
		want = append(want, "./conffiles")
	}
	for _, s := range scripts {
		want = append(want, "./"+s)
	}
	var got []string
	for n := range control {
		got = append(got, n)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("control.tar.gz: members %q, want %q", got, want)
	}
	if m, ok := control["./control"]; ok && m.hdr.Mode&0o7777 != 0o644 {
		t.Errorf("control: mode %o, want 0644", m.hdr.Mode)
	}
	if conffiles != "" {
		m := control["./conffiles"]
		if string(m.data) != conffiles {
			t.Errorf("conffiles %q, want %q", m.data, conffiles)
		}
		if m.hdr.Mode&0o7777 != 0o644 {
			t.Errorf("conffiles: mode %o, want 0644", m.hdr.Mode)
		}
	}
	shells := [][]string{{"sh", "-n"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh", "-n"})
	}
	dir := t.TempDir()
	for _, s := range scripts {
		m, ok := control["./"+s]
		if !ok {
			continue
		}
		if m.hdr.Mode&0o7777 != 0o755 {
			t.Errorf("%s: mode %o, want 0755", s, m.hdr.Mode)
		}
		if !strings.HasSuffix(s, "-pkg") && !bytes.HasPrefix(m.data, []byte("#!/bin/sh\n")) {
			t.Errorf("%s: does not start with #!/bin/sh", s)
		}
		p := filepath.Join(dir, s)
		if err := os.WriteFile(p, m.data, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, sh := range shells {
			if out, err := exec.Command(sh[0], append(sh[1:], p)...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), s, err, out)
			}
		}
		// An image build: IPKG_INSTROOT is the image's root. The generic
		// scripts stop at the missing lib/functions.sh; ours do nothing.
		// PATH is empty: any command run would fail.
		cmd := exec.Command("/bin/sh", p, "install")
		cmd.Env = []string{"IPKG_INSTROOT=" + dir + "/image", "PATH=" + dir + "/nothing"}
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s in an image build: %v, output %q; want nothing done, exit 0", s, err, out)
		}
	}
	for _, s := range []string{"postinst", "prerm"} {
		m := control["./"+s]
		if !bytes.Contains(m.data, []byte(". ${IPKG_INSTROOT}/lib/functions.sh\ndefault_"+s+" $0 $@\n")) {
			t.Errorf("%s does not run default_%s as OpenWrt's package-ipkg.mk writes it:\n%s", s, s, m.data)
		}
	}
}

// checkDataTree: the data archive holds exactly the files in want (path ->
// mode, content), the symlinks in links (path -> target, stored as symlinks)
// and their parent directories (0755), all with one mtime.
func checkDataTree(t *testing.T, data []ipkMember, want map[string]os.FileMode, content map[string][]byte, links map[string]string) {
	t.Helper()
	wantDirs := map[string]bool{"./": true}
	for _, ps := range [][]string{mapKeys(want), mapKeys(links)} {
		for _, p := range ps {
			for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
				wantDirs["."+d+"/"] = true
			}
		}
	}
	seen := map[string]bool{}
	var mtime int64 = -1
	for _, m := range data {
		h := m.hdr
		if mtime == -1 {
			mtime = h.ModTime.Unix()
		} else if h.ModTime.Unix() != mtime {
			t.Errorf("data: %s mtime %v, others %d: not one fixed mtime", h.Name, h.ModTime, mtime)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if !wantDirs[h.Name] {
				t.Errorf("data: directory %s holds nothing the package installs", h.Name)
			}
			if h.Mode&0o7777 != 0o755 {
				t.Errorf("data: directory %s mode %o, want 0755", h.Name, h.Mode)
			}
			seen[h.Name] = true
		case tar.TypeReg:
			dest := strings.TrimPrefix(h.Name, ".")
			mode, ok := want[dest]
			if !ok {
				t.Errorf("data: %s is not in the install list", dest)
				continue
			}
			seen[dest] = true
			if os.FileMode(h.Mode&0o7777) != mode {
				t.Errorf("data: %s mode %o, want %o", dest, h.Mode&0o7777, mode)
			}
			if c, ok := content[dest]; ok && !bytes.Equal(c, m.data) {
				t.Errorf("data: %s differs from its source", dest)
			}
		case tar.TypeSymlink:
			dest := strings.TrimPrefix(h.Name, ".")
			target, ok := links[dest]
			if !ok {
				t.Errorf("data: %s is a symlink (to %s), which the install list does not name", dest, h.Linkname)
				continue
			}
			seen[dest] = true
			if h.Linkname != target {
				t.Errorf("data: %s links to %q, want %q", dest, h.Linkname, target)
			}
		default:
			t.Errorf("data: %s: type %c, want only files, directories and the listed symlinks", h.Name, h.Typeflag)
		}
	}
	for _, ps := range [][]string{mapKeys(want), mapKeys(links)} {
		for _, p := range ps {
			if !seen[p] {
				t.Errorf("data: %s missing", p)
			}
		}
	}
	for d := range wantDirs {
		if !seen[d] {
			t.Errorf("data: directory %s missing", d)
		}
	}
}

// mapKeys: the keys of m, sorted.
func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// buildIPKs runs scripts/mkipk.sh into out, the binaries into build, for
// the given architectures (none: the script's default five).
func buildIPKs(t *testing.T, out, build string, arches ...string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		testlan.SkipOrFail(t, "no go on PATH")
	}
	if _, err := exec.LookPath("gzip"); err != nil {
		testlan.SkipOrFail(t, "no gzip")
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "mkipk.sh"), append([]string{"-o", out, "-b", build}, arches...)...)
	cmd.Env = append(os.Environ(), "GO="+goBin, "SOURCE_DATE_EPOCH="+packageEpoch(t))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/mkipk.sh: %v\n%s", err, b)
	}
}

// ipkDistFiles lists the files in a dist directory.
func ipkDistFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestIPK(t *testing.T) {
	root := repoRoot(t)
	mk := filepath.Join(root, "Makefile")
	version := makeVar(t, mk, "PKG_VERSION") + "-" + makeVar(t, mk, "PKG_RELEASE")
	dist := t.TempDir()
	buildIPKs(t, dist, t.TempDir())

	want := []string{"luci-app-transferometer_" + version + "_all.ipk"}
	i18n := luciI18n(t)
	for _, p := range i18n {
		want = append(want, p.name+"_"+version+"_all.ipk")
	}
	for _, a := range ipkArches {
		want = append(want, "transferometer_"+version+"_"+a.arch+".ipk")
	}
	sort.Strings(want)
	if got := ipkDistFiles(t, dist); strings.Join(got, " ") != strings.Join(append([]string{"Packages", "Packages.gz"}, want...), " ") {
		t.Fatalf("dist: %q, want %q and the feed index", got, want)
	}

	// The data tree of transferometer: files.manifest, the binary aside;
	// link lines are symlinks with their source's target.
	wantFiles := map[string]os.FileMode{}
	content := map[string][]byte{}
	links := map[string]string{}
	for _, e := range readManifest(t) {
		if e.link {
			target, err := os.Readlink(filepath.Join(root, e.src))
			if err != nil {
				t.Fatal(err)
			}
			links[e.dest] = target
			continue
		}
		wantFiles[e.dest] = e.mode
		if e.src == binToken {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.src))
		if err != nil {
			t.Fatal(err)
		}
		content[e.dest] = b
	}

	for _, a := range ipkArches {
		a := a
		t.Run(a.arch, func(t *testing.T) {
			path := filepath.Join(dist, "transferometer_"+version+"_"+a.arch+".ipk")
			control, data, dataSize := ipkParts(t, path)
			cm := memberMap(t, "control.tar.gz", control)
			fields, order := controlFields(t, cm["./control"].data)
			checkControl(t, fields, order, map[string]string{
				"Package":      "transferometer",
				"Version":      version,
				"Architecture": a.arch,
				"Depends":      "libc, iptables | kmod-nft-core, ip6tables | kmod-nft-core",
				"Section":      "net",
				"License":      makeVar(t, mk, "PKG_LICENSE"),
				"Maintainer":   makeVar(t, mk, "PKG_MAINTAINER"),
				"SourceName":   "transferometer",
				"URL":          "https://github.com/transferometer/transferometer",
			}, data, dataSize)
			if !strings.Contains(fields["Description"], "Counts, per device on the LAN") {
				t.Errorf("Description %q: not the Makefile's", fields["Description"])
			}
			checkMaintainerScripts(t, cm, []string{"postinst", "postinst-pkg", "prerm", "prerm-pkg", "postrm"}, "/etc/config/transferometer\n")
			unescape := func(s string) string { return strings.ReplaceAll(s, "$$", "$") }
			for member, block := range map[string]string{"postinst-pkg": "postinst", "prerm-pkg": "prerm", "postrm": "postrm"} {
				if got, want := string(cm["./"+member].data), unescape(defineBlock(t, mk, "Package/transferometer/"+block)); got != want {
					t.Errorf("%s is not the Makefile's %s block:\n%s\nwant:\n%s", member, block, got, want)
				}
			}
			checkDataTree(t, data, wantFiles, content, links)

			var bin []byte
			for _, m := range data {
				if m.hdr.Name == "./usr/sbin/transferometer" {
					bin = m.data
				}
			}
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("/usr/sbin/transferometer: %v", err)
			}
			if f.Machine != a.machine || f.Data != a.data || f.Class != a.class || f.Type != elf.ET_EXEC {
				t.Errorf("/usr/sbin/transferometer: %v %v %v %v, want %v %v %v ET_EXEC", f.Machine, f.Data, f.Class, f.Type, a.machine, a.data, a.class)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("/usr/sbin/transferometer has an interpreter: not static")
				}
			}
			f.Close()

			// Extracted the way opkg's users would, with tar, then run
			// (runBinary: natively or under qemu-user; without qemu
			// the run skips, and fails under CI).
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "pkg.ipk"), mustRead(t, path), 0o644); err != nil {
				t.Fatal(err)
			}
			sh := `set -e; cd "$1"; tar -xzf pkg.ipk; mkdir data; tar -xzf data.tar.gz -C data`
			if out, err := exec.Command("sh", "-c", sh, "sh", dir).CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, out)
			}
			exe := filepath.Join(dir, "data", "usr", "sbin", "transferometer")
			if fi, err := os.Stat(exe); err != nil || fi.Mode().Perm() != 0o755 {
				t.Fatalf("extracted binary: %v %v", fi, err)
			}
			runBinary(t, a.arch, a.qemu, exe)
		})
	}

	t.Run("luci-app-transferometer", func(t *testing.T) {
		luci := filepath.Join(root, "luci-app-transferometer")
		control, data, dataSize := ipkParts(t, filepath.Join(dist, "luci-app-transferometer_"+version+"_all.ipk"))
		cm := memberMap(t, "control.tar.gz", control)
		fields, order := controlFields(t, cm["./control"].data)
		checkControl(t, fields, order, map[string]string{
			"Package":      "luci-app-transferometer",
			"Version":      version,
			"Architecture": "all",
			"Depends":      "libc, luci-base, transferometer",
			"Section":      "luci",
			"License":      makeVar(t, filepath.Join(luci, "Makefile"), "PKG_LICENSE"),
			"Description":  makeVar(t, filepath.Join(luci, "Makefile"), "LUCI_TITLE"),
			"Maintainer":   makeVar(t, filepath.Join(luci, "Makefile"), "LUCI_MAINTAINER"),
			"URL":          makeVar(t, filepath.Join(luci, "Makefile"), "LUCI_URL"),
		}, data, dataSize)
		checkMaintainerScripts(t, cm, []string{"postinst", "postinst-pkg", "prerm"}, "")
		post := string(cm["./postinst-pkg"].data)
		for _, s := range []string{"rm -f /tmp/luci-indexcache", "rm -rf /tmp/luci-modulecache/", "killall -HUP rpcd"} {
			if !strings.Contains(post, s) {
				t.Errorf("postinst-pkg does not run %s (as luci.mk's postinst does)", s)
			}
		}
		// htdocs/ -> /www, root/ -> /, as luci.mk installs them.
		wantFiles := map[string]os.FileMode{}
		content := map[string][]byte{}
		for dst, f := range luciInstall(t) {
			wantFiles[dst], content[dst] = f.mode, f.data
		}
		checkDataTree(t, data, wantFiles, content, nil)
	})

	// The translations, as luci.mk's LuciTranslation packages them.
	for _, p := range i18n {
		p := p
		t.Run(p.name, func(t *testing.T) {
			luci := filepath.Join(root, "luci-app-transferometer")
			control, data, dataSize := ipkParts(t, filepath.Join(dist, p.name+"_"+version+"_all.ipk"))
			cm := memberMap(t, "control.tar.gz", control)
			fields, order := controlFields(t, cm["./control"].data)
			checkControl(t, fields, order, map[string]string{
				"Package":      p.name,
				"Version":      version,
				"Architecture": "all",
				"Depends":      "libc, luci-app-transferometer",
				"Source":       "package/transferometer/luci-app-transferometer",
				"Section":      "luci",
				"License":      makeVar(t, filepath.Join(luci, "Makefile"), "PKG_LICENSE"),
				"Description":  p.description,
				"Maintainer":   makeVar(t, filepath.Join(luci, "Makefile"), "LUCI_MAINTAINER"),
				"URL":          makeVar(t, filepath.Join(luci, "Makefile"), "LUCI_URL"),
			}, data, dataSize)
			checkMaintainerScripts(t, cm, []string{"postinst", "postinst-pkg", "prerm"}, "")
			if got := string(cm["./postinst-pkg"].data); got != p.postinst {
				t.Errorf("postinst-pkg %q, want luci.mk's %q", got, p.postinst)
			}
			wantFiles := map[string]os.FileMode{}
			content := map[string][]byte{}
			for dst, f := range p.files {
				wantFiles[dst], content[dst] = f.mode, f.data
			}
			checkDataTree(t, data, wantFiles, content, nil)
			for _, m := range data {
				if strings.HasSuffix(m.hdr.Name, ".lmo") {
					checkCatalogue(t, p, m.data)
				}
			}
		})
	}

	// The feed index, as OpenWrt's ipkg-make-index.sh writes it: per
	// package its control fields, with Filename, Size and SHA256sum before
	// Description, a blank line after each; Packages.gz the same, gzip -n.
	t.Run("feed", func(t *testing.T) {
		idx := string(mustRead(t, filepath.Join(dist, "Packages")))
		zr, err := gzip.NewReader(bytes.NewReader(mustRead(t, filepath.Join(dist, "Packages.gz"))))
		if err != nil {
			t.Fatal(err)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Errorf("Packages.gz header has name %q, time %v", zr.Name, zr.ModTime)
		}
		if b, err := io.ReadAll(zr); err != nil || string(b) != idx {
			t.Errorf("Packages.gz is not Packages gzipped: %v", err)
		}
		if !strings.HasSuffix(idx, "\n\n") {
			t.Errorf("Packages does not end with a blank line")
		}
		stanzas := strings.Split(strings.TrimSuffix(idx, "\n\n"), "\n\n")
		if len(stanzas) != len(want) {
			t.Fatalf("Packages: %d entries, want %d", len(stanzas), len(want))
		}
		for i, name := range want {
			file := mustRead(t, filepath.Join(dist, name))
			control, _, _ := ipkParts(t, filepath.Join(dist, name))
			cf, corder := controlFields(t, memberMap(t, name, control)["./control"].data)
			fields, order := controlFields(t, []byte(stanzas[i]+"\n"))
			sum := sha256.Sum256(file)
			extra := map[string]string{"Filename": name, "Size": strconv.Itoa(len(file)), "SHA256sum": hex.EncodeToString(sum[:])}
			var wantOrder []string
			for _, k := range corder {
				if k == "Description" {
					wantOrder = append(wantOrder, "Filename", "Size", "SHA256sum")
				}
				wantOrder = append(wantOrder, k)
			}
			if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
				t.Errorf("Packages entry %d: fields %q, want %q", i, order, wantOrder)
			}
			for k, v := range cf {
				if fields[k] != v {
					t.Errorf("Packages %s: %s %q, control says %q", name, k, fields[k], v)
				}
			}
			for k, v := range extra {
				if fields[k] != v {
					t.Errorf("Packages %s: %s %q, want %q", name, k, fields[k], v)
				}
			}
		}
	})

	// Byte-identical from a second build, binaries built afresh too.
	t.Run("reproducible", func(t *testing.T) {
		dist2 := t.TempDir()
		buildIPKs(t, dist2, t.TempDir())
		for _, name := range append([]string{"Packages", "Packages.gz"}, want...) {
			if !bytes.Equal(mustRead(t, filepath.Join(dist, name)), mustRead(t, filepath.Join(dist2, name))) {
				t.Errorf("%s: a second build gives different bytes", name)
			}
		}
	})
}

// checkControl: the fields in want have exactly those values; the fields
// appear in package-ipkg.mk's order; Installed-Size is the byte size of the
// uncompressed data tar, as ipkg-build computes it (zcat data.tar.gz | wc -c;
// opkg reads it as bytes).
func checkControl(t *testing.T, fields map[string]string, order []string, want map[string]string, data []ipkMember, dataSize int) {
	t.Helper()
	for k, v := range want {
		if got, ok := fields[k]; !ok || got != v {
			t.Errorf("control: %s: %q, want %q", k, got, v)
		}
	}
	wantOrder := []string{"Package", "Version", "Depends", "Source", "SourceName", "License", "Section",
		"SourceDateEpoch", "URL", "Maintainer", "Architecture", "Installed-Size", "Description"}
	if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("control: fields %q, want %q", order, wantOrder)
	}
	size, err := strconv.Atoi(fields["Installed-Size"])
	if err != nil {
		t.Fatalf("Installed-Size %q: %v", fields["Installed-Size"], err)
	}
	if size != dataSize {
		t.Errorf("Installed-Size %d, want %d (the uncompressed data tar)", size, dataSize)
	}
	if epoch := fields["SourceDateEpoch"]; data[0].hdr.ModTime.Unix() != mustAtoi(t, epoch) {
		t.Errorf("SourceDateEpoch %s, but the files' mtime is %d", epoch, data[0].hdr.ModTime.Unix())
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
