package daemon

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/logline"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/neigh"
	"github.com/transferometer/transferometer/internal/netfilter"
	"github.com/transferometer/transferometer/internal/testlan"
)

// The daemon's loop with the fake backend and a driven clock: a simulated
// day of collections, counting the files written under persist_dir with
// inotify (the kernel's own record of writes, not our bookkeeping). The
// real daemon runs in network namespaces in cmd/transferometer.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testSettings keeps everything in a temp dir, with no listeners.
func testSettings(t *testing.T) (string, config.Settings) {
	dir := t.TempDir()
	s := config.Defaults()
	s.LockDir, s.PIDFile = filepath.Join(dir, "lock"), filepath.Join(dir, "pid")
	s.DBDir, s.PersistDir = filepath.Join(dir, "ram"), filepath.Join(dir, "flash")
	s.LivePort, s.LiveTLSPort = 0, 0
	s.Subnets = []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")}
	s.Backend = "nftables" // the fake stands in for it
	return dir, s
}

// openFake opens the daemon's core on a fake kernel.
func openFake(t *testing.T, s config.Settings, dir string, f *netfilter.Fake, now func() time.Time) *account.Core {
	t.Helper()
	c, err := account.Open(s, dir, account.Options{Resident: true, Now: now,
		Backends: func(netfilter.Kind) (netfilter.Backend, error) { return f, nil },
		Host:     netfilter.Host{ConfigDir: dir, FW4Path: filepath.Join(dir, "no-fw4"), KernelRelease: "6.6.73"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// usage is one device's numbers, collected fresh.
func usage(c *account.Core, mac macaddr.MAC) (account.Report, error) {
	r, err := c.Usage(context.Background(), account.UsageQuery{MAC: &mac, Fresh: true})
	if err != nil {
		return account.Report{}, err
	}
	return r.Report()
}

func TestSimulatedDayFlashWrites(t *testing.T) {
	dir, s := testSettings(t)
	if err := os.MkdirAll(s.PersistDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writes := watch(t, s.PersistDir)

	clk := &clock{t: time.Date(2026, 11, 25, 0, 0, 10, 0, time.Local)}
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, clk.now)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	wan := netip.MustParseAddr("10.78.0.2")
	ticks := make(chan time.Time)
	never := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Core: core, ConfigDir: dir, Now: clk.now, Log: testWriter{t},
			Neighbours: func() ([]neigh.Entry, error) {
				return []neigh.Entry{{MAC: mac, Addr: ip}, {MAC: mac, Addr: wan}}, nil
			},
			Tick: func(d time.Duration) (<-chan time.Time, func()) {
				if d == s.RefreshInterval {
					return ticks, func() {}
				}
				return never, func() {}
			},
		})
	}()
	// A first tick at the start time: once it is taken, the loop runs and
	// has planned its first commit a day from now.
	ticks <- clk.now()
	const day = 24 * 60 * 2 // 30 s ticks
	for i := 0; i < day; i++ {
		clk.add(30 * time.Second)
		ticks <- clk.now()
		// The neighbour seeded the rules; the kernel counts traffic.
		for !f.Traffic(counter.HostKey(counter.Upload, ip), 1, 100) {
			time.Sleep(time.Millisecond)
		}
	}
	// One more tick at the same time: sends block until the loop is free,
	// so this one returns once the last collection (and commit) is done.
	ticks <- clk.now()
	if f.Has(counter.HostKey(counter.Upload, wan)) {
		t.Error("a WAN neighbour got rules")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := writes()
	// One commit when the day is up, one at stop: host.db, transfer.db,
	// history.db (midnight passed, so yesterday is history) and hours.db
	// (hours ended) each time.
	want := []string{"host.db", "transfer.db", "history.db", "hours.db", "host.db", "transfer.db", "history.db", "hours.db"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files written under persist_dir in a simulated day: %v, want %v", got, want)
	}
	t.Logf("simulated day: %d collections, %d file writes under persist_dir", day, len(got))
	r, err := usage(core, mac)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(day * 100); r.Hosts[0].UploadBytes != want {
		t.Fatalf("upload = %d, want %d", r.Hosts[0].UploadBytes, want)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// watch records completed writes (a file closed after writing, or renamed
// into place) in dir, and returns a function that lists them.
func watch(t *testing.T, dir string) func() []string {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		testlan.SkipOrFail(t, "inotify: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		var names []string
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if n <= 0 || err != nil {
				return names
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				for i, c := range name {
					if c == 0 {
						name = name[:i]
						break
					}
				}
				names = append(names, string(name))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// TestDisabledWhileRunning: switching enabled to '0' in the file stops the
// counting at the next tick even if nothing restarts the daemon, and the
// last counts still reach flash at stop.
func TestDisabledWhileRunning(t *testing.T) {
	dir, s := testSettings(t)
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, nil)
	mac, _ := macaddr.Parse("02:77:00:00:00:01")
	ip := netip.MustParseAddr("10.77.0.11")
	ticks := make(chan time.Time)
	stop := runDaemon(t, Options{Core: core, ConfigDir: dir,
		Neighbours: func() ([]neigh.Entry, error) { return []neigh.Entry{{MAC: mac, Addr: ip}}, nil },
		Tick:       tickOn(s.RefreshInterval, ticks)})
	ticks <- time.Now()
	if !f.Traffic(counter.HostKey(counter.Download, ip), 1, 500) {
		t.Fatal("not seeded")
	}
	if err := os.WriteFile(filepath.Join(dir, "transferometer"), []byte("config transferometer 'main'\n\toption enabled '0'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The tick that finds enabled '0' may already be the one above (Run
	// reads the file after taking the tick; slow under qemu-user), after
	// which nothing takes ticks: offer them without blocking.
	for deadline := time.Now().Add(5 * time.Second); f.Has(counter.HostKey(counter.Download, ip)); {
		if time.Now().After(deadline) {
			t.Fatal("rules still there after enabled '0'")
		}
		select {
		case ticks <- time.Now():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, tr, err := (ledger.Store{Dir: s.PersistDir}).Peek()
	if err != nil || tr.Totals[mac].DownloadBytes != 500 {
		t.Fatalf("flash copy: %+v %v", tr.Totals, err)
	}
}

// TestStartLogsOneLine: a healthy start says one thing, at info, and
// nothing at warning or error; a clean stop says nothing.
func TestStartLogsOneLine(t *testing.T) {
	dir, s := testSettings(t)
	f := netfilter.NewFake()
	core := openFake(t, s, dir, f, nil)
	var info, problems syncBuffer
	ticks, never := make(chan time.Time), make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Core: core, ConfigDir: dir, Logger: logline.Streams("transferometer", &info, &problems),
			Neighbours: func() ([]neigh.Entry, error) { return nil, nil },
			Tick: func(d time.Duration) (<-chan time.Time, func()) {
				if d == s.RefreshInterval {
					return ticks, func() {}
				}
				return never, func() {}
			}})
	}()
	ticks <- time.Now()
	ticks <- time.Now() // taken once the first collection is done
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := "transferometer: started, counting in the forward hook; live feed off (live_port and live_tls_port 0)\n"
	if info.String() != want || problems.String() != "" {
		t.Errorf("info %q, warnings and errors %q; want info %q and nothing else", info.String(), problems.String(), want)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestWarningsOnce: a warning that stands is logged when it appears, not
// at every collection, and again after it cleared.
func TestWarningsOnce(t *testing.T) {
	var info, problems strings.Builder
	w := &warnings{log: logline.Streams("t", &info, &problems)}
	a := account.Warning{Code: "flow_offloading", Message: "A"}
	b := account.Warning{Code: "lock_timeout", Message: "B"}
	for _, ws := range [][]account.Warning{{a}, {a}, {a, b, b}, {a}, nil, {a}} {
		w.note(ws)
	}
	if got, want := problems.String(), "t: warning: A\nt: warning: B\nt: warning: A\n"; got != want {
		t.Errorf("logged %q, want %q", got, want)
	}
	if info.Len() != 0 {
		t.Errorf("info %q", info.String())
	}
}
