package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/safepath"
)

// The outbox: alerts decided and not yet delivered, one file in db_dir
// (RAM), written atomically. The core adds to it inside its locked cycle
// and a deliverer takes from it outside: both hold a flock on a lock file
// beside it only for a read-modify-write, never while delivering, so a
// slow webhook or script never holds up counting.

// QueueFile is the outbox's name in db_dir.
const QueueFile = "alerts.queue"

// DefaultMax bounds the outbox: a flood of new MACs, or every device of a
// LAN crossing a per-device quota at once, must not grow it without end.
const DefaultMax = 256

// queueVersion is the outbox's format version.
const queueVersion = 1

// Entry is one alert waiting, with how far its delivery got.
type Entry struct {
	Alert Alert `json:"alert"`
	// Local says the ubus event and the hotplug scripts are done (they
	// are not repeated when only the webhook is retried).
	Local bool `json:"local,omitempty"`
	// Attempts counts failed webhook posts; Next is when the next one is
	// due (unix seconds).
	Attempts int   `json:"attempts,omitempty"`
	Next     int64 `json:"next,omitempty"`
}

type queueFile struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
	// Dropped counts alerts refused because the outbox was full, since
	// it was last empty.
	Dropped int `json:"dropped,omitempty"`
}

// Queue is the outbox in Dir, holding at most Max alerts (0: DefaultMax).
type Queue struct {
	Dir string
	Max int
}

func (q Queue) max() int {
	if q.Max <= 0 {
		return DefaultMax
	}
	return q.Max
}

// Path is the outbox file.
func (q Queue) Path() string { return filepath.Join(q.Dir, QueueFile) }

// Add appends alerts whose ID is not there yet. Past the bound the newest
// are refused (the older ones, thresholds decided first, are the ones to
// keep) and counted in dropped.
func (q Queue) Add(as []Alert) (dropped int, err error) {
	if len(as) == 0 {
		return 0, nil
	}
	err = q.update(func(f *queueFile) bool {
		have := make(map[string]bool, len(f.Entries))
		for _, e := range f.Entries {
			have[e.Alert.ID] = true
		}
		for _, a := range as {
			if have[a.ID] {
				continue
			}
			if len(f.Entries) >= q.max() {
				dropped++
				continue
			}
			have[a.ID] = true
			f.Entries = append(f.Entries, Entry{Alert: a})
		}
		f.Dropped += dropped
		return true
	})
	return dropped, err
}

// Entries returns what waits, oldest first.
func (q Queue) Entries() ([]Entry, error) {
	var out []Entry
	err := q.update(func(f *queueFile) bool {
		out = f.Entries
		return false
	})
	return out, err
}

// Set replaces the entry with e's ID (a delivery's progress), or removes
// it when done; an entry no longer there is left alone.
func (q Queue) Set(e Entry, done bool) error {
	return q.update(func(f *queueFile) bool {
		for i := range f.Entries {
			if f.Entries[i].Alert.ID != e.Alert.ID {
				continue
			}
			if done {
				f.Entries = append(f.Entries[:i], f.Entries[i+1:]...)
				if len(f.Entries) == 0 {
					f.Dropped = 0
				}
			} else {
				f.Entries[i] = e
			}
			return true
		}
		return false
	})
}

// update runs fn on the outbox under its flock and saves it when fn says
// so. A damaged outbox is kept aside as NAME.corrupt-UNIXTIME and an
// error says so; a fresh one starts.
func (q Queue) update(fn func(*queueFile) bool) error {
	if err := safepath.MkdirAll(q.Dir, 0o755); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	// The directory itself is the lock: no file of its own, so that a
	// full db_dir gains nothing when the outbox cannot be written.
	unlock, err := flock(q.Dir, false)
	if err != nil {
		return err
	}
	defer unlock()
	f := &queueFile{Version: queueVersion}
	var damaged error
	data, err := os.ReadFile(q.Path())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("alerts: %w", err)
	default:
		if derr := json.Unmarshal(data, f); derr != nil || f.Version != queueVersion {
			if derr == nil {
				derr = fmt.Errorf("unknown format version %d", f.Version)
			}
			moved := fmt.Sprintf("%s.corrupt-%d", q.Path(), time.Now().Unix())
			if rerr := os.Rename(q.Path(), moved); rerr != nil {
				return fmt.Errorf("alerts: %s is damaged (%v) and could not be moved aside: %w", q.Path(), derr, rerr)
			}
			damaged = fmt.Errorf("alerts: %s was unreadable (%v); moved it to %s and started a fresh one", q.Path(), derr, moved)
			f = &queueFile{Version: queueVersion}
		}
	}
	if fn(f) {
		if f.Entries == nil {
			f.Entries = []Entry{}
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
		if err := ledger.WriteAtomic(q.Path(), append(b, '\n'), ledger.FileMode); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	return damaged
}

// flock takes an exclusive flock on path: a directory, or a lock file
// (created mode 0600, never through a link); with try, a lock held
// elsewhere is errBusy at once.
func flock(path string, try bool) (func(), error) {
	dir := filepath.Dir(path)
	st, err := os.Lstat(path)
	if err == nil && st.IsDir() {
		dir = path
	}
	if err := safepath.Dir(dir); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	var f *os.File
	if dir == path {
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	} else {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	how := syscall.LOCK_EX
	if try {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, fmt.Errorf("alerts: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// errBusy: another deliverer is at work.
var errBusy = errors.New("alerts: another deliverer is at work")
