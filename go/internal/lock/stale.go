package lock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
)

// state is one consistent look at the lock (see the package comment).
type state struct {
	held     bool      // the lock dir exists
	changing bool      // it changed hands while we looked; judge nothing
	id       dirID     // which dir it is
	mtime    time.Time // the dir's mtime
	pid      int       // PID from a PID file that counts; 0 if none
}

// dirID identifies one incarnation of the lock dir. The mtime makes inode
// reuse (ext4 hands a freed inode straight back) tell apart too.
type dirID struct {
	fileID
	mtime int64
}

func statID(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileID{}
}

func dirIDOf(fi fs.FileInfo) dirID {
	return dirID{fileID: statID(fi), mtime: fi.ModTime().UnixNano()}
}

// inspect takes a consistent snapshot: dir, PID file, dir again.
func inspect(o Options) (state, error) {
	fi1, err := os.Lstat(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("lock %s: %w", o.Dir, err)
	}
	if !fi1.IsDir() {
		// mkdir would fail forever and we must not delete a stranger's file.
		return state{}, fmt.Errorf("lock %s: exists and is not a directory; remove it by hand", o.Dir)
	}
	pid, pfi, perr := readPIDFile(o.PIDFile)
	fi2, err := os.Lstat(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("lock %s: %w", o.Dir, err)
	}
	id := dirIDOf(fi1)
	if dirIDOf(fi2) != id {
		return state{held: true, changing: true}, nil
	}
	st := state{held: true, id: id, mtime: fi1.ModTime()}
	// A PID file older than the dir predates it: a leftover, not the holder's.
	if perr == nil && !pfi.ModTime().Before(fi1.ModTime()) {
		st.pid = pid
	}
	return st, nil
}

// readPIDFile returns the PID in path and the info of that same file (fstat
// of the open file, so content and mtime belong together).
func readPIDFile(path string) (int, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	// A PID file is a few bytes; do not slurp whatever else sits there.
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, nil, err
	}
	fields := bytes.Fields(b)
	if len(fields) == 0 {
		return 0, nil, fmt.Errorf("pid file %s is empty", path)
	}
	pid, err := strconv.Atoi(string(fields[0]))
	if err != nil || pid <= 0 {
		// kill(0 or negative) would signal process groups: never use it.
		return 0, nil, fmt.Errorf("pid file %s holds no valid pid: %q", path, fields[0])
	}
	return pid, fi, nil
}

// watcher is one waiter's judgement of staleness across retries.
type watcher struct {
	grace time.Duration
	last  state // latest snapshot, to name the holder on timeout
	// Since when (monotonic) we have seen this dir without a counting PID
	// file: keeps the grace rule working if the wall clock jumped back.
	seen      dirID
	seenSince time.Time
}

// stale reports whether st is a lock nobody will release.
func (w *watcher) stale(st state, now time.Time) bool {
	if !st.held || st.changing {
		return false
	}
	if st.pid > 0 {
		return !alive(st.pid)
	}
	if w.seenSince.IsZero() || w.seen != st.id {
		w.seen, w.seenSince = st.id, now
	}
	return now.Sub(st.mtime) > w.grace || now.Sub(w.seenSince) > w.grace
}

// reclaim removes a stale lock under the reclaim flock, after re-checking
// that it is still stale. It reports whether it removed it; false with no
// error means someone else is reclaiming or the lock turned out live.
func reclaim(o Options, w *watcher) (bool, error) {
	path := o.Dir + reclaimSuffix
	// O_RDONLY suffices for flock; Go opens it close-on-exec, so children
	// (iptables etc.) never inherit it.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("lock %s: open %s: %w", o.Dir, path, err)
	}
	defer f.Close() // closing drops the flock too

	// Non-blocking, so a reclaimer that hangs cannot stretch our wait past
	// Timeout; if it is busy we simply keep waiting and look again.
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: flock %s: %w", o.Dir, path, err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()

	// The lock may have been released and freshly re-taken since we judged
	// it: judge again now that no other reclaimer can act.
	st, err := inspect(o)
	if err != nil {
		return false, err
	}
	w.last = st
	if !w.stale(st, time.Now()) {
		return false, nil
	}
	if err := os.Remove(o.PIDFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("lock %s: reclaim stale lock: remove pid file: %w", o.Dir, err)
	}
	fi, err := os.Lstat(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: reclaim stale lock: %w", o.Dir, err)
	}
	if dirIDOf(fi) != st.id {
		return false, nil // not the dir we judged; leave it
	}
	if err := os.Remove(o.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("lock %s: reclaim stale lock (holder %s): remove lock dir: %w", o.Dir, holderDesc(st), err)
	}
	return true, nil
}

// alive reports whether pid is a running process. kill(pid, 0) succeeds or
// fails with EPERM for any existing process, including zombies, so a killed
// but not yet reaped holder is checked for separately.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	return !zombie(pid)
}

// zombie reports whether /proc says pid has exited (state Z or X). Without
// /proc it says no, which only errs on the side of waiting.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces and ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(b[i+1:])
	return len(f) > 0 && (f[0][0] == 'Z' || f[0][0] == 'X')
}
