package main

// Tests of the OpenWrt 25.12 packages scripts/mkapk.sh builds (make apk),
// read, installed, upgraded and removed by apk-tools 3 itself: the static
// apk 3.0.6 in ../shared/tools beside the repository, a test oracle only
// (nothing the project builds or ships needs it). Dependencies that cannot
// resolve in an empty root get empty stand-in packages made with
// `apk mkpkg`. As with the .ipk files, every architecture is built twice
// and must give the same bytes, and each binary runs (natively or under
// qemu-user).
//
// Building five architectures takes a while on a cold cache: these tests
// run in `make test-apk`; `make test-go` skips them.

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// apkOracle is ../shared/tools/apk beside the repository (CI puts shared/
// next to the clone).
func apkOracle(t *testing.T) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(repoRoot(t)), "shared", "tools", "apk")
	if _, err := os.Stat(p); err != nil {
		testlan.SkipOrFail(t, "apk-tools 3 oracle not found at %s: %v", p, err)
	}
	return p
}

// runAPK runs the oracle; it must succeed.
func runAPK(t *testing.T, apk string, args ...string) string {
	t.Helper()
	out, err := exec.Command(apk, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("apk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// apkVersion is OpenWrt 25.12's version of the packages: PKG_VERSION-rPKG_RELEASE.
func apkVersion(t *testing.T) string {
	mk := filepath.Join(repoRoot(t), "Makefile")
	return makeVar(t, mk, "PKG_VERSION") + "-r" + makeVar(t, mk, "PKG_RELEASE")
}

// buildAPKs runs scripts/mkapk.sh into out, the binaries and the tool into
// build; extra arguments go before the architectures.
func buildAPKs(t *testing.T, out, build string, extra ...string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		testlan.SkipOrFail(t, "no go on PATH")
	}
	args := append([]string{"-o", out, "-b", build}, extra...)
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "mkapk.sh"), args...)
	cmd.Env = append(os.Environ(), "GO="+goBin, "SOURCE_DATE_EPOCH="+packageEpoch(t))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/mkapk.sh: %v\n%s", err, b)
	}
}

// packageEpoch is the package builds' SOURCE_DATE_EPOCH: the time of the
// last commit, as the scripts take it by default, read once per test run so
// that a commit made while the tests run (several people share a tree)
// does not make two builds of the same sources differ.
var packageEpoch = func() func(t *testing.T) string {
	once := sync.OnceValues(func() (string, error) {
		out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		return strings.TrimSpace(string(out)), err
	})
	return func(t *testing.T) string {
		t.Helper()
		v, err := once()
		if err != nil || v == "" {
			return "1"
		}
		return v
	}
}()

// apkDump is `apk adbdump --format json` of a package or an index.
func apkDump(t *testing.T, apk, file string) map[string]any {
	t.Helper()
	var m map[string]any
	out, err := exec.Command(apk, "adbdump", "--format", "json", file).Output()
	if err != nil {
		t.Fatalf("apk adbdump %s: %v", file, err)
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("apk adbdump %s: %v\n%s", file, err, out)
	}
	return m
}

// standIns makes empty packages named deps (noarch), for dependencies an
// empty root cannot provide.
func standIns(t *testing.T, apk string, deps ...string) []string {
	t.Helper()
	dir, empty := t.TempDir(), t.TempDir()
	var out []string
	for _, d := range deps {
		p := filepath.Join(dir, d+".apk")
		runAPK(t, apk, "mkpkg", "--info", "name:"+d, "--info", "version:0-r0", "--info", "arch:noarch", "--files", empty, "--output", p)
		out = append(out, p)
	}
	return out
}

// apkInstalledTree lists what an apk root holds outside apk's own state:
// path -> "MODE sha256" for files, "link TARGET" for symlinks.
func apkInstalledTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	skip := []string{"/lib/apk/db/", "/lib/apk/exec/", "/etc/apk/", "/var/", "/dev/", "/proc/", "/tmp/"}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, root+"/"))
		for _, s := range skip {
			if strings.HasPrefix(rel, s) {
				return nil
			}
		}
		if d.Type() == fs.ModeSymlink {
			target, err := os.Readlink(p)
			out[rel] = "link " + target
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		out[rel] = fmtMode(fi.Mode().Perm()) + " " + hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fmtMode(m os.FileMode) string { return fmt.Sprintf("%04o", uint32(m.Perm())) }

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wantAPKTree is what transferometer installs: files.manifest (the binary
// as given), plus OpenWrt 25.12's /lib/apk/packages files.
func wantAPKTree(t *testing.T, bin []byte) map[string]string {
	t.Helper()
	root := repoRoot(t)
	want := map[string]string{}
	var list []string
	var conf []byte
	for _, e := range readManifest(t) {
		list = append(list, e.dest)
		if e.link {
			target, err := os.Readlink(filepath.Join(root, e.src))
			if err != nil {
				t.Fatal(err)
			}
			want[e.dest] = "link " + target
			continue
		}
		b := bin
		if e.src != binToken {
			b = mustRead(t, filepath.Join(root, e.src))
		}
		if e.dest == "/etc/config/transferometer" {
			conf = b
		}
		want[e.dest] = fmtMode(e.mode) + " " + sumHex(b)
	}
	sort.Strings(list)
	want["/lib/apk/packages/transferometer.list"] = "0644 " + sumHex([]byte(strings.Join(list, "\n")+"\n"))
	want["/lib/apk/packages/transferometer.conffiles"] = "0644 " + sumHex([]byte("/etc/config/transferometer\n"))
	want["/lib/apk/packages/transferometer.conffiles_static"] = "0644 " + sumHex([]byte("/etc/config/transferometer "+sumHex(conf)+"\n"))
	return want
}

// wantLuCITree is what luci-app-transferometer installs: htdocs/ to /www,
// root/ to /, and its /lib/apk/packages list.
func wantLuCITree(t *testing.T) map[string]string {
	t.Helper()
	want := map[string]string{}
	var list []string
	for dst, f := range luciInstall(t) {
		want[dst] = fmtMode(f.mode) + " " + sumHex(f.data)
		list = append(list, dst)
	}
	sort.Strings(list)
	want["/lib/apk/packages/luci-app-transferometer.list"] = "0644 " + sumHex([]byte(strings.Join(list, "\n")+"\n"))
	return want
}

// luciFile is one file luci-app-transferometer installs.
type luciFile struct {
	mode os.FileMode
	data []byte
}

// luciInstall lists what luci.mk installs of luci-app-transferometer:
// htdocs/ to /www, root/ to /, executables 0755 and the rest 0644.
func luciInstall(t *testing.T) map[string]luciFile {
	t.Helper()
	luci := filepath.Join(repoRoot(t), "luci-app-transferometer")
	out := map[string]luciFile{}
	for top, dest := range map[string]string{"htdocs": "/www", "root": ""} {
		err := filepath.WalkDir(filepath.Join(luci, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(luci, top), p)
			mode := os.FileMode(0o644)
			if fi.Mode().Perm()&0o100 != 0 {
				mode = 0o755
			}
			out[dest+"/"+filepath.ToSlash(rel)] = luciFile{mode: mode, data: mustRead(t, p)}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 4 {
		t.Fatalf("luci-app-transferometer: only %d files found", len(out))
	}
	return out
}

// adbBlock is the ADB block's payload of an .apk or .adb file (apk-v3.5:
// "ADBd" + raw deflate of the file, whose first block after the 8-byte
// header is the ADB block): what the index's `hashes` must be the SHA-256 of.
func adbBlock(t *testing.T, file []byte) []byte {
	t.Helper()
	if bytes.HasPrefix(file, []byte("ADBd")) {
		b, err := io.ReadAll(flate.NewReader(bytes.NewReader(file[4:])))
		if err != nil {
			t.Fatalf("inflate: %v", err)
		}
		file = b
	}
	if len(file) < 12 || string(file[:4]) != "ADB." {
		t.Fatalf("not an ADB file: % x", file[:min(len(file), 8)])
	}
	w := uint32(file[8]) | uint32(file[9])<<8 | uint32(file[10])<<16 | uint32(file[11])<<24
	if w>>30 != 0 || int(w&0x3fffffff) > len(file)-8 {
		t.Fatalf("first block: type %d size %d", w>>30, w&0x3fffffff)
	}
	return file[12 : 8+int(w&0x3fffffff)]
}

func TestAPK(t *testing.T) {
	apk := apkOracle(t)
	root := repoRoot(t)
	mk := filepath.Join(root, "Makefile")
	luciMk := filepath.Join(root, "luci-app-transferometer", "Makefile")
	version := apkVersion(t)
	dist, build := t.TempDir(), t.TempDir()
	buildAPKs(t, dist, build)
	stand := standIns(t, apk, "libc", "kmod-nft-core", "luci-base")
	tname := "transferometer-" + version + ".apk"
	lname := "luci-app-transferometer-" + version + ".apk"
	i18n := luciI18n(t)
	var inames []string // the translations' files, in the order of their names
	for _, p := range i18n {
		inames = append(inames, p.name+"-"+version+".apk")
	}

	var arches []string
	for _, a := range ipkArches {
		arches = append(arches, a.arch)
	}
	sort.Strings(arches)
	if got := ipkDistFiles(t, dist); strings.Join(got, " ") != strings.Join(arches, " ") {
		t.Fatalf("dist: %q, want one directory per architecture %q", got, arches)
	}

	for _, a := range ipkArches {
		a := a
		t.Run(a.arch, func(t *testing.T) {
			dir := filepath.Join(dist, a.arch)
			wantFiles := append(append([]string{lname}, inames...), "packages.adb", tname)
			sort.Strings(wantFiles)
			if got := ipkDistFiles(t, dir); strings.Join(got, " ") != strings.Join(wantFiles, " ") {
				t.Fatalf("%s: %q", dir, got)
			}
			for _, n := range append([]string{lname}, inames...) {
				if !bytes.Equal(mustRead(t, filepath.Join(dir, n)), mustRead(t, filepath.Join(dist, "x86_64", n))) {
					t.Errorf("%s differs from x86_64's: the noarch package must be one file", n)
				}
			}

			// Every field we meant, as apk reads it.
			dump := apkDump(t, apk, filepath.Join(dir, tname))
			info, _ := dump["info"].(map[string]any)
			wantInfo := map[string]any{
				"name":        "transferometer",
				"version":     version,
				"description": strings.Join(strings.Fields(defineBlock(t, mk, "Package/transferometer/description")), " "),
				"arch":        a.arch,
				"license":     makeVar(t, mk, "PKG_LICENSE"),
				"origin":      "package/transferometer",
				"maintainer":  makeVar(t, mk, "PKG_MAINTAINER"),
				"url":         "https://github.com/transferometer/transferometer",
				"depends":     []any{"kmod-nft-core", "libc"},
				"provides":    []any{"transferometer-any"},
			}
			for k, v := range wantInfo {
				if !reflect.DeepEqual(info[k], v) {
					t.Errorf("info %s: %#v, want %#v", k, info[k], v)
				}
			}
			if h, _ := info["hashes"].(string); len(h) != 40 {
				t.Errorf("info hashes %q: want the 20-byte unique id", h)
			}
			scripts, _ := dump["scripts"].(map[string]any)
			checkAPKScripts(t, mk, "transferometer", scripts, true)

			// Installed into an empty root: every file at its path and
			// mode, nothing else; the binary is this architecture's.
			r := t.TempDir()
			add := append(append([]string{"add", "--root", r, "--initdb", "--allow-untrusted", "--no-network", "--no-scripts", "--arch", a.arch}, stand...),
				filepath.Join(dir, tname), filepath.Join(dir, lname))
			for _, n := range inames {
				add = append(add, filepath.Join(dir, n))
			}
			runAPK(t, apk, add...)
			bin := mustRead(t, filepath.Join(r, "usr/sbin/transferometer"))
			want := wantAPKTree(t, bin)
			for k, v := range wantLuCITree(t) {
				want[k] = v
			}
			for k, v := range wantI18nAPKTree(t, i18n) {
				want[k] = v
			}
			if got := apkInstalledTree(t, r); !reflect.DeepEqual(got, want) {
				for k, v := range want {
					if got[k] != v {
						t.Errorf("installed %s: %q, want %q", k, got[k], v)
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok {
						t.Errorf("installed %s, which the packages should not hold", k)
					}
				}
			}
			info2 := runAPK(t, apk, "--root", r, "--no-network", "info")
			names := []string{"transferometer", "luci-app-transferometer"}
			for _, p := range i18n {
				names = append(names, p.name)
			}
			for _, p := range names {
				if !strings.Contains("\n"+info2, "\n"+p+"\n") {
					t.Errorf("apk info does not list %s:\n%s", p, info2)
				}
			}
			checkELF(t, a.arch, a.machine, a.data, a.class, bin)
			runBinary(t, a.arch, a.qemu, filepath.Join(r, "usr/sbin/transferometer"))

			// Removed: nothing of ours is left, nothing listed.
			runAPK(t, apk, append([]string{"del", "--root", r, "--no-network", "--no-scripts"}, names...)...)
			if got := apkInstalledTree(t, r); len(got) != 0 {
				t.Errorf("after apk del: %v left", mapKeys(got))
			}
			info3 := runAPK(t, apk, "--root", r, "--no-network", "info")
			if strings.Contains(info3, "transferometer") {
				t.Errorf("after apk del, apk info still lists:\n%s", info3)
			}
		})
	}

	t.Run("luci-app-transferometer", func(t *testing.T) {
		dump := apkDump(t, apk, filepath.Join(dist, "x86_64", lname))
		info, _ := dump["info"].(map[string]any)
		wantInfo := map[string]any{
			"name":        "luci-app-transferometer",
			"version":     version,
			"description": makeVar(t, luciMk, "LUCI_TITLE"),
			"arch":        "noarch",
			"license":     makeVar(t, luciMk, "PKG_LICENSE"),
			"origin":      "package/transferometer/luci-app-transferometer",
			"maintainer":  makeVar(t, luciMk, "LUCI_MAINTAINER"),
			"url":         makeVar(t, luciMk, "LUCI_URL"),
			"depends":     []any{"libc", "luci-base", "transferometer"},
			"provides":    []any{"luci-app-transferometer-any"},
		}
		for k, v := range wantInfo {
			if !reflect.DeepEqual(info[k], v) {
				t.Errorf("info %s: %#v, want %#v", k, info[k], v)
			}
		}
		scripts, _ := dump["scripts"].(map[string]any)
		checkAPKScripts(t, mk, "luci-app-transferometer", scripts, false)
	})

	// The translations: fields as luci.mk's LuciTranslation sets them, the
	// postinst block that adds the language to LuCI, the catalogue readable.
	for _, p := range i18n {
		p := p
		t.Run(p.name, func(t *testing.T) {
			file := filepath.Join(dist, "x86_64", p.name+"-"+version+".apk")
			dump := apkDump(t, apk, file)
			info, _ := dump["info"].(map[string]any)
			wantInfo := map[string]any{
				"name":        p.name,
				"version":     version,
				"description": p.description,
				"arch":        "noarch",
				"license":     makeVar(t, luciMk, "PKG_LICENSE"),
				"origin":      "package/transferometer/luci-app-transferometer",
				"maintainer":  makeVar(t, luciMk, "LUCI_MAINTAINER"),
				"url":         makeVar(t, luciMk, "LUCI_URL"),
				"depends":     []any{"libc", "luci-app-transferometer"},
				"provides":    []any{p.name + "-any"},
			}
			for k, v := range wantInfo {
				if !reflect.DeepEqual(info[k], v) {
					t.Errorf("info %s: %#v, want %#v", k, info[k], v)
				}
			}
			scripts, _ := dump["scripts"].(map[string]any)
			if post, _ := scripts["post-install"].(string); !strings.HasSuffix(post, "default_postinst\n"+p.postinst) {
				t.Errorf("post-install %q: want default_postinst, then luci.mk's block %q", post, p.postinst)
			}
			// apk installs it only with the app (its dependency), and removes it.
			r := t.TempDir()
			runAPK(t, apk, append([]string{"add", "--root", r, "--initdb", "--allow-untrusted", "--no-network", "--no-scripts", "--arch", "x86_64"}, stand...)...)
			if out, err := exec.Command(apk, "add", "--root", r, "--allow-untrusted", "--no-network", "--no-scripts", file).CombinedOutput(); err == nil {
				t.Errorf("%s installed without luci-app-transferometer:\n%s", p.name, out)
			}
			runAPK(t, apk, "add", "--root", r, "--no-network", "--no-scripts", "--allow-untrusted",
				"--repository", filepath.Join(dist, "x86_64", "packages.adb"), p.name)
			for dst, f := range p.files {
				if got := mustRead(t, filepath.Join(r, dst)); !bytes.Equal(got, f.data) {
					t.Errorf("installed %s: %d bytes, want %d", dst, len(got), len(f.data))
				}
			}
			checkCatalogue(t, p, mustRead(t, filepath.Join(r, "usr/lib/lua/luci/i18n/transferometer."+p.code+".lmo")))
			if _, err := os.Stat(filepath.Join(r, "www/luci-static/resources/view/transferometer/usage.js")); err != nil {
				t.Errorf("installing %s from the feed did not bring luci-app-transferometer: %v", p.name, err)
			}
		})
	}

	// The feed: apk reads each packages.adb, and installs from it by name
	// with the packages' identities checked against the index.
	t.Run("feed", func(t *testing.T) {
		for _, a := range arches {
			dir := filepath.Join(dist, a)
			dump := apkDump(t, apk, filepath.Join(dir, "packages.adb"))
			pkgs, _ := dump["packages"].([]any)
			feed := append(append([]string{lname}, inames...), tname)
			if len(pkgs) != len(feed) {
				t.Fatalf("%s/packages.adb: %d packages, want %d", a, len(pkgs), len(feed))
			}
			for i, name := range feed {
				p, _ := pkgs[i].(map[string]any)
				file := mustRead(t, filepath.Join(dir, name))
				if want := strings.TrimSuffix(name, "-"+version+".apk"); p["name"] != want || p["version"] != version {
					t.Errorf("%s index entry %d: %v %v, want %s %s", a, i, p["name"], p["version"], want, version)
				}
				if got, want := p["file-size"], float64(len(file)); got != want {
					t.Errorf("%s index %s file-size %v, want %v", a, name, got, want)
				}
				if got, want := p["hashes"], sumHex(adbBlock(t, file)); got != want {
					t.Errorf("%s index %s hashes %v, want the SHA-256 of its ADB block %s", a, name, got, want)
				}
			}
		}
		r := t.TempDir()
		runAPK(t, apk, append([]string{"add", "--root", r, "--initdb", "--allow-untrusted", "--no-network", "--no-scripts", "--arch", "x86_64"}, stand...)...)
		runAPK(t, apk, "add", "--root", r, "--no-network", "--no-scripts", "--allow-untrusted",
			"--repository", filepath.Join(dist, "x86_64", "packages.adb"), "luci-app-transferometer")
		if _, err := os.Stat(filepath.Join(r, "usr/sbin/transferometer")); err != nil {
			t.Errorf("installing luci-app-transferometer from the feed did not bring transferometer: %v", err)
		}
	})

	// A signed index is trusted with the user's public key: no
	// --allow-untrusted, and the packages need no signature of their own
	// (the index vouches for their hashes). A wrong key is refused.
	t.Run("signed", func(t *testing.T) {
		keys := t.TempDir()
		writeKey := func(name string) (priv, pub string) {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			pder, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			priv, pub = filepath.Join(keys, name+".pem"), filepath.Join(keys, name+".pub")
			if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
				t.Fatal(err)
			}
			return priv, pub
		}
		priv, pub := writeKey("feed")
		_, otherPub := writeKey("other")
		sdist := t.TempDir()
		buildAPKs(t, sdist, build, "-k", priv, "x86_64")
		for _, c := range []struct {
			pub string
			ok  bool
		}{{pub, true}, {otherPub, false}} {
			kd := t.TempDir()
			if err := os.WriteFile(filepath.Join(kd, filepath.Base(c.pub)), mustRead(t, c.pub), 0o644); err != nil {
				t.Fatal(err)
			}
			r := t.TempDir()
			runAPK(t, apk, append([]string{"add", "--root", r, "--initdb", "--allow-untrusted", "--no-network", "--no-scripts", "--arch", "x86_64"}, stand...)...)
			out, err := exec.Command(apk, "add", "--root", r, "--no-network", "--no-scripts", "--keys-dir", kd,
				"--repository", filepath.Join(sdist, "x86_64", "packages.adb"), "luci-app-transferometer").CombinedOutput()
			if c.ok && err != nil {
				t.Errorf("signed feed with its key: %v\n%s", err, out)
			}
			if !c.ok && err == nil {
				t.Errorf("signed feed accepted with another key:\n%s", out)
			}
		}
		// Unsigned, the same feed is refused without --allow-untrusted.
		r := t.TempDir()
		runAPK(t, apk, append([]string{"add", "--root", r, "--initdb", "--allow-untrusted", "--no-network", "--no-scripts", "--arch", "x86_64"}, stand...)...)
		if out, err := exec.Command(apk, "add", "--root", r, "--no-network", "--no-scripts",
			"--repository", filepath.Join(dist, "x86_64", "packages.adb"), "transferometer").CombinedOutput(); err == nil {
			t.Errorf("unsigned feed accepted without --allow-untrusted:\n%s", out)
		}
	})

	// An upgrade from an older build keeps a conffile the user changed
	// (the new one lands beside it as .apk-new) and replaces the rest.
	t.Run("upgrade", func(t *testing.T) {
		tool := filepath.Join(build, "mkapk")
		old := t.TempDir()
		bin := filepath.Join(build, "x86_64", "transferometer")
		cmd := exec.Command(tool, "apk", "-root", root, "-out", old, "-epoch", "1", "-version", "0.0.9-r1", "x86_64="+bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("older build: %v\n%s", err, out)
		}
		r := t.TempDir()
		runAPK(t, apk, append(append([]string{"add", "--root", r, "--initdb", "--allow-untrusted", "--no-network", "--no-scripts", "--arch", "x86_64"}, stand...),
			filepath.Join(old, "x86_64", "transferometer-0.0.9-r1.apk"))...)
		conf := filepath.Join(r, "etc/config/transferometer")
		mine := append(mustRead(t, conf), []byte("\n# changed by the user\n")...)
		if err := os.WriteFile(conf, mine, 0o644); err != nil {
			t.Fatal(err)
		}
		runAPK(t, apk, "add", "--root", r, "--allow-untrusted", "--no-network", "--no-scripts", filepath.Join(dist, "x86_64", tname))
		if got := mustRead(t, conf); !bytes.Equal(got, mine) {
			t.Errorf("upgrade replaced the changed conffile")
		}
		shipped := mustRead(t, filepath.Join(root, "files/etc/config/transferometer"))
		if got, err := os.ReadFile(conf + ".apk-new"); err != nil || !bytes.Equal(got, shipped) {
			t.Errorf("upgrade: %s.apk-new: %v; want the new default beside the user's", conf, err)
		}
		if out := runAPK(t, apk, "--root", r, "--no-network", "info", "-v"); !strings.Contains(out, "transferometer-"+version) {
			t.Errorf("after the upgrade apk lists:\n%s", out)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		dist2 := t.TempDir()
		buildAPKs(t, dist2, t.TempDir())
		for _, a := range arches {
			for _, name := range append([]string{tname, lname, "packages.adb"}, inames...) {
				p := filepath.Join(a, name)
				if !bytes.Equal(mustRead(t, filepath.Join(dist, p)), mustRead(t, filepath.Join(dist2, p))) {
					t.Errorf("%s: a second build gives different bytes", p)
				}
			}
		}
	})
}

// defineBlock is the body of `define NAME` in a Makefile.
func defineBlock(t *testing.T, file, name string) string {
	t.Helper()
	var out []string
	on := false
	for _, l := range strings.Split(string(mustRead(t, file)), "\n") {
		switch {
		case !on && l == "define "+name:
			on = true
		case on && strings.HasPrefix(l, "endef"):
			return strings.Join(out, "\n") + "\n"
		case on:
			out = append(out, l)
		}
	}
	t.Fatalf("%s: no define %s", file, name)
	return ""
}

// checkAPKScripts: the scripts are OpenWrt 25.12's (package-pack.mk):
// post-install runs default_postinst then the package's postinst block,
// post-upgrade the same with PKG_UPGRADE=1, pre-deinstall default_prerm then
// the prerm block, post-deinstall the postrm block; each parses (sh -n,
// busybox sh -n) and does nothing in an image build (IPKG_INSTROOT set).
func checkAPKScripts(t *testing.T, mk, pkg string, scripts map[string]any, own bool) {
	t.Helper()
	head := "#!/bin/sh\n[ \"${IPKG_NO_SCRIPT}\" = \"1\" ] && exit 0\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n" +
		". ${IPKG_INSTROOT}/lib/functions.sh\nexport root=\"${IPKG_INSTROOT}\"\nexport pkgname=\"" + pkg + "\"\n"
	post := head + "add_group_and_user\ndefault_postinst\n"
	pre := "#!/bin/sh\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\n" +
		"export root=\"${IPKG_INSTROOT}\"\nexport pkgname=\"" + pkg + "\"\ndefault_prerm\n"
	want := map[string]string{}
	if own {
		unescape := func(s string) string { return strings.ReplaceAll(s, "$$", "$") }
		post += unescape(defineBlock(t, mk, "Package/"+pkg+"/postinst"))
		pre += unescape(defineBlock(t, mk, "Package/"+pkg+"/prerm"))
		want["post-deinstall"] = unescape(defineBlock(t, mk, "Package/"+pkg+"/postrm"))
	} else {
		post += "[ -n \"${IPKG_INSTROOT}\" ] || {\n\trm -f /tmp/luci-indexcache /tmp/luci-indexcache.*\n\trm -rf /tmp/luci-modulecache/\n\tkillall -HUP rpcd 2>/dev/null\n\texit 0\n}\n"
	}
	want["post-install"] = post
	want["post-upgrade"] = "#!/bin/sh\nexport PKG_UPGRADE=1\n" + strings.TrimPrefix(post, "#!/bin/sh\n")
	want["pre-deinstall"] = pre
	got := map[string]string{}
	for k, v := range scripts {
		got[k], _ = v.(string)
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("script %s:\n%s\nwant:\n%s", k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected script %s", k)
			}
		}
	}
	shells := [][]string{{"sh", "-n"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh", "-n"})
	}
	dir := t.TempDir()
	for name, s := range got {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, "#!/bin/sh\n") {
			t.Errorf("%s: does not start with #!/bin/sh", name)
		}
		for _, sh := range shells {
			if out, err := exec.Command(sh[0], append(sh[1:], p)...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), name, err, out)
			}
		}
		cmd := exec.Command("/bin/sh", p)
		cmd.Env = []string{"IPKG_INSTROOT=" + dir + "/image", "PATH=" + dir + "/nothing"}
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s in an image build: %v, output %q; want nothing done, exit 0", name, err, out)
		}
	}
}

// checkELF: a static executable for the architecture.
func checkELF(t *testing.T, arch string, machine elf.Machine, data elf.Data, class elf.Class, bin []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s binary: %v", arch, err)
	}
	defer f.Close()
	if f.Machine != machine || f.Data != data || f.Class != class || f.Type != elf.ET_EXEC {
		t.Errorf("%s binary: %v %v %v %v, want %v %v %v ET_EXEC", arch, f.Machine, f.Data, f.Class, f.Type, machine, data, class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s binary has an interpreter: not static", arch)
		}
	}
}

// runBinary runs exe --version natively (x86_64 here) or under qemu-user;
// a missing qemu fails under CI and skips the run elsewhere.
func runBinary(t *testing.T, arch, qemu, exe string) {
	t.Helper()
	var run []string
	switch {
	case qemu != "":
		if _, err := exec.LookPath(qemu); err != nil {
			testlan.SkipOrFail(t, "%s not found: cannot run the %s binary (qemu-user-static, scripts/install-deps.sh)", qemu, arch)
		}
		run = []string{qemu}
	case arch == "x86_64" && runtime.GOARCH == "amd64":
	default:
		testlan.SkipOrFail(t, "cannot run an %s binary on %s", arch, runtime.GOARCH)
	}
	mk := filepath.Join(repoRoot(t), "Makefile")
	want := "transferometer " + makeVar(t, mk, "PKG_VERSION") + "-" + makeVar(t, mk, "PKG_RELEASE") + "\n"
	argv := append(run, exe, "--version")
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil || string(out) != want {
		t.Errorf("%s --version: %v, %q; want %q", strings.Join(argv, " "), err, out, want)
	}
}
