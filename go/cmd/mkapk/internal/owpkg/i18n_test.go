package owpkg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// i18nRepo is a repository with this one's Makefiles and the given po/
// tree of luci-app-transferometer (directory -> file -> content).
func i18nRepo(t *testing.T, po map[string]map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"Makefile", "luci-app-transferometer/Makefile"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"htdocs", "root"} {
		if err := os.MkdirAll(filepath.Join(root, "luci-app-transferometer", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for dir, files := range po {
		p := filepath.Join(root, "luci-app-transferometer", "po", dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(p, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

const po1 = "msgid \"\"\nmsgstr \"Plural-Forms: nplurals=1; plural=0;\\n\"\n\nmsgid \"Settings\"\nmsgstr \"设置\"\n"

// TestLuCITranslations: luci.mk's rules for the translation packages: the
// po directory's alias (zh_Hans -> zh-cn), templates skipped, one catalogue
// per .po named after it, the uci-defaults line, and the refusals.
func TestLuCITranslations(t *testing.T) {
	root := i18nRepo(t, map[string]map[string]string{
		"templates": {"transferometer.pot": "msgid \"\"\nmsgstr \"\"\n"},
		"zh_Hans":   {"transferometer.po": po1, "extra.po": po1},
		"pt_BR":     {"transferometer.po": strings.Replace(po1, "设置", "Configurações", 1)},
	})
	ts, err := Repo{Root: root}.LuCITranslations()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range ts {
		var files []string
		for _, f := range tr.Tree {
			files = append(files, f.Path)
		}
		got = append(got, tr.Info.Name+" "+strings.Join(tr.Info.Depends, ",")+" "+strings.Join(files, ","))
	}
	want := []string{
		"luci-i18n-transferometer-pt-br libc,luci-app-transferometer /etc/uci-defaults/luci-i18n-transferometer-pt-br,/usr/lib/lua/luci/i18n/transferometer.pt-br.lmo",
		"luci-i18n-transferometer-zh-cn libc,luci-app-transferometer /etc/uci-defaults/luci-i18n-transferometer-zh-cn,/usr/lib/lua/luci/i18n/extra.zh-cn.lmo,/usr/lib/lua/luci/i18n/transferometer.zh-cn.lmo",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := string(ts[1].Tree[0].Data); d != "uci set luci.languages.zh_cn='简体中文 (Chinese Simplified)'; uci commit luci\n" {
		t.Errorf("uci-defaults %q", d)
	}
	if ts[1].Info.Description != "Translation for luci-app-transferometer - 简体中文 (Chinese Simplified)" || ts[1].Info.Arch != "noarch" {
		t.Errorf("info %+v", ts[1].Info)
	}

	for name, po := range map[string]map[string]map[string]string{
		"unknown language":   {"xx": {"transferometer.po": po1}},
		"nothing translated": {"de": {"transferometer.po": "msgid \"Settings\"\nmsgstr \"\"\n"}},
		"no po file":         {"de": {"README": "x"}},
	} {
		if _, err := (Repo{Root: i18nRepo(t, po)}).LuCITranslations(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
