package account

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/links"
	"github.com/transferometer/transferometer/internal/lock"
)

// The resident daemon's side of the core: the mark that says it runs, and
// the usage snapshot its core (Options.Resident) writes after each
// collection, which Usage answers the page's polls from.

// daemonFile, under db_dir, holds the PID of the running daemon. While the
// daemon runs it collects every refresh_interval, so a reader (ubus usage,
// i.e. the LuCI page's polls) can answer from the saved ledger — no lock,
// no counter read, no write — instead of collecting once per call.
const daemonFile = "daemon.pid"

// MarkDaemon records the calling process as the running daemon; the
// returned function removes the mark (only if it is still ours).
func (c *Core) MarkDaemon() (func(), error) {
	p := filepath.Join(c.settings.DBDir, daemonFile)
	if err := c.store.Ensure(); err != nil {
		return nil, fmt.Errorf("daemon mark: %w", err)
	}
	pid := strconv.Itoa(os.Getpid())
	// Left by a daemon killed in the middle of a cycle: not ours.
	os.Remove(filepath.Join(c.settings.DBDir, snapshotFromFile))
	if err := ledger.WriteAtomic(p, []byte(pid+"\n"), ledger.FileMode); err != nil {
		return nil, fmt.Errorf("daemon mark: %w", err)
	}
	return func() {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == pid {
			os.Remove(p)
		}
	}, nil
}

// DaemonRunning reports whether the daemon that wrote the mark is alive.
func (c *Core) DaemonRunning() bool {
	_, ok := RunningDaemon(c.settings.DBDir)
	return ok
}

// RunningDaemon returns the PID of the daemon whose mark is in dbDir if it
// is alive: a process with that PID exists and is `transferometer daemon`
// (a PID reused by another program after a crash does not count).
func RunningDaemon(dbDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dbDir, daemonFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// No such process: no cmdline to read.
	cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return 0, false
	}
	args := bytes.Split(bytes.TrimRight(cmd, "\x00"), []byte{0})
	if len(args) >= 2 && strings.Contains(string(args[0]), "transferometer") && string(args[len(args)-1]) == "daemon" {
		return pid, true
	}
	return 0, false
}

// snapshotFile, under db_dir, is the daemon's usage reply for the default
// arguments (all devices, current period), made after each of its
// collections: the page's polls then cost a process start and a file copy.
// Its first line names the transfer.db it was made from (inode, mtime,
// size; every save is a new file by rename): once anything else writes
// transfer.db — a hook's event, a reset — the snapshot no longer applies.
const snapshotFile = "usage.snapshot"

// writeSnapshot saves, as the snapshot, the usage reply built from the
// ledger tx holds in memory (no second read of the files), named by id,
// the transfer.db tx left, written at savedAt (taken under the lock: a later
// write by anyone else makes the snapshot unused).
func (c *Core) writeSnapshot(tx *txn, id string, savedAt time.Time) error {
	r := c.newReport(tx.at)
	// As a reply from the saved ledger says: as of transfer.db's write.
	r.CollectedAt = savedAt.Unix()
	r.Warnings = append(r.Warnings, txWarnings(tx)...)
	r, err := c.fill(r, tx.at, nil, "", tx.hosts, tx.transfer)
	if err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("usage snapshot: %w", err)
	}
	buf := make([]byte, 0, len(id)+1+len(data))
	buf = append(append(append(buf, id...), '\n'), data...)
	return ledger.WriteAtomic(filepath.Join(c.settings.DBDir, snapshotFile), buf, ledger.FileMode)
}

// snapshotFromFile, under db_dir, exists while a cycle of the running
// daemon is under way that started from the current snapshot, with
// nothing else having written transfer.db since it was made: it holds that
// snapshot's first line. Such a cycle writes transfer.db before the next
// snapshot, and in between the snapshot is still the last collection's
// reply (what a reader a moment earlier got), not a write by another door
// it would hide. Without it, every poll that came in that moment would
// decode the whole ledger.
const snapshotFromFile = "usage.snapshot.from"

// snapshotThrough starts a resident core's cycle (the lock held, nothing
// written yet): it leaves snapshotFromFile naming the snapshot if that
// still applies, and removes it otherwise; the returned function removes
// it at the end of the cycle, still under the lock.
func (c *Core) snapshotThrough() func() {
	p := filepath.Join(c.settings.DBDir, snapshotFromFile)
	id, ok := c.snapshotID()
	if cur, _, err := c.transferID(); !ok || err != nil || cur != id || writeVolatile(p, []byte(id+"\n")) != nil {
		os.Remove(p)
		return func() {}
	}
	return func() { os.Remove(p) }
}

// writeVolatile replaces path with data, whole (written aside, renamed)
// but not fsynced: for a file a crash may lose, since the next daemon's
// mark removes it anyway, and that a cycle must not wait for a disk for.
func writeVolatile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, ledger.FileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// snapshotID is the first line of the snapshot (what it was made from).
func (c *Core) snapshotID() (string, bool) {
	f, err := os.Open(filepath.Join(c.settings.DBDir, snapshotFile))
	if err != nil {
		return "", false
	}
	defer f.Close()
	var buf [128]byte
	n, _ := io.ReadFull(f, buf[:])
	id, _, ok := bytes.Cut(buf[:n], []byte{'\n'})
	return string(id), ok
}

// ReadyUsage is the first step of Usage's policy, taken with no core (the
// rpcd plugin asks it before building one, since the page polls): the
// running daemon's ready reply when q is the default query and the
// snapshot applies. false: build a core and ask Usage.
func ReadyUsage(s config.Settings, q UsageQuery) ([]byte, bool) {
	return readyUsage(s, q, func() (int, bool) { return RunningDaemon(s.DBDir) })
}

// ready is ReadyUsage for this core (a resident core is the daemon).
func (c *Core) ready(q UsageQuery) ([]byte, bool) {
	return readyUsage(c.settings, q, func() (int, bool) {
		if c.resident {
			return os.Getpid(), true
		}
		return RunningDaemon(c.settings.DBDir)
	})
}

func readyUsage(s config.Settings, q UsageQuery, daemon func() (int, bool)) ([]byte, bool) {
	if q.Fresh || q.MAC != nil || q.Period != "" {
		return nil, false
	}
	pid, ok := daemon()
	if !ok {
		return nil, false
	}
	return snapshot(s, pid)
}

// snapshot returns the usage reply of the snapshot if it applies: it was
// made from the current transfer.db, or a cycle of the daemon (pid) that
// started from it is under way (snapshotFromFile, and the lock's PID file
// naming the daemon).
func snapshot(s config.Settings, pid int) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(s.DBDir, snapshotFile))
	if err != nil {
		return nil, false
	}
	id, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return nil, false
	}
	if cur, _, err := transferID(s.DBDir); err == nil && string(id) == cur {
		return rest, true
	}
	from, err := os.ReadFile(filepath.Join(s.DBDir, snapshotFromFile))
	if err != nil || !bytes.Equal(bytes.TrimSuffix(from, []byte{'\n'}), id) {
		return nil, false
	}
	if holder, ok := lock.HolderPID(lockOptions(s)); !ok || holder != pid {
		return nil, false
	}
	return rest, true
}

// transferID names the current transfer.db (and says when it was written).
func (c *Core) transferID() (string, time.Time, error) { return transferID(c.settings.DBDir) }

func transferID(dbDir string) (string, time.Time, error) {
	st, err := os.Stat(filepath.Join(dbDir, ledger.TransferFile))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("usage snapshot: %w", err)
	}
	var ino uint64
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		ino = uint64(sys.Ino)
	}
	return fmt.Sprintf("%d %d %d", ino, st.ModTime().UnixNano(), st.Size()), st.ModTime(), nil
}

// admits is the door's check of an event, before anything is read or
// locked: add and delete events with no device's MAC (all zeros,
// broadcast, multicast) or for an address outside the LAN are normal and
// change nothing. Handle applies it, and so does a hook before it hands
// its event to the daemon (Admits), so that both refuse the same events.
func admits(ev Event, isLAN func(netip.Addr) (bool, error)) (bool, error) {
	if ev.Kind != Collect && ev.Kind != NeighGone && !ev.MAC.IsDevice() {
		return false, nil
	}
	if ev.Kind != Collect && ev.Kind != LeaseDel {
		return isLAN(ev.Addr)
	}
	return true, nil
}

// Admits is admits for a door that has no core: the LAN derived from the
// settings as a core derives it.
func Admits(s config.Settings, configDir string, ev Event) (bool, error) {
	var lan *config.LAN
	return admits(ev, func(a netip.Addr) (bool, error) {
		if lan == nil {
			l, err := s.LAN(configDir, links.DevicePrefixes)
			if err != nil {
				return false, err
			}
			lan = &l
		}
		return lan.Contains(a), nil
	})
}
