package owpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteOpkgIndex writes DIR/Packages and DIR/Packages.gz for the .ipk files
// in DIR, as OpenWrt's scripts/ipkg-make-index.sh does: each package's
// control file with Filename, Size and SHA256sum put before Description,
// packages sorted by file name, a blank line after each. Packages.gz has no
// name and no time in its header, so the same packages give the same bytes.
func WriteOpkgIndex(dir string) error {
	ipks, err := filepath.Glob(filepath.Join(dir, "*.ipk"))
	if err != nil {
		return err
	}
	if len(ipks) == 0 {
		return fmt.Errorf("%s: no .ipk files", dir)
	}
	sort.Strings(ipks)
	var out bytes.Buffer
	for _, p := range ipks {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		control, err := ipkControl(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sum := sha256.Sum256(b)
		extra := fmt.Sprintf("Filename: %s\nSize: %d\nSHA256sum: %s\n", filepath.Base(p), len(b), hex.EncodeToString(sum[:]))
		i := strings.Index(control, "\nDescription:")
		if i < 0 {
			return fmt.Errorf("%s: control has no Description", p)
		}
		out.WriteString(control[:i+1] + extra + control[i+1:])
		if !strings.HasSuffix(control, "\n") {
			out.WriteString("\n")
		}
		out.WriteString("\n")
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(out.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, "Packages"), out.Bytes()); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, "Packages.gz"), gz.Bytes())
}

// ipkControl is ./control from the ./control.tar.gz of an .ipk (a gzipped
// tar, as OpenWrt's ipkg-build makes them).
func ipkControl(ipk []byte) (string, error) {
	ctl, err := tarMember(ipk, "./control.tar.gz")
	if err != nil {
		return "", err
	}
	c, err := tarMember(ctl, "./control")
	if err != nil {
		return "", err
	}
	return string(c), nil
}

func tarMember(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s", name)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(io.LimitReader(tr, 64<<20))
		}
	}
}

// WriteFileAtomic writes a file through a temporary one in the same
// directory, synced and renamed into place.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
