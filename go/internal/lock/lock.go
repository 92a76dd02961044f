// Package lock is the single lock shared by every Transferometer entry point:
// the dnsmasq hook, hotplug handlers (which run concurrently), the rpcd
// plugin, the daemon and the CLI.
//
// It keeps the seed's on-disk form so that anything that knows the original
// design still understands it: the lock is held by whoever managed to mkdir
// the lock dir (default /tmp/~transferometer), and the PID file (default
// /var/run/transferometer.pid) holds the holder's PID as a bare decimal
// number, so `kill $(cat /var/run/transferometer.pid)` keeps working.
//
// Unlike the seed, a held lock means wait, not abort: an aborted arp-add is a
// host that is never counted. Acquire retries mkdir with jittered exponential
// backoff until Options.Timeout, and reclaims stale locks on the way.
//
// # Staleness protocol
//
// A holder does, in this order: mkdir(dir); write the PID file to a temp file
// in the PID file's directory, fsync, rename over the PID file. A waiter whose
// mkdir fails inspects the lock:
//
//  1. It stats the dir, reads the PID file (content and, via fstat of the same
//     open file, its mtime), and stats the dir again. If the dir changed
//     identity (device, inode, mtime) in between, the lock changed hands
//     mid-read and the snapshot is not used.
//  2. The PID file counts only if its mtime is not older than the dir's: the
//     holder writes it after mkdir, so an older PID file is a leftover of an
//     earlier holder whose dir vanished some other way. (The holder makes sure
//     its file passes this test even if the clock stepped back or the PID
//     file's filesystem has coarser timestamps; see writePIDFile.)
//  3. With a counting PID file, the lock is stale iff that process is dead:
//     kill(pid, 0) fails with ESRCH, or the process is a zombie (killed but not
//     yet reaped). EPERM means alive.
//  4. Without one (missing, unreadable, garbage, or a leftover), the holder may
//     be between mkdir and rename, so the lock is stale only once the dir is
//     older than Options.Grace, by its mtime or by how long this waiter has
//     itself watched the same dir sit there without a PID file (which still
//     works if the wall clock jumped back).
//  5. To reclaim, the waiter takes flock(LOCK_EX|LOCK_NB) on dir+".reclaim"
//     (the kernel drops it if the process dies, and the file is never
//     deleted, since deleting a flock file is itself racy). If another process
//     holds it, that one is reclaiming and we just keep waiting. Under the
//     flock it repeats the whole inspection, because the lock may have been
//     released and freshly re-taken since the first look; only if it is still
//     stale does it remove the PID file, then the dir (checking the dir is the
//     one it judged). Nobody else can remove or replace a stale dir meanwhile:
//     its holder is dead, other reclaimers are excluded by the flock, and
//     mkdir fails while the dir exists. Then it drops the flock and goes back
//     to mkdir like everyone else; a plain waiter may win that, which is fine.
//
// The one case this cannot get right is inherent to mkdir+PID file: a holder
// that stalls for longer than Grace between mkdir and writing its PID file
// (e.g. SIGSTOPped) looks exactly like one that died there. It notices when it
// resumes (its dir is gone) and goes back to waiting, and Release refuses to
// delete a lock whose PID file no longer names its caller.
//
// PID reuse is not detected: the PID file is a bare PID (see above), so a dead
// holder whose PID was reused by a live process makes Acquire time out with a
// message naming that PID rather than reclaim it.
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
	pid := selfPID()

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
		l, err := take(o, pid)
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
func take(o Options, pid int) (*Lock, error) {
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
	pfi, err := writePIDFile(o.PIDFile, pid, fi.ModTime())
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
		if p, fi, err := readPIDFile(o.PIDFile); err == nil && p == pid && statID(fi) == l.pidFile {
			_ = os.Remove(o.PIDFile)
		}
		return nil, nil
	}
	return l, nil
}

// writePIDFile atomically replaces path with our PID, never older than the
// lock dir (mtime dirMtime), and returns the new file's info.
func writePIDFile(path string, pid int, dirMtime time.Time) (fs.FileInfo, error) {
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
	if _, err := f.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		return nil, err
	}
	// Readable by all, like any PID file, for diagnostics and HolderPID.
	if err := f.Chmod(0o644); err != nil {
		return nil, err
	}
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

	pid, fi, err := readPIDFile(l.o.PIDFile)
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
// lock is held and its PID file counts (see the package comment). The
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

// selfPID reads our PID from /proc/self/stat as the design prescribes (the
// seed did so because shelling out would yield the child's PID). It equals
// os.Getpid() for a Go program, which is the fallback when /proc is not
// mounted.
func selfPID() int {
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		if f := bytes.Fields(b); len(f) > 0 {
			if n, err := strconv.Atoi(string(f[0])); err == nil && n > 0 {
				return n
			}
		}
	}
	return os.Getpid()
}
