package owpkg

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/transferometer/transferometer/cmd/mkapk/internal/adb"
)

// Field numbers of apk-tools' schemas (src/apk_adb.h).
const (
	piName = iota + 1
	piVersion
	piHashes
	piDescription
	piArch
	piLicense
	piOrigin
	piMaintainer
	piURL
	piRepoCommit
	piBuildTime
	piInstalledSize
	piFileSize
	piProviderPriority
	piDepends
	piProvides
	piMax = piProvides
)

// Info is a package's metadata (apk's pkginfo).
type Info struct {
	Name, Version, Description, Arch string
	License, Origin, Maintainer, URL string
	Depends, Provides                []string // plain names (no version constraints)
}

// Scripts are apk's maintainer scripts; empty ones are left out.
type Scripts struct {
	PostInstall, PreDeinstall, PostDeinstall, PostUpgrade string
}

// pkginfo writes the pkginfo object; extra sets further fields (index
// entries add file-size and the package's hash).
func pkginfo(b *adb.Builder, in Info, hashes adb.Val, installedSize uint64, extra map[int]adb.Val) adb.Val {
	f := make([]adb.Val, piMax)
	f[piName-1] = b.String(in.Name)
	f[piVersion-1] = b.String(in.Version)
	f[piHashes-1] = hashes
	f[piDescription-1] = b.String(in.Description)
	f[piArch-1] = b.String(in.Arch)
	f[piLicense-1] = b.String(in.License)
	f[piOrigin-1] = b.String(in.Origin)
	f[piMaintainer-1] = b.String(in.Maintainer)
	f[piURL-1] = b.String(in.URL)
	f[piInstalledSize-1] = b.Int(installedSize)
	f[piDepends-1] = deps(b, in.Depends)
	f[piProvides-1] = deps(b, in.Provides)
	for k, v := range extra {
		f[k-1] = v
	}
	return b.Object(f...)
}

// deps writes a dependency array: one object per name (field 1, the name;
// no version constraint), sorted and unique as apk-tools keeps them.
func deps(b *adb.Builder, names []string) adb.Val {
	s := append([]string(nil), names...)
	sort.Strings(s)
	var items []adb.Val
	for i, n := range s {
		if i > 0 && s[i-1] == n {
			continue
		}
		items = append(items, b.Object(b.String(n)))
	}
	return b.Array(items)
}

// acl is the acl object: mode, owner root:root.
func acl(b *adb.Builder, mode uint64) adb.Val {
	return b.Object(b.Int(mode), b.String("root"), b.String("root"))
}

const (
	sIFLNK = 0o120000
)

type dirEntry struct {
	name  string
	files []File
}

// layout groups files by directory as apk mkpkg lays them out: every
// directory on the way to a file, the root included, each with its files;
// directories and files sorted by name (byte order).
func layout(files []File) ([]dirEntry, error) {
	dirs := map[string][]File{"": nil}
	seen := map[string]bool{}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("apk: %q is not a clean absolute file path", f.Path)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("apk: %s twice", f.Path)
		}
		seen[f.Path] = true
		d := strings.TrimPrefix(path.Dir(f.Path), "/")
		dirs[d] = append(dirs[d], f)
		for p := d; p != "" && p != "."; p = path.Dir(p) {
			if _, ok := dirs[p]; !ok {
				dirs[p] = nil
			}
			if path.Dir(p) == "." {
				break
			}
		}
	}
	var names []string
	for d := range dirs {
		if seen["/"+d] {
			return nil, fmt.Errorf("apk: /%s is both a file and a directory", d)
		}
		names = append(names, d)
	}
	sort.Strings(names)
	out := make([]dirEntry, 0, len(names))
	for _, n := range names {
		fs := dirs[n]
		sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
		out = append(out, dirEntry{n, fs})
	}
	return out, nil
}

// BuildAPK makes a v3 .apk as `apk mkpkg` does: the package object (info,
// paths, scripts) in the ADB block, the pkginfo `hashes` field being the
// package's unique id (the first 20 bytes of the SHA-256 of the ADB block
// with the id zeroed), then one DATA block per non-empty regular file,
// headed by its directory and file index. mtime is every file's time.
// The result is deflate-compressed, apk-tools' default.
func BuildAPK(in Info, files []File, sc Scripts, mtime int64) (*Built, error) {
	dirs, err := layout(files)
	if err != nil {
		return nil, err
	}
	b := adb.NewBuilder()
	var installed uint64
	var paths []adb.Val
	type blk struct{ di, fi int }
	var data []blk
	for di, d := range dirs {
		var items []adb.Val
		for fi, f := range d.files {
			name := b.String(path.Base(f.Path))
			var v adb.Val
			if f.Link != "" {
				target := binary.LittleEndian.AppendUint16(nil, sIFLNK)
				target = append(target, f.Link...)
				v = b.Object(name, acl(b, 0o777), b.Int(uint64(len(f.Link))), b.Int(uint64(mtime)), adb.Null, b.Blob(target))
			} else {
				sum := sha256.Sum256(f.Data)
				v = b.Object(name, acl(b, uint64(f.Mode.Perm())), b.Int(uint64(len(f.Data))), b.Int(uint64(mtime)), b.Blob(sum[:]))
				installed += uint64(len(f.Data))
				if len(f.Data) > 0 {
					data = append(data, blk{di, fi})
				}
			}
			items = append(items, v)
		}
		paths = append(paths, b.Object(b.String(d.name), acl(b, 0o755), b.Array(items)))
	}
	if installed == 0 {
		installed = 1
	}
	uid := b.Blob(make([]byte, 20))
	info := pkginfo(b, in, uid, installed, nil)
	var scripts adb.Val
	if sc != (Scripts{}) {
		// trigger, pre-install, post-install, pre-deinstall,
		// post-deinstall, pre-upgrade, post-upgrade
		scripts = b.Object(adb.Null, adb.Null, b.String(sc.PostInstall), b.String(sc.PreDeinstall),
			b.String(sc.PostDeinstall), adb.Null, b.String(sc.PostUpgrade))
	}
	b.SetRoot(b.Object(info, b.Array(paths), scripts))
	payload, err := b.Payload()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	b.Patch(adb.BlobOffset(uid), sum[:20])
	payload, _ = b.Payload()

	f := &adb.File{Schema: adb.SchemaPackage, ADB: payload}
	for _, d := range data {
		hdr := binary.LittleEndian.AppendUint32(nil, uint32(d.di+1))
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(d.fi+1))
		f.Data = append(f.Data, append(hdr, dirs[d.di].files[d.fi].Data...))
	}
	out, err := f.Deflated()
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(payload)
	return &Built{File: out, Entry: IndexEntry{Info: in, InstalledSize: installed, Identity: id[:], FileSize: uint64(len(out))}}, nil
}

// Built is a package file and its entry for the repository index.
type Built struct {
	File  []byte
	Entry IndexEntry
}

// IndexEntry is one package of a repository index: its metadata, its
// installed size, the SHA-256 of its ADB block (apk's identity of the
// package, checked when it is fetched) and its file size.
type IndexEntry struct {
	Info          Info
	InstalledSize uint64
	Identity      []byte
	FileSize      uint64
}

// BuildIndex makes packages.adb: an index object with the packages' info,
// sorted by name (apk-tools sorts by name, then by version order; a feed
// here holds one version per name), signed when key is given (a SIG block as
// `apk mkndx --sign-key` writes it). Without a key the same entries give
// the same bytes.
func BuildIndex(entries []IndexEntry, key crypto.Signer) ([]byte, error) {
	es := append([]IndexEntry(nil), entries...)
	sort.SliceStable(es, func(i, j int) bool { return es[i].Info.Name < es[j].Info.Name })
	b := adb.NewBuilder()
	var pkgs []adb.Val
	for _, e := range es {
		pkgs = append(pkgs, pkginfo(b, e.Info, b.Blob(e.Identity), e.InstalledSize,
			map[int]adb.Val{piFileSize: b.Int(e.FileSize)}))
	}
	b.SetRoot(b.Object(adb.Null, b.Array(pkgs)))
	payload, err := b.Payload()
	if err != nil {
		return nil, err
	}
	f := &adb.File{Schema: adb.SchemaIndex, ADB: payload}
	if key != nil {
		sig, err := adb.Sign(adb.SchemaIndex, payload, key)
		if err != nil {
			return nil, err
		}
		f.Sigs = [][]byte{sig}
	}
	return f.Deflated()
}
