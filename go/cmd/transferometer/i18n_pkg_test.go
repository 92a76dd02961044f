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
			postinst: "[ -n \"${IPKG_INSTROOT}\" ] || {\n\t(. " + defaults + ") && rm -f " + defaults + "\n\texit 0\n}\n",
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
