package account

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestSnapshotThroughDaemonCycle: while a cycle of the daemon that started
// from the current snapshot writes transfer.db (and before it writes the
// next snapshot), the snapshot still answers; not once that cycle ended,
// not when the lock is someone else's, and not when another door wrote
// transfer.db before the cycle began.
func TestSnapshotThroughDaemonCycle(t *testing.T) {
	c, f := newCore(t)
	handle(t, c, NeighAdd, macA, ipA)
	res := openFake(t, c.settings, c.configDir, newFakeKernelWith(f), Options{Now: c.now, Resident: true})
	f.Traffic(down(ipA), 1, 100)
	collect(t, res)
	ctx := context.Background()
	fromSnapshot := func() bool {
		t.Helper()
		r, err := res.Usage(ctx, UsageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return r.encoded != nil
	}
	// What a cycle does between its start and the next snapshot: write
	// transfer.db, the lock's PID file naming its process.
	rewrite := func() {
		t.Helper()
		time.Sleep(10 * time.Millisecond) // another mtime, whatever the clock's grain
		_, tr, err := res.store.Peek()
		if err != nil {
			t.Fatal(err)
		}
		if err := res.store.SaveTransfer(tr); err != nil {
			t.Fatal(err)
		}
	}
	holdAs := func(pid int) {
		t.Helper()
		// A held lock: its directory, then the PID file naming the holder.
		if err := os.MkdirAll(c.settings.LockDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.settings.PIDFile, []byte(strconv.Itoa(pid)+"\nstart=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	from := filepath.Join(c.settings.DBDir, snapshotFromFile)

	holdAs(os.Getpid())
	end := res.snapshotThrough()
	rewrite()
	if !fromSnapshot() {
		t.Fatal("mid-cycle: the snapshot did not answer")
	}
	holdAs(os.Getpid() + 1)
	if fromSnapshot() {
		t.Fatal("the lock held by another process: the snapshot answered")
	}
	holdAs(os.Getpid())
	end()
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Fatalf("%s after the cycle: %v", snapshotFromFile, err)
	}
	if fromSnapshot() {
		t.Fatal("after the cycle ended without a snapshot: the stale one answered")
	}

	// Another door writes first: the next cycle does not vouch for the
	// snapshot, which no longer applies.
	collect(t, res)
	if !fromSnapshot() {
		t.Fatal("a fresh snapshot did not answer")
	}
	if _, err := c.Reset(ctx, &macA); err != nil {
		t.Fatal(err)
	}
	end = res.snapshotThrough()
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Fatalf("%s vouches for a snapshot older than a reset: %v", snapshotFromFile, err)
	}
	rewrite()
	if fromSnapshot() {
		t.Fatal("after a reset by another door: the old snapshot answered")
	}
	end()

	// A daemon killed in a cycle leaves the file; the next one's mark
	// removes it before any reader trusts the mark.
	if err := os.WriteFile(from, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unmark, err := res.MarkDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer unmark()
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Fatalf("%s kept at the daemon's start: %v", snapshotFromFile, err)
	}
}
