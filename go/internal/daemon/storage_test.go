package daemon

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// With flash read-only the daemon keeps counting, says why each commit
// fails, and commits at the first tick after flash is writable again.
func TestDaemonRetriesCommitOnReadOnlyFlash(t *testing.T) {
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root to mount")
	}
	dir, s := testSettings(t)
	s.CommitInterval = time.Minute
	if err := os.MkdirAll(s.PersistDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(s.PersistDir, s.PersistDir, "", syscall.MS_BIND, ""); err != nil {
		testlan.SkipOrFail(t, "bind mount: %v", err)
	}
	ro := true
	t.Cleanup(func() {
		if ro {
			syscall.Unmount(s.PersistDir, syscall.MNT_DETACH)
		}
	})
	if err := syscall.Mount("", s.PersistDir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}

	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.Local)}
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, clk.now)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	ticks, never := make(chan time.Time), make(chan time.Time)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Core: core, ConfigDir: dir, Now: clk.now, Log: &logs,
			Neighbours: func() ([]neigh.Entry, error) { return []neigh.Entry{{MAC: mac, Addr: ip}}, nil },
			Tick: func(d time.Duration) (<-chan time.Time, func()) {
				if d == s.RefreshInterval {
					return ticks, func() {}
				}
				return never, func() {}
			}})
	}()
	tick := func() {
		clk.add(2 * time.Minute) // every tick is past the commit time
		ticks <- clk.now()
	}
	ticks <- clk.now()
	f.Traffic(counter.HostKey(counter.Upload, ip), 1, 100)
	for i := 0; i < 3; i++ {
		tick()
	}
	tick() // the third tick's commit has finished once the fourth is taken
	if got := strings.Count(logs.String(), "is read-only"); got < 2 {
		t.Fatalf("want a read-only error per commit attempt, log:\n%s", logs.String())
	}
	if ents, _ := os.ReadDir(s.PersistDir); len(ents) != 0 {
		t.Fatalf("files appeared on read-only flash: %v", ents)
	}

	if err := syscall.Unmount(s.PersistDir, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	ro = false
	f.Traffic(counter.HostKey(counter.Upload, ip), 1, 11)
	tick()
	tick()
	_, tr, err := ledger.Store{Dir: s.PersistDir}.Peek()
	if err != nil || tr.Totals[mac].UploadBytes != 111 {
		t.Fatalf("committed once writable: %+v, %v (log:\n%s)", tr.Totals[mac], err, logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.PersistDir, ledger.TransferFile)); err != nil {
		t.Fatal(err)
	}
}
