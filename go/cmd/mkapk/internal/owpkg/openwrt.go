package owpkg

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Repo is this repository as the source of its two OpenWrt packages.
type Repo struct {
	Root    string
	Version string // empty: the Makefile's PKG_VERSION-rPKG_RELEASE
}

// Package is what BuildAPK needs for one package.
type Package struct {
	Info    Info
	Files   []File
	Scripts Scripts
}

func (r Repo) makefile() (*Makefile, error) {
	return ReadMakefile(filepath.Join(r.Root, "Makefile"))
}

// APKVersion is OpenWrt 25.12's version of a package built from the
// Makefile: PKG_VERSION-rPKG_RELEASE (apk's release suffix).
func APKVersion(m *Makefile) (string, error) {
	v, err := m.Var("PKG_VERSION")
	if err != nil {
		return "", err
	}
	rel, err := m.Var("PKG_RELEASE")
	if err != nil {
		return "", err
	}
	return v + "-r" + rel, nil
}

func (r Repo) version(m *Makefile) (string, error) {
	if r.Version != "" {
		return r.Version, nil
	}
	return APKVersion(m)
}

// Transferometer is the transferometer package for one architecture (an
// OpenWrt name, e.g. mipsel_24kc), with the binary at bin.
func (r Repo) Transferometer(arch, bin string) (*Package, error) {
	m, err := r.makefile()
	if err != nil {
		return nil, err
	}
	const name = "transferometer"
	ver, err := r.version(m)
	if err != nil {
		return nil, err
	}
	d, err := ReadDeps(m, name)
	if err != nil {
		return nil, err
	}
	in := Info{
		Name:        name,
		Version:     ver,
		Description: Strip(m.Define("Package/" + name + "/description")),
		Arch:        arch,
		Origin:      "package/" + name,
		URL:         m.DefineVar("Package/"+name, "URL"),
		Depends:     d.APK(),
		Provides:    []string{name + "-any"},
	}
	if in.License, err = m.Var("PKG_LICENSE"); err != nil {
		return nil, err
	}
	if in.Maintainer, err = m.Var("PKG_MAINTAINER"); err != nil {
		return nil, err
	}
	files, err := ReadManifest(r.Root, bin)
	if err != nil {
		return nil, err
	}
	conffiles := strings.Fields(m.Define("Package/" + name + "/conffiles"))
	files, err = withAPKLists(name, files, conffiles)
	if err != nil {
		return nil, err
	}
	post, pre, postrm := m.Script("Package/"+name+"/postinst"), m.Script("Package/"+name+"/prerm"), m.Script("Package/"+name+"/postrm")
	if post == "" || pre == "" || postrm == "" {
		return nil, fmt.Errorf("Makefile: Package/%s needs postinst, prerm and postrm blocks", name)
	}
	return &Package{Info: in, Files: files, Scripts: APKScripts(name, post, pre, postrm)}, nil
}

// LuCI is luci-app-transferometer (noarch), as luci.mk packages it.
func (r Repo) LuCI() (*Package, error) {
	top, err := r.makefile()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(r.Root, "luci-app-transferometer")
	m, err := ReadMakefile(filepath.Join(dir, "Makefile"))
	if err != nil {
		return nil, err
	}
	name, err := m.Var("PKG_NAME")
	if err != nil {
		return nil, err
	}
	ver, err := r.version(top)
	if err != nil {
		return nil, err
	}
	title, err := m.Var("LUCI_TITLE")
	if err != nil {
		return nil, err
	}
	depv, err := m.Var("LUCI_DEPENDS")
	if err != nil {
		return nil, err
	}
	in := Info{
		Name:        name,
		Version:     ver,
		Description: Strip(title),
		Arch:        "noarch",
		Origin:      "package/transferometer/" + name,
		Depends:     ParseDepends(depv),
		Provides:    []string{name + "-any"},
	}
	if in.License, err = m.Var("PKG_LICENSE"); err != nil {
		return nil, err
	}
	if in.URL, err = m.Var("LUCI_URL"); err != nil {
		return nil, err
	}
	if in.Maintainer, err = m.Var("LUCI_MAINTAINER"); err != nil {
		return nil, err
	}
	files, err := ReadLuCITree(dir)
	if err != nil {
		return nil, err
	}
	files, err = withAPKLists(name, files, nil)
	if err != nil {
		return nil, err
	}
	return &Package{Info: in, Files: files, Scripts: APKScripts(name, LuCIPostinst, "", "")}, nil
}

// LuCIPostinst is luci.mk's Package/luci-app-*/postinst: LuCI's caches go,
// rpcd rereads its ACLs (and the menu).
const LuCIPostinst = `[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
`

// withAPKLists adds what OpenWrt 25.12's package-pack.mk puts under
// /lib/apk/packages/: NAME.list (every file and symlink of the package,
// sorted, before these files are added), NAME.conffiles (the conffiles
// block) and NAME.conffiles_static (each existing conffile with its
// SHA-256). default_postinst and default_prerm read the list to find the
// init scripts to enable, start, stop and disable.
func withAPKLists(name string, files []File, conffiles []string) ([]File, error) {
	var list []string
	byPath := map[string]File{}
	for _, f := range files {
		list = append(list, f.Path)
		byPath[f.Path] = f
	}
	sort.Strings(list)
	dir := "/lib/apk/packages/"
	out := append([]File(nil), files...)
	out = append(out, File{Path: dir + name + ".list", Mode: 0o644, Data: []byte(strings.Join(list, "\n") + "\n")})
	if len(conffiles) > 0 {
		out = append(out, File{Path: dir + name + ".conffiles", Mode: 0o644, Data: []byte(strings.Join(conffiles, "\n") + "\n")})
		var static strings.Builder
		for _, c := range conffiles {
			f, ok := byPath[c]
			if !ok || f.Link != "" {
				continue
			}
			sum := sha256.Sum256(f.Data)
			fmt.Fprintf(&static, "%s %s\n", c, hex.EncodeToString(sum[:]))
		}
		if static.Len() > 0 {
			out = append(out, File{Path: dir + name + ".conffiles_static", Mode: 0o644, Data: []byte(static.String())})
		}
	}
	return out, nil
}

// APKScripts writes the maintainer scripts as OpenWrt 25.12's
// package-pack.mk does for apk: post-install runs default_postinst, then
// the package's postinst block; post-upgrade is the same with PKG_UPGRADE=1
// exported; pre-deinstall runs default_prerm, then the prerm block;
// post-deinstall is the postrm block. The blocks' own #! lines go. Note the
// order: under opkg, default_postinst/default_prerm run the blocks before
// they start or stop the init scripts, under apk after.
func APKScripts(name, postinst, prerm, postrm string) Scripts {
	head := "#!/bin/sh\n" +
		"[ \"${IPKG_NO_SCRIPT}\" = \"1\" ] && exit 0\n" +
		"[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n" +
		". ${IPKG_INSTROOT}/lib/functions.sh\n" +
		"export root=\"${IPKG_INSTROOT}\"\n" +
		"export pkgname=\"" + name + "\"\n"
	post := head + "add_group_and_user\ndefault_postinst\n" + noShebang(postinst)
	pre := "#!/bin/sh\n" +
		"[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n" +
		". ${IPKG_INSTROOT}/lib/functions.sh\n" +
		"export root=\"${IPKG_INSTROOT}\"\n" +
		"export pkgname=\"" + name + "\"\n" +
		"default_prerm\n" + noShebang(prerm)
	sc := Scripts{
		PostInstall:  post,
		PostUpgrade:  "#!/bin/sh\nexport PKG_UPGRADE=1\n" + noShebang(post),
		PreDeinstall: pre,
	}
	if postrm != "" {
		sc.PostDeinstall = postrm
	}
	return sc
}

// noShebang drops #! lines, as package-pack.mk's sed '/^\s*#!/d'.
func noShebang(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), "#!") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}
