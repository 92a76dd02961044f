// Command mkapk builds this repository's OpenWrt packages for apk-tools 3
// (OpenWrt 25.12 and later) and the feed indexes of `make apk` and
// `make ipk`, without an OpenWrt SDK or apk-tools. It is a build tool: the
// router's binary does not link it.
//
//	mkapk apk -root DIR -out DIR [-epoch N] [-version V] [-key PEM] ARCH=BINARY...
//	    OUT/ARCH/transferometer-VERSION.apk, luci-app-transferometer-VERSION.apk
//	    and packages.adb (signed with the key when one is given) per ARCH.
//	    With them, in every ARCH: luci-i18n-transferometer-LANG-VERSION.apk
//	    for each language of luci-app-transferometer/po.
//	mkapk ipk-depends -root DIR
//	    the opkg Depends field of transferometer's .ipk.
//	mkapk luci-i18n -root DIR -out DIR
//	    the translation packages' trees for the .ipk build: OUT/NAME/data/
//	    and OUT/NAME/postinst-pkg, and a line "NAME<TAB>DESCRIPTION" each.
//	mkapk po2lmo IN.po OUT.lmo
//	    LuCI's po2lmo: the .lmo catalogue of a .po file.
//	mkapk opkg-index DIR
//	    DIR/Packages and DIR/Packages.gz for the .ipk files in DIR.
package main

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/transferometer/transferometer/cmd/mkapk/internal/adb"
	"github.com/transferometer/transferometer/cmd/mkapk/internal/owpkg"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkapk:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: mkapk apk|ipk-depends|luci-i18n|po2lmo|opkg-index ...")
	}
	switch args[0] {
	case "apk":
		return cmdAPK(args[1:])
	case "ipk-depends":
		fs := flag.NewFlagSet("ipk-depends", flag.ContinueOnError)
		root := fs.String("root", ".", "repository root")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		m, err := owpkg.ReadMakefile(filepath.Join(*root, "Makefile"))
		if err != nil {
			return err
		}
		d, err := owpkg.ReadDeps(m, "transferometer")
		if err != nil {
			return err
		}
		fmt.Println(d.Opkg())
		return nil
	case "luci-i18n":
		return cmdLuCII18n(args[1:])
	case "po2lmo":
		if len(args) != 3 {
			return errors.New("usage: mkapk po2lmo IN.po OUT.lmo")
		}
		return po2lmo(args[1], args[2])
	case "opkg-index":
		if len(args) != 2 {
			return errors.New("usage: mkapk opkg-index DIR")
		}
		return owpkg.WriteOpkgIndex(args[1])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func cmdAPK(args []string) error {
	fs := flag.NewFlagSet("apk", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root")
	out := fs.String("out", "dist/apk", "output directory")
	epoch := fs.Int64("epoch", -1, "every file's mtime (SOURCE_DATE_EPOCH)")
	version := fs.String("version", "", "version instead of the Makefile's (tests build older ones)")
	keyFile := fs.String("key", "", "PEM private key (EC or RSA) to sign packages.adb with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *epoch < 0 {
		return errors.New("-epoch is required")
	}
	if fs.NArg() == 0 {
		return errors.New("no ARCH=BINARY given")
	}
	var key crypto.Signer
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		if key, err = adb.ParsePrivateKey(b); err != nil {
			return fmt.Errorf("%s: %w", *keyFile, err)
		}
	}
	repo := owpkg.Repo{Root: *root, Version: *version}
	luci, err := repo.LuCI()
	if err != nil {
		return err
	}
	luciBuilt, err := owpkg.BuildAPK(luci.Info, luci.Files, luci.Scripts, *epoch)
	if err != nil {
		return fmt.Errorf("%s: %w", luci.Info.Name, err)
	}
	i18n, err := buildTranslations(repo, *epoch)
	if err != nil {
		return err
	}
	for _, a := range fs.Args() {
		arch, bin, ok := strings.Cut(a, "=")
		if !ok || arch == "" || bin == "" || strings.ContainsAny(arch, "/ ") {
			return fmt.Errorf("%q: want ARCH=BINARY", a)
		}
		p, err := repo.Transferometer(arch, bin)
		if err != nil {
			return err
		}
		built, err := owpkg.BuildAPK(p.Info, p.Files, p.Scripts, *epoch)
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.Info.Name, arch, err)
		}
		dir := filepath.Join(*out, arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		entries := []owpkg.IndexEntry{built.Entry, luciBuilt.Entry}
		files := map[string][]byte{
			p.Info.Name + "-" + p.Info.Version + ".apk":       built.File,
			luci.Info.Name + "-" + luci.Info.Version + ".apk": luciBuilt.File,
		}
		for _, b := range i18n {
			entries = append(entries, b.Entry)
			files[b.Entry.Info.Name+"-"+b.Entry.Info.Version+".apk"] = b.File
		}
		ndx, err := owpkg.BuildIndex(entries, key)
		if err != nil {
			return err
		}
		files["packages.adb"] = ndx
		for name, data := range files {
			if err := owpkg.WriteFileAtomic(filepath.Join(dir, name), data); err != nil {
				return err
			}
		}
		fmt.Println(dir)
	}
	return nil
}
