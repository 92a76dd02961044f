package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/lmo"
)

// i18nPkg is what luci.mk's LuciTranslation makes of one po/ directory of
// luci-app-transferometer: luci-i18n-transferometer-CODE (po/zh_Hans gives
// zh-cn: LUCI_LC_ALIAS), depending on the app, holding the catalogue and a
// uci-defaults script that adds the language to LuCI's list.
type i18nPkg struct {
	dir, code, name, description string
	files                        map[string]luciFile
	postinst                     string // luci.mk's postinst block
}

// luciI18n lists the translation packages the po/ directories call for,
// from the .po files themselves (the catalogue compiled as po2lmo does; the
// lmo package's test data holds po2lmo's own output) and luci.mk's rules.
func luciI18n(t *testing.T) []i18nPkg {
	t.Helper()
	titles := map[string][2]string{ // po dir -> LuCI code, LUCI_LANG title
		"de":      {"de", "Deutsch (German)"},
		"zh_Hans": {"zh-cn", "简体中文 (Chinese Simplified)"},
	}
	poDir := filepath.Join(repoRoot(t), "luci-app-transferometer", "po")
	ents, err := os.ReadDir(poDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []i18nPkg
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "templates" {
			continue
		}
		lang, ok := titles[e.Name()]
		if !ok {
			t.Fatalf("po/%s: a language this test does not know; add its LuCI code and title", e.Name())
		}
		name := "luci-i18n-transferometer-" + lang[0]
		cat, err := lmo.Compile(mustRead(t, filepath.Join(poDir, e.Name(), "transferometer.po")))
		if err != nil || cat == nil {
			t.Fatalf("po/%s: %v (or nothing translated)", e.Name(), err)
		}
		defaults := "/etc/uci-defaults/" + name
		out = append(out, i18nPkg{
			dir: e.Name(), code: lang[0], name: name,
			description: "Translation for luci-app-transferometer - " + lang[1],
			files: map[string]luciFile{
				defaults: {mode: 0o644, data: []byte("uci set luci.languages." + strings.ReplaceAll(lang[0], "-", "_") + "='" + lang[1] + "'; uci commit luci\n")},
				"/usr/lib/lua/luci/i18n/transferometer." + lang[0] + ".lmo": {mode: 0o644, data: cat},
			},
			// luci.mk's block, guarded (owpkg/i18n.go: default_postinst
			// has run and removed the script already).
			postinst: "[ -n \"${IPKG_INSTROOT}\" ] || {\n\t[ ! -f " + defaults + " ] || { (. " + defaults + ") && rm -f " + defaults + "; }\n\texit 0\n}\n",
		})
	}
	if len(out) < 2 {
		t.Fatalf("translation packages %v: want de and zh-cn at least", out)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// checkCatalogue reads a packaged .lmo the way LuCI does (the key is the
// hash of the msgid) for words of every language's page.
func checkCatalogue(t *testing.T, p i18nPkg, b []byte) {
	t.Helper()
	es, err := lmo.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	byKey := map[uint32]string{}
	for _, e := range es {
		byKey[e.Key] = e.Value
	}
	want := map[string]map[string]string{
		"de":    {"Settings": "Einstellungen", "Usage": "Verbrauch", "Reset counters": "Zähler zurücksetzen"},
		"zh-cn": {"Settings": "设置", "Usage": "用量", "Reset counters": "重置计数器"},
	}[p.code]
	for id, v := range want {
		if got := byKey[lmo.Hash([]byte(id))]; got != v {
			t.Errorf("%s: %q translates to %q, want %q", p.name, id, got, v)
		}
	}
}

// wantI18nAPKTree is what the translation packages install under apk: their
// files and /lib/apk/packages lists, as wantLuCITree.
func wantI18nAPKTree(t *testing.T, pkgs []i18nPkg) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, p := range pkgs {
		var list []string
		for dst, f := range p.files {
			want[dst] = fmtMode(f.mode) + " " + sumHex(f.data)
			list = append(list, dst)
		}
		sort.Strings(list)
		want["/lib/apk/packages/"+p.name+".list"] = "0644 " + sumHex([]byte(strings.Join(list, "\n")+"\n"))
	}
	return want
}

// The translation packages installed by apk-tools 3 into a router root
// (pkgscripts_test.go's, scripts run chrooted with busybox): their
// uci-defaults script, run by base-files' default_postinst, adds the
// language to LuCI's list (uci set luci.languages.CODE='TITLE'; uci commit
// luci) and is gone afterwards, all without a word; removal takes the
// catalogue away.
func TestAPKI18nScriptsOnRouter(t *testing.T) {
	apk := apkOracle(t)
	dist, build := t.TempDir(), t.TempDir()
	buildAPKs(t, dist, build, "x86_64")
	stand := standIns(t, apk, "libc", "kmod-nft-core", "luci-base")
	version := apkVersion(t)
	r := routerRoot(t)
	// uci that succeeds (the shared stand-in fails every call, as a router
	// without the settings the package scripts look up would).
	if err := os.WriteFile(filepath.Join(r, "sbin/uci"), []byte("#!/bin/sh\necho \"uci $*\" >> /tmp/calls\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	apkRun := func(args ...string) string { t.Helper(); return apkScripts(t, apk, r, args...) }
	pkgs := []string{
		filepath.Join(dist, "x86_64", "transferometer-"+version+".apk"),
		filepath.Join(dist, "x86_64", "luci-app-transferometer-"+version+".apk"),
	}
	i18n := luciI18n(t)
	var names []string
	for _, p := range i18n {
		pkgs = append(pkgs, filepath.Join(dist, "x86_64", p.name+"-"+version+".apk"))
		names = append(names, p.name)
	}
	out := apkRun(append(append([]string{"add", "--initdb"}, stand...), pkgs...)...)
	quietAPK(t, "install", out)
	got := calls(t, r)
	for _, p := range i18n {
		title := strings.TrimPrefix(p.description, "Translation for luci-app-transferometer - ")
		inOrder(t, p.name, got, []string{"uci set luci.languages." + strings.ReplaceAll(p.code, "-", "_") + "=" + title, "uci commit luci"})
		if _, err := os.Stat(filepath.Join(r, "etc/uci-defaults", p.name)); !os.IsNotExist(err) {
			t.Errorf("%s: the uci-defaults script is still there after the install (%v)", p.name, err)
		}
		if _, err := os.Stat(filepath.Join(r, "usr/lib/lua/luci/i18n/transferometer."+p.code+".lmo")); err != nil {
			t.Errorf("%s: catalogue not installed: %v", p.name, err)
		}
	}
	apkRun(append([]string{"del"}, names...)...)
	for _, p := range i18n {
		if _, err := os.Stat(filepath.Join(r, "usr/lib/lua/luci/i18n/transferometer."+p.code+".lmo")); !os.IsNotExist(err) {
			t.Errorf("%s: catalogue still there after apk del (%v)", p.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(r, "www/luci-static/resources/view/transferometer/usage.js")); err != nil {
		t.Errorf("removing the translations took the app with them: %v", err)
	}
}
