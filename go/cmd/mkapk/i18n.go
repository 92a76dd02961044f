package main

import (
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/transferometer/transferometer/cmd/mkapk/internal/owpkg"
	"github.com/transferometer/transferometer/internal/lmo"
)

// buildTranslations makes the luci-i18n-transferometer-* .apk files (noarch:
// the same bytes in every architecture's directory).
func buildTranslations(repo owpkg.Repo, epoch int64) ([]*owpkg.Built, error) {
	ts, err := repo.LuCITranslations()
	if err != nil {
		return nil, err
	}
	var out []*owpkg.Built
	for _, t := range ts {
		b, err := owpkg.BuildAPK(t.Info, t.Files, t.Scripts, epoch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Info.Name, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// cmdLuCII18n writes the translation packages' trees for scripts/mkipk.sh.
func cmdLuCII18n(args []string) error {
	fs := flag.NewFlagSet("luci-i18n", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root")
	out := fs.String("out", "", "directory for the trees")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("usage: mkapk luci-i18n -root DIR -out DIR")
	}
	ts, err := owpkg.Repo{Root: *root}.LuCITranslations()
	if err != nil {
		return err
	}
	for _, t := range ts {
		dir := filepath.Join(*out, t.Info.Name)
		for _, f := range t.Tree {
			dst := filepath.Join(dir, "data", filepath.FromSlash(path.Clean(f.Path)))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := owpkg.WriteFileAtomic(dst, f.Data); err != nil {
				return err
			}
			if err := os.Chmod(dst, f.Mode); err != nil {
				return err
			}
		}
		if err := owpkg.WriteFileAtomic(filepath.Join(dir, "postinst-pkg"), []byte(t.Postinst)); err != nil {
			return err
		}
		if strings.ContainsAny(t.Info.Description, "\t\n") {
			return fmt.Errorf("%s: description with a tab or newline", t.Info.Name)
		}
		fmt.Printf("%s\t%s\n", t.Info.Name, t.Info.Description)
	}
	return nil
}

// po2lmo is LuCI's po2lmo: like it, no file when nothing is translated.
func po2lmo(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	b, err := lmo.Compile(src)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if b == nil {
		fmt.Fprintf(os.Stderr, "mkapk: %s: no translation, no %s written\n", in, out)
		return nil
	}
	return owpkg.WriteFileAtomic(out, b)
}
