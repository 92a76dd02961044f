package account

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/testlan"
)

// The ledger's storage failing as a router's does: a RAM disk that is full,
// flash that is read-only, a copy on flash that is damaged or from a newer
// version. Real mounts (tmpfs, read-only binds), the fake kernel.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root to mount")
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		testlan.SkipOrFail(t, "mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// readOnly bind-mounts dir read-only over itself; the returned function
// makes it writable again (the mount is gone at cleanup either way).
func readOnly(t *testing.T, dir string) func() {
	t.Helper()
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		testlan.SkipOrFail(t, "bind mount: %v", err)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	return func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		mounted = false
	}
}

func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			out[e.Name()] = b
		}
	}
	return out
}

func sameFiles(t *testing.T, what string, before, after map[string][]byte) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("%s: %d files, was %d", what, len(after), len(before))
	}
	for n, b := range before {
		if !bytes.Equal(after[n], b) {
			t.Fatalf("%s: %s changed", what, n)
		}
	}
}

// db_dir full: the run fails with a clear error, the files are as they
// were, and once there is room the next run credits every byte.
func TestDBDirFull(t *testing.T) {
	needRoot(t)
	c, f := newCore(t)
	s := c.settings
	s.DBDir = mountTmpfs(t, "64k")
	c = reopenWith(t, c, s)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 10, 10000)
	collect(t, c)
	before := files(t, s.DBDir)

	filler := filepath.Join(s.DBDir, "filler")
	big := bytes.Repeat([]byte("x"), 1<<20)
	os.WriteFile(filler, big, 0o600) // fills the tmpfs; the short write is the point
	f.Traffic(down(ipA), 5, 5000)
	_, err := c.Handle(context.Background(), Event{Kind: NeighAdd, MAC: macB, Addr: ipA6})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "db_dir "+s.DBDir+" is full") || !strings.Contains(err.Error(), "nothing counted is lost") {
		t.Fatalf("event on a full db_dir: %v", err)
	}
	after := files(t, s.DBDir)
	delete(after, "filler")
	sameFiles(t, "db_dir", before, after)
	if f.Has(down(ipA6)) {
		t.Fatal("rules changed although nothing could be saved")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if got := downloaded(t, c, macA); got != 15000 {
		t.Fatalf("after the disk has room: %d, want 15000", got)
	}
}

// persist_dir read-only: commit fails with a clear error, the copy on
// flash is as it was, the working ledger and the rules carry on, and the
// commit succeeds once flash is writable.
func TestPersistDirReadOnly(t *testing.T) {
	needRoot(t)
	c, f := newCore(t)
	s := c.settings
	s.PersistDir = filepath.Join(t.TempDir(), "flash")
	c = reopenWith(t, c, s)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 700)
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := files(t, s.PersistDir)
	writable := readOnly(t, s.PersistDir)

	f.Traffic(down(ipA), 1, 300)
	err := c.Commit(context.Background())
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "persist_dir "+s.PersistDir+" is read-only") {
		t.Fatalf("commit to read-only flash: %v", err)
	}
	sameFiles(t, "persist_dir", before, files(t, s.PersistDir))
	// The cycle went on: the new host gets its rules, the RAM ledger its bytes.
	handle(t, c, NeighAdd, macB, ipA6)
	if !f.Has(down(ipA6)) {
		t.Fatal("rules stopped changing while flash is read-only")
	}
	if got := downloaded(t, c, macA); got != 1000 {
		t.Fatalf("download = %d, want 1000", got)
	}

	writable()
	if err := c.Commit(context.Background()); err != nil {
		t.Fatalf("commit once writable: %v", err)
	}
	_, tr, err := ledger.Store{Dir: s.PersistDir}.Peek()
	if err != nil || tr.Totals[macA].DownloadBytes != 1000 {
		t.Fatalf("committed: %+v, %v", tr.Totals[macA], err)
	}
}

// A damaged copy on flash at the first run after a boot is kept aside and
// reported; what else was committed is restored.
func TestFlashCopyDamagedKeptAside(t *testing.T) {
	c, f := newCore(t)
	s := c.settings
	s.PersistDir = filepath.Join(t.TempDir(), "flash")
	c = reopenWith(t, c, s)
	writeFile(t, s.LeaseFile, "0 02:00:00:00:00:0a 10.77.0.10 laptop *\n")
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 1234)
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	damaged := []byte(`{"version":1,"totals":`)
	writeFile(t, filepath.Join(s.PersistDir, ledger.TransferFile), string(damaged))

	// Reboot: RAM and kernel counters gone.
	if err := os.RemoveAll(s.DBDir); err != nil {
		t.Fatal(err)
	}
	f.Flush()
	c2 := reopen(t, c, "boot-2")
	out := collect(t, c2)
	if !hasWarning(out.Warnings, "flash_recovered") {
		t.Fatalf("no flash_recovered warning: %+v", out.Warnings)
	}
	kept, _ := filepath.Glob(filepath.Join(s.PersistDir, ledger.TransferFile+".corrupt-*"))
	if len(kept) != 1 {
		t.Fatalf("damaged copy not kept aside: %v", kept)
	}
	if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, damaged) {
		t.Fatal("the kept copy is not the damaged file")
	}
	if h := usageOf(t, c2, macA); h.Hostname != "laptop" {
		t.Fatalf("host.db was not restored: %+v", h)
	}
	// A later commit writes a new copy and leaves the kept one.
	if err := c2.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, damaged) {
		t.Fatal("the kept copy changed")
	}
}

// A copy on flash written by a newer version is neither merged nor
// overwritten; every run says so until it is moved away.
func TestFlashCopyNewerNeverOverwritten(t *testing.T) {
	c, f := newCore(t)
	s := c.settings
	s.PersistDir = filepath.Join(t.TempDir(), "flash")
	c = reopenWith(t, c, s)
	if err := os.MkdirAll(s.PersistDir, 0o755); err != nil {
		t.Fatal(err)
	}
	newer := []byte(`{"version":99,"totals":{},"whatever":"a future field"}` + "\n")
	p := filepath.Join(s.PersistDir, ledger.TransferFile)
	writeFile(t, p, string(newer))

	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 50)
	out := collect(t, c)
	if !hasWarning(out.Warnings, "flash_newer") {
		t.Fatalf("no flash_newer warning: %+v", out.Warnings)
	}
	err := c.Commit(context.Background())
	if !errors.Is(err, ledger.ErrNewer) {
		t.Fatalf("commit over a newer copy: %v", err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, newer) {
		t.Fatal("the newer copy was overwritten")
	}
	if _, err := os.Stat(filepath.Join(s.PersistDir, ledger.HostsFile)); !os.IsNotExist(err) {
		t.Fatal("host.db was committed beside the newer transfer.db")
	}
	// Moved away: the next run restores (nothing) and commits again.
	if err := os.Rename(p, p+".from-the-future"); err != nil {
		t.Fatal(err)
	}
	if out := collect(t, c); hasWarning(out.Warnings, "flash_newer") {
		t.Fatalf("still warned: %+v", out.Warnings)
	}
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := downloaded(t, c, macA); got != 50 {
		t.Fatalf("download = %d, want 50", got)
	}
}

// A damaged history in RAM is not committed over the history on flash.
func TestDamagedRAMHistoryNotCommitted(t *testing.T) {
	c, _ := newCore(t)
	s := c.settings
	s.PersistDir = filepath.Join(t.TempDir(), "flash")
	c = reopenWith(t, c, s)
	handle(t, c, NeighAdd, macA, ipA)
	good := ledger.NewHistory()
	good.Days["2026-11-01"] = map[macaddr.MAC]ledger.Usage{macA: {DownloadBytes: 7}}
	if err := (ledger.Store{Dir: s.DBDir}).SaveHistory(good); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	flashHist := filepath.Join(s.PersistDir, ledger.HistoryFile)
	committed, err := os.ReadFile(flashHist)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.DBDir, ledger.HistoryFile), "{garbage")
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(flashHist); !bytes.Equal(b, committed) {
		t.Fatalf("flash history replaced by %q", b)
	}
}
