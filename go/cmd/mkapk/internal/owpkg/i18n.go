package owpkg

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/transferometer/transferometer/internal/lmo"
)

// luci.mk's language table (LUCI_LANG.*): a po/ directory luci.mk turns
// into a translation package, with the title that package's description and
// LuCI's language list show.
var luciLangTitle = map[string]string{
	"ar": "العربية (Arabic)", "bg": "български (Bulgarian)", "bn_BD": "বাংলা (Bengali)",
	"ca": "Català (Catalan)", "cs": "Čeština (Czech)", "de": "Deutsch (German)",
	"el": "Ελληνικά (Greek)", "en": "English", "es": "Español (Spanish)",
	"fi": "Suomi (Finnish)", "fr": "Français (French)", "he": "עִבְרִית (Hebrew)",
	"hi": "हिंदी (Hindi)", "hu": "Magyar (Hungarian)", "it": "Italiano (Italian)",
	"ja": "日本語 (Japanese)", "ko": "한국어 (Korean)", "mr": "Marāṭhī (Marathi)",
	"ms": "Bahasa Melayu (Malay)", "nb_NO": "Norsk (Norwegian)", "nl": "Nederlands (Dutch)",
	"pl": "Polski (Polish)", "pt_BR": "Português do Brasil (Brazilian Portuguese)",
	"pt": "Português (Portuguese)", "ro": "Română (Romanian)", "ru": "Русский (Russian)",
	"sk": "Slovenčina (Slovak)", "sv": "Svenska (Swedish)", "tr": "Türkçe (Turkish)",
	"uk": "Українська (Ukrainian)", "vi": "Tiếng Việt (Vietnamese)",
	"zh_Hans": "简体中文 (Chinese Simplified)", "zh_Hant": "繁體中文 (Chinese Traditional)",
}

// luci.mk's LUCI_LC_ALIAS.*: the code LuCI names the package and the
// catalogue by (po/zh_Hans gives luci-i18n-*-zh-cn and *.zh-cn.lmo, the
// language LuCI's dispatcher loads for zh-cn).
var luciLangAlias = map[string]string{"bn_BD": "bn", "nb_NO": "no", "pt_BR": "pt-br", "zh_Hans": "zh-cn", "zh_Hant": "zh-tw"}

// Translation is one luci-i18n-BASENAME-CODE package of the LuCI app.
type Translation struct {
	Dir      string // the po/ directory: de, zh_Hans
	Code     string // LuCI's code: de, zh-cn
	Tree     []File // what luci.mk installs (the .ipk's data)
	Package         // the .apk: Tree and apk's lists
	Postinst string // luci.mk's postinst block
}

// LuCITranslations are the translation packages luci.mk's LuciTranslation
// makes of luci-app-transferometer/po: one per directory of po/ other than
// templates that is in luci.mk's language table, named
// luci-i18n-BASENAME-CODE, depending on the app, holding each LANG/NAME.po
// compiled (as po2lmo) to /usr/lib/lua/luci/i18n/NAME.CODE.lmo and the
// uci-defaults script that adds the language to LuCI's list, which
// default_postinst runs and removes (the postinst block too, if it is still
// there).
func (r Repo) LuCITranslations() ([]*Translation, error) {
	app, err := r.LuCI()
	if err != nil {
		return nil, err
	}
	base := luciBasename(app.Info.Name)
	poDir := filepath.Join(r.Root, "luci-app-transferometer", "po")
	ents, err := os.ReadDir(poDir)
	if err != nil {
		return nil, err
	}
	var out []*Translation
	for _, e := range ents {
		dir := e.Name()
		if !e.IsDir() || dir == "templates" {
			continue
		}
		title, ok := luciLangTitle[dir]
		if !ok {
			// luci.mk would define a package with an empty title and
			// DEFAULT on a LUCI_LANG_ symbol that does not exist: refuse
			// what the buildroot would not build usefully.
			return nil, fmt.Errorf("po/%s: not a language of luci.mk (LUCI_LANG.%s)", dir, dir)
		}
		code := dir
		if a, ok := luciLangAlias[dir]; ok {
			code = a
		}
		name := "luci-i18n-" + base + "-" + code
		defaults := "/etc/uci-defaults/" + name
		files := []File{{
			Path: defaults, Mode: 0o644,
			Data: []byte("uci set luci.languages." + strings.ReplaceAll(code, "-", "_") + "='" + title + "'; uci commit luci\n"),
		}}
		pos, err := filepath.Glob(filepath.Join(poDir, dir, "*.po"))
		if err != nil {
			return nil, err
		}
		sort.Strings(pos)
		for _, p := range pos {
			src, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			b, err := lmo.Compile(src)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if b == nil {
				continue // po2lmo writes no file for a catalogue without translations
			}
			files = append(files, File{
				Path: "/usr/lib/lua/luci/i18n/" + strings.TrimSuffix(filepath.Base(p), ".po") + "." + code + ".lmo",
				Mode: 0o644, Data: b,
			})
		}
		if len(files) == 1 {
			return nil, fmt.Errorf("po/%s: no .po file with a translation", dir)
		}
		tree := files
		files, err = withAPKLists(name, files, nil)
		if err != nil {
			return nil, err
		}
		// luci.mk's postinst block, with one guard: base-files'
		// default_postinst has run the package's uci-defaults scripts and
		// removed them already, and luci.mk's bare `. SCRIPT` then prints
		// "can't open" on every install; run it only if it is still there.
		post := "[ -n \"${IPKG_INSTROOT}\" ] || {\n" +
			"\t[ ! -f " + defaults + " ] || { (. " + defaults + ") && rm -f " + defaults + "; }\n" +
			"\texit 0\n}\n"
		in := app.Info
		in.Name = name
		in.Description = "Translation for " + app.Info.Name + " - " + title
		in.Depends = ParseDepends(app.Info.Name)
		in.Provides = []string{name + "-any"}
		out = append(out, &Translation{
			Dir: dir, Code: code, Postinst: post, Tree: tree,
			Package: Package{Info: in, Files: files, Scripts: APKScripts(name, post, "", "")},
		})
	}
	return out, nil
}

// luciBasename is luci.mk's LUCI_BASENAME: the name without luci-TYPE-.
func luciBasename(name string) string {
	parts := strings.SplitN(name, "-", 3)
	if len(parts) == 3 && parts[0] == "luci" {
		return parts[2]
	}
	return name
}
