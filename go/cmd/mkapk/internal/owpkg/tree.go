package owpkg

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// BinToken is files.manifest's SRC for the binary built from go/.
const BinToken = "@transferometer"

// File is one entry of a package's data tree: a regular file (Data, Mode)
// or a symlink (Link). Path is absolute, as on the router.
type File struct {
	Path string
	Mode fs.FileMode // permission bits of a regular file
	Data []byte
	Link string
}

// ReadManifest reads files.manifest (MODE SRC DEST per line; MODE 0644,
// 0755 or `link`) into the package's files, SRC relative to root and the
// binary read from bin.
func ReadManifest(root, bin string) ([]File, error) {
	f, err := os.Open(filepath.Join(root, "files.manifest"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []File
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w := strings.Fields(line)
		if len(w) != 3 {
			return nil, fmt.Errorf("files.manifest:%d: want MODE SRC DEST", n)
		}
		src := filepath.Join(root, w[1])
		if w[1] == BinToken {
			src = bin
		}
		if w[0] == "link" {
			t, err := os.Readlink(src)
			if err != nil {
				return nil, fmt.Errorf("files.manifest:%d: %w", n, err)
			}
			out = append(out, File{Path: w[2], Link: t})
			continue
		}
		mode, err := strconv.ParseUint(w[0], 8, 32)
		if err != nil || (mode != 0o644 && mode != 0o755) {
			return nil, fmt.Errorf("files.manifest:%d: mode %q: want 0644, 0755 or link", n, w[0])
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("files.manifest:%d: %w", n, err)
		}
		out = append(out, File{Path: w[2], Mode: fs.FileMode(mode), Data: data})
	}
	return out, sc.Err()
}

// ReadLuCITree is luci-app-transferometer's data tree as luci.mk installs
// it: htdocs/ to /www, root/ to /; modes 0644, or 0755 for a file
// executable in the repository.
func ReadLuCITree(dir string) ([]File, error) {
	var out []File
	for _, top := range []struct{ src, dest string }{{"htdocs", "/www"}, {"root", "/"}} {
		base := filepath.Join(dir, top.src)
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s: not a regular file", p)
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(base, p)
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if fi.Mode().Perm()&0o100 != 0 {
				mode = 0o755
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, File{Path: path.Join(top.dest, filepath.ToSlash(rel)), Mode: mode, Data: data})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SortFiles orders files by path.
func SortFiles(fs []File) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
}
