// Package lock is the one lock every Transferometer door shares (hook,
// hotplug handlers, rpcd plugin, daemon, CLI).
//
// Contract: Acquire returns once this process holds the lock, after waiting
// at most Options.Timeout (ErrTimeout, naming the holder) while a live
// process holds it; nothing on disk changes by a wait that fails. A lock
// whose holder is dead is reclaimed: its PID file names a process that is
// gone, a zombie, or a later process with the same PID (the start time in
// the file differs); without a PID file of root's, once the lock is older
// than Options.Grace. What another user put at the lock path (a file, a
// link, their directory and its contents) is no lock and is removed at
// once where they could have put it there. What cannot be removed safely
// (not a directory but root's, another user's in a directory only root
// writes to, a stale lock directory with something in it) makes Acquire
// fail at once, asking for removal by hand. Release undoes only a lock that
// is still the caller's.
//
// On disk, as in the seed: the lock is the directory (mkdir), and the PID
// file (outside it, mode 0600) holds the holder's PID on its first line and
// "start=" its start time after boot in clock ticks on the second.
// Reclaims are serialised by flock on Dir+".reclaim". The inspection and
// reclaim steps, and why they are safe, are documented where they happen
// (inspect, watcher.stale, reclaim).
package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults applied to zero Options fields.
const (
	DefaultTimeout = 10 * time.Second
	DefaultGrace   = 2 * time.Second
)

// Backoff bounds for retrying mkdir: start short because most holds (one
// hook invocation) are brief, cap so a waiter notices a release promptly.
const (
	minBackoff = 2 * time.Millisecond
	maxBackoff = 100 * time.Millisecond
)

// reclaimSuffix names the flock side file next to the lock dir.
const reclaimSuffix = ".reclaim"

var (
	// ErrTimeout is wrapped by the error Acquire returns when the lock stayed
	// held for the whole Options.Timeout.
	ErrTimeout = errors.New("lock: timed out")
	// ErrNotHeld is wrapped by the error Release returns when the lock on disk
	// is no longer ours, so it was left alone.
	ErrNotHeld = errors.New("lock: not held")
)

// Options says where the lock lives and how long to wait for it.
type Options struct {
	Dir     string        // lock dir; its existence is the lock
	PIDFile string        // holds the holder's PID; must not be inside Dir
	Timeout time.Duration // total wait bound; 0 → DefaultTimeout
	Grace   time.Duration // age before a dir without a PID file is stale; 0 → DefaultGrace
}

// Lock is a held lock. Release it exactly when done; Release is idempotent.
type Lock struct {
	mu       sync.Mutex
	o        Options
	pid      int
	dir      fileID // the dir we created
	pidFile  fileID // the PID file we wrote
	waited   time.Duration
	released bool
}

// fileID tells a file apart from a later one at the same path.
type fileID struct{ dev, ino uint64 }

// timeoutError keeps the message exactly as the user should read it while
// still matching errors.Is(err, ErrTimeout).
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Unwrap() error { return ErrTimeout }

// normalise validates o and fills in defaults.
func (o Options) normalise() (Options, error) {
	if o.Dir == "" || o.PIDFile == "" {
		return o, errors.New("lock: lock dir and pid file must be set")
	}
	o.Dir = filepath.Clean(o.Dir)
	o.PIDFile = filepath.Clean(o.PIDFile)
	if o.Dir == "/" || o.Dir == "." {
		return o, fmt.Errorf("lock: unusable lock dir %q", o.Dir)
	}
	// A PID file inside the lock dir would bump the dir's mtime after the
	// PID file was written, breaking the "not older than the dir" rule, and
	// would stop rmdir from working for a reclaimer.
	if rel, err := filepath.Rel(o.Dir, o.PIDFile); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return o, fmt.Errorf("lock: pid file %s must not be inside lock dir %s", o.PIDFile, o.Dir)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	return o, nil
}

// Acquire takes the lock, waiting up to o.Timeout (or until ctx ends) while
// another live process holds it, and reclaiming it if its holder is dead. On
// timeout the error wraps ErrTimeout and names the holder; on cancellation it
// wraps ctx.Err(). Either way nothing on disk was changed by the wait.
func Acquire(ctx context.Context, o Options) (*Lock, error) {
	o, err := o.normalise()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(o.Timeout)
	pid, started := self()

	// /var/run exists on OpenWrt, but tests and odd configs point elsewhere.
	for _, d := range []string{filepath.Dir(o.Dir), filepath.Dir(o.PIDFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("lock %s: create parent dir: %w", o.Dir, err)
		}
	}

	// Jitter keeps hotplug handlers started together from retrying in step.
	rng := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(pid)<<32))
	w := &watcher{grace: o.Grace}
	backoff := minBackoff
	lastChance := false
	for tries := 0; ; tries++ {
		if err := ctx.Err(); err != nil {
			return nil, cancelled(o, time.Since(start), w.last, err)
		}
		l, err := take(o, pid, started)
		if err != nil {
			return nil, err
		}
		if l != nil {
			if tries > 0 {
				l.waited = time.Since(start)
			}
			return l, nil
		}

		st, err := inspect(o)
		if err != nil {
			return nil, err
		}
		w.last = st
		// Retry mkdir at once when the lock just went away or we freed it.
		immediate := !st.held
		if w.stale(st, time.Now()) {
			ok, err := reclaim(o, w)
			if err != nil {
				return nil, err
			}
			immediate = immediate || ok
		}

		now := time.Now()
		past := !now.Before(deadline)
		if immediate && (!past || !lastChance) {
			lastChance = past
			continue
		}
		if past {
			return nil, &timeoutError{msg: fmt.Sprintf("lock %s held by %s for %s; gave up", o.Dir, holderDesc(w.last), o.Timeout)}
		}

		d := backoff/2 + time.Duration(rng.Int63n(int64(backoff)))
		if rem := deadline.Sub(now); d > rem {
			d = rem
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, cancelled(o, time.Since(start), w.last, ctx.Err())
		case <-t.C:
		}
		if backoff *= 2; backoff > maxBackoff {
			backoff = maxBackoff
		}
	}
}

func cancelled(o Options, waited time.Duration, st state, err error) error {
	return fmt.Errorf("lock %s held by %s: stopped waiting after %s: %w", o.Dir, holderDesc(st), waited.Round(time.Millisecond), err)
}

func holderDesc(st state) string {
	if st.pid > 0 {
		return "pid " + strconv.Itoa(st.pid)
	}
	return "an unknown process"
}

// take makes one attempt: mkdir, then the PID file. It returns (nil, nil)
// when someone else holds the lock.
func take(o Options, pid int, started uint64) (*Lock, error) {
	err := os.Mkdir(o.Dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", o.Dir, err)
	}
	fi, err := os.Lstat(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: stat new lock dir: %w", o.Dir, err)
	}
	mine := statID(fi)
	pfi, err := writePIDFile(o.PIDFile, pid, started, fi.ModTime())
	if err != nil {
		// Nothing half-done: give the dir back, unless (after a stall) it
		// already is someone else's.
		if cur, serr := os.Lstat(o.Dir); serr == nil && statID(cur) == mine {
			_ = os.Remove(o.Dir)
		}
		return nil, fmt.Errorf("lock %s: write pid file: %w", o.Dir, err)
	}
	l := &Lock{o: o, pid: pid, dir: mine, pidFile: statID(pfi)}

	// If we stalled longer than Grace before the rename, a waiter may have
	// reclaimed our dir (and maybe a third process taken it). Then we do not
	// hold the lock: withdraw our PID file if it is still ours and wait on.
	if cur, err := os.Lstat(o.Dir); err != nil || statID(cur) != mine {
		if p, _, fi, err := readPIDFile(o.PIDFile); err == nil && p == pid && statID(fi) == l.pidFile {
			_ = os.Remove(o.PIDFile)
		}
		return nil, nil
	}
	return l, nil
}

// writePIDFile atomically replaces path with our PID and start time (if
// known), never older than the lock dir (mtime dirMtime), and returns the
// new file's info.
func writePIDFile(path string, pid int, started uint64, dirMtime time.Time) (fs.FileInfo, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.WriteString(pidFileContent(pid, started)); err != nil {
		return nil, err
	}
	// CreateTemp made it 0600: root's business only.
	if err := f.Sync(); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	// Waiters ignore a PID file older than the dir. Ours can be, if the clock
	// stepped back (NTP on a router without RTC) or the PID file's filesystem
	// keeps coarser timestamps; set it to the dir's mtime rounded up to a
	// whole second, which any filesystem stores without going below it.
	if fi.ModTime().Before(dirMtime) {
		t := dirMtime.Truncate(time.Second)
		if t.Before(dirMtime) {
			t = t.Add(time.Second)
		}
		if err := os.Chtimes(tmp, t, t); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	ok = true
	// The PID file lives in tmpfs on OpenWrt, so an fsync of its directory
	// would buy nothing: a reboot empties it anyway.
	fi, err = os.Lstat(path)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// Waited reports how long Acquire waited for the lock; 0 if it was free.
func (l *Lock) Waited() time.Duration { return l.waited }

// Release removes the PID file, then the lock dir. It only does so while the
// PID file still names us; otherwise the lock was (wrongly) reclaimed and
// perhaps re-taken, and it returns an error wrapping ErrNotHeld, touching
// nothing. Calls after the first return nil.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	l.released = true

	pid, _, fi, err := readPIDFile(l.o.PIDFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("lock %s: release: pid file %s is gone, so the lock was taken from us; left it alone: %w", l.o.Dir, l.o.PIDFile, ErrNotHeld)
	case err != nil:
		// Garbage where our PID was: not our file any more either.
		return fmt.Errorf("lock %s: release: %v; left the lock alone: %w", l.o.Dir, err, ErrNotHeld)
	case pid != l.pid || statID(fi) != l.pidFile:
		// Same PID but another file: another Lock in this very process
		// (goroutines share a PID) took it after ours was reclaimed.
		return fmt.Errorf("lock %s: release: pid file %s names pid %d and is not the one we (pid %d) wrote, so the lock was taken from us; left it alone: %w", l.o.Dir, l.o.PIDFile, pid, l.pid, ErrNotHeld)
	}
	if err := os.Remove(l.o.PIDFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lock %s: release: remove pid file: %w", l.o.Dir, err)
	}
	// Once our PID file is gone, a waiter that has watched our dir for longer
	// than Grace may reclaim it before we rmdir it. If it did, our release was
	// completed for us; a dir with another identity is a fresh holder's.
	cur, err := os.Lstat(l.o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock %s: release: %w", l.o.Dir, err)
	}
	if statID(cur) != l.dir {
		return nil
	}
	if err := os.Remove(l.o.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lock %s: release: remove lock dir: %w", l.o.Dir, err)
	}
	return nil
}

// HolderPID returns the PID named by the current holder's PID file, if the
// lock is held and its PID file counts (see inspect). The
// process may be dead; this is for diagnostics.
func HolderPID(o Options) (int, bool) {
	o, err := o.normalise()
	if err != nil {
		return 0, false
	}
	st, err := inspect(o)
	if err != nil || st.pid <= 0 {
		return 0, false
	}
	return st.pid, true
}

// pidFileContent: the PID alone on the first line (what the seed wrote and
// `kill $(head -n1 FILE)` wants), then the start time as one non-numeric
// token.
func pidFileContent(pid int, started uint64) string {
	s := strconv.Itoa(pid) + "\n"
	if started != 0 {
		s += startPrefix + strconv.FormatUint(started, 10) + "\n"
	}
	return s
}

// self returns our PID, read from /proc/self/stat as the design prescribes
// (the seed did so because shelling out would yield the child's PID), and
// our start time as any waiter reads it (procStat). The PID equals os.Getpid() for a Go
// program, the fallback when /proc is not mounted (start time 0: unknown).
func self() (int, uint64) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return os.Getpid(), 0
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return os.Getpid(), 0
	}
	n, err := strconv.Atoi(string(f[0]))
	if err != nil || n <= 0 {
		return os.Getpid(), 0
	}
	_, started, ok := procStat(n)
	if !ok {
		started = 0
	}
	return n, started
}
