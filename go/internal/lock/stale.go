package lock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// state is one consistent look at the lock (see inspect).
type state struct {
	held     bool      // the lock dir exists
	changing bool      // it changed hands while we looked; judge nothing
	id       dirID     // which dir it is
	mtime    time.Time // the dir's mtime
	pid      int       // PID from a PID file that counts; 0 if none
	start    uint64    // that process's start time, if the file says; 0 if not
	// planted says why what sits at the lock path is no door's lock (another
	// user put it there); it is removed at once, whatever its age.
	planted string
	isDir   bool
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

// inspect takes a consistent snapshot: dir, PID file (content and, via fstat
// of the same open file, mtime), dir again. If the dir changed identity in
// between, the lock changed hands mid-read and nothing is judged. The PID
// file counts only if it is not older than the dir: the holder writes it
// after mkdir (writePIDFile makes sure of that even if the clock stepped
// back), so an older one is a leftover of an earlier holder.
func inspect(o Options) (state, error) {
	fi1, err := os.Lstat(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("lock %s: %w", o.Dir, err)
	}
	if why := notALock(fi1); why != "" {
		if !plantable(o.Dir, fi1) {
			// Root (or we) put it there: perhaps a setting names a real
			// file or directory. Deleting it could destroy that.
			return state{}, fmt.Errorf("lock %s: %s; not a lock and not ours to remove: remove it by hand", o.Dir, why)
		}
		return state{held: true, id: dirIDOf(fi1), mtime: fi1.ModTime(), planted: why, isDir: fi1.IsDir()}, nil
	}
	pid, start, pfi, perr := readPIDFile(o.PIDFile)
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
	st := state{held: true, id: id, mtime: fi1.ModTime(), isDir: true}
	// A PID file older than the dir predates it: a leftover, not the holder's.
	if perr == nil && !pfi.ModTime().Before(fi1.ModTime()) {
		st.pid, st.start = pid, start
	}
	return st, nil
}

// trusted: every door runs as root; a test or a user's own CLI runs as
// itself. Anything owned by another user was put there by someone else.
func trusted(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	return st.Uid == 0 || int(st.Uid) == os.Geteuid()
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// notALock says why fi, found at the lock path, cannot be a door's lock,
// or "" if it can.
func notALock(fi fs.FileInfo) string {
	switch {
	case !fi.IsDir() && !trusted(fi):
		return fmt.Sprintf("a non-directory owned by uid %d is there", owner(fi))
	case !fi.IsDir():
		return "exists and is not a directory"
	case !trusted(fi):
		return fmt.Sprintf("the directory there is owned by uid %d, not by root", owner(fi))
	}
	return ""
}

// plantable reports whether fi, at path, can have been planted by its
// owner, another user: it is not trusted, and that user may create entries
// in its parent (a world- or group-writable directory such as /tmp, or
// one the user owns). Then removing it only undoes that user's doing.
// Something another user owns in a directory only root can write to was
// put there by root, and is left alone.
func plantable(path string, fi fs.FileInfo) bool {
	if trusted(fi) {
		return false
	}
	pfi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return false
	}
	return pfi.Mode().Perm()&0o022 != 0 || owner(pfi) == owner(fi)
}

// readPIDFile returns the PID in path, the holder's start time if the file
// records it (0 if not), and the info of that same file (fstat of the open
// file, so content and mtime belong together). A file that is not a plain
// file of root's or ours is not a holder's: another user could have
// written any PID into it.
func readPIDFile(path string) (int, uint64, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, nil, err
	}
	if !fi.Mode().IsRegular() || !trusted(fi) {
		return 0, 0, nil, fmt.Errorf("pid file %s is not a plain file owned by root", path)
	}
	// A PID file is a few bytes; do not slurp whatever else sits there.
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, 0, nil, err
	}
	fields := bytes.Fields(b)
	if len(fields) == 0 {
		return 0, 0, nil, fmt.Errorf("pid file %s is empty", path)
	}
	pid, err := strconv.Atoi(string(fields[0]))
	if err != nil || pid <= 0 {
		// kill(0 or negative) would signal process groups: never use it.
		return 0, 0, nil, fmt.Errorf("pid file %s holds no valid pid: %q", path, fields[0])
	}
	var start uint64
	for _, f := range fields[1:] {
		if v, ok := bytes.CutPrefix(f, []byte(startPrefix)); ok {
			start, _ = strconv.ParseUint(string(v), 10, 64)
		}
	}
	return pid, start, fi, nil
}

// startPrefix marks the holder's start time in the PID file. One token that
// is not a number, so that `kill $(cat FILE)` still signals only the PID.
const startPrefix = "start="

// watcher is one waiter's judgement of staleness across retries.
type watcher struct {
	grace time.Duration
	last  state // latest snapshot, to name the holder on timeout
	// Since when (monotonic) we have seen this dir without a counting PID
	// file: keeps the grace rule working if the wall clock jumped back.
	seen      dirID
	seenSince time.Time
}

// stale reports whether st is a lock nobody will release: planted, or its
// PID file names a dead process, or it has none that counts and the dir is
// older than grace, by its mtime or by how long this waiter has watched it
// (which still works if the wall clock jumped back): its holder may be
// between mkdir and writing the PID file. A holder stalled (SIGSTOP) for
// longer than that looks dead; it notices its dir is gone and waits again,
// and Release leaves a lock whose PID file is not its own.
func (w *watcher) stale(st state, now time.Time) bool {
	if !st.held || st.changing {
		return false
	}
	if st.planted != "" {
		return true
	}
	if st.pid > 0 {
		return !alive(st.pid, st.start)
	}
	if w.seenSince.IsZero() || w.seen != st.id {
		w.seen, w.seenSince = st.id, now
	}
	return now.Sub(st.mtime) > w.grace || now.Sub(w.seenSince) > w.grace
}

// reclaim removes a stale lock under the reclaim flock (the kernel drops it
// if we die; the file is only deleted when another user planted it, since
// deleting a flock file is itself racy), after re-checking that it is still stale: it may have been
// released and re-taken since. Nobody else can replace a stale dir
// meanwhile: its holder is dead, other reclaimers wait for the flock, and
// mkdir fails while it exists. It reports whether it removed it; false with no
// error means someone else is reclaiming or the lock turned out live.
func reclaim(o Options, w *watcher) (bool, error) {
	f, err := openReclaim(o)
	if err != nil {
		return false, err
	}
	defer f.Close() // closing drops the flock too
	path := f.Name()

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
	if st.planted != "" {
		return removePlanted(o, st)
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
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			// Only root can have put something in root's lock dir: it may
			// be a setting naming a real directory. Not ours to empty.
			return false, fmt.Errorf("lock %s: stale lock (holder %s) is not empty, so it is not only a lock; left it alone: remove it by hand", o.Dir, holderDesc(st))
		}
		return false, fmt.Errorf("lock %s: reclaim stale lock (holder %s): remove lock dir: %w", o.Dir, holderDesc(st), err)
	}
	return true, nil
}

// removePlanted removes what another user put at the lock path (judged in
// st, under the reclaim flock), with whatever it holds: os.RemoveAll works
// below an open directory and never follows a symlink out of it. The
// owner may remove and re-plant it meanwhile; only the thing judged goes.
func removePlanted(o Options, st state) (bool, error) {
	fi, err := os.Lstat(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", o.Dir, err)
	}
	if dirIDOf(fi) != st.id {
		return false, nil
	}
	if st.isDir {
		err = os.RemoveAll(o.Dir)
	} else {
		err = os.Remove(o.Dir)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("lock %s: %s; removing it failed: %w", o.Dir, st.planted, err)
	}
	return true, nil
}

// openReclaim opens the reclaim flock's side file. It sits next to the lock
// dir, in /tmp by default, where another user can plant it too: a symlink
// is never followed (O_NOFOLLOW), and a file owned by another user, who
// could hold a flock on it forever, is replaced.
func openReclaim(o Options) (*os.File, error) {
	path := o.Dir + reclaimSuffix
	for try := 0; ; try++ {
		// O_RDONLY suffices for flock; Go opens it close-on-exec, so
		// children (iptables etc.) never inherit it. O_NONBLOCK: a FIFO
		// planted there must not hang the open.
		f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
		var fi fs.FileInfo
		if err == nil {
			if fi, err = f.Stat(); err == nil && fi.Mode().IsRegular() && trusted(fi) {
				return f, nil
			}
			_ = f.Close()
		}
		if fi == nil {
			// O_NOFOLLOW fails with ELOOP on a symlink.
			if fi, _ = os.Lstat(path); fi == nil {
				return nil, fmt.Errorf("lock %s: open %s: %w", o.Dir, path, err)
			}
		}
		if try > 0 || !plantable(path, fi) {
			return nil, fmt.Errorf("lock %s: %s is not a plain file of root's; remove it by hand", o.Dir, path)
		}
		// Remove only the very file judged, if it is still there.
		if cur, err := os.Lstat(path); err == nil && statID(cur) == statID(fi) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("lock %s: remove planted %s: %w", o.Dir, path, err)
			}
		}
	}
}

// alive reports whether pid is the running process that wrote the PID
// file. kill(pid, 0) succeeds or fails with EPERM for any existing process,
// including zombies, so a killed but not yet reaped holder is checked for
// separately; so is a process that got the dead holder's PID later, by its
// start time (when the PID file records one).
func alive(pid int, start uint64) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	st, started, ok := procStat(pid)
	if !ok {
		return true // no /proc: err on the side of waiting
	}
	if st == 'Z' || st == 'X' {
		return false
	}
	return start == 0 || started == start
}

// procStat reads a process's state and start time (field 22, clock ticks
// after boot) from /proc/PID/stat. It opens "PID/stat" below an open /proc:
// qemu-user, which runs the tests for router architectures, answers a path
// "/proc/OWNPID/stat" with a made-up start time, and holder and waiter must
// read the same one.
func procStat(pid int) (st byte, start uint64, ok bool) {
	proc, err := os.Open("/proc")
	if err != nil {
		return 0, 0, false
	}
	defer proc.Close()
	fd, err := syscall.Openat(int(proc.Fd()), strconv.Itoa(pid)+"/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, false
	}
	f := os.NewFile(uintptr(fd), "stat")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return 0, 0, false
	}
	return parseStat(b)
}

func parseStat(b []byte) (st byte, start uint64, ok bool) {
	// The fields follow the command name, which is in parentheses and may
	// itself contain spaces and ')'. Field 3 is the state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) == 0 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(string(f[22-3]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], start, true
}
