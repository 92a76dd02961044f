package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// HistoryFile holds closed days and periods. Only a rollover (once a day)
// and a commit write it, so the file every event rewrites stays small.
const HistoryFile = "history.db"

// History is history.db.
type History struct {
	Version int                              `json:"version"`
	Days    map[string]map[macaddr.MAC]Usage `json:"days"`
	Periods map[string]map[macaddr.MAC]Usage `json:"periods"`
}

// NewHistory returns an empty history.
func NewHistory() *History {
	return &History{Version: Version, Days: map[string]map[macaddr.MAC]Usage{}, Periods: map[string]map[macaddr.MAC]Usage{}}
}

func (h *History) version() int { return h.Version }

func (h *History) check() error {
	if h.Days == nil {
		h.Days = map[string]map[macaddr.MAC]Usage{}
	}
	if h.Periods == nil {
		h.Periods = map[string]map[macaddr.MAC]Usage{}
	}
	for _, m := range []map[string]map[macaddr.MAC]Usage{h.Days, h.Periods} {
		for k, b := range m {
			if _, err := time.Parse("2006-01-02", k); err != nil || b == nil {
				return fmt.Errorf("bad history bucket %q", k)
			}
		}
	}
	return nil
}

// Put stores closed buckets. It assigns rather than adds, so storing the
// same bucket twice (a crash between the two file writes) changes nothing.
func (h *History) Put(c Closed) {
	if c.Day != nil {
		h.Days[c.Day.Key] = c.Day.Usage
	}
	if c.Period != nil {
		h.Periods[c.Period.Key] = c.Period.Usage
	}
}

// Prune drops days and periods that start before keepFrom.
func (h *History) Prune(keepFrom string) {
	for _, m := range []map[string]map[macaddr.MAC]Usage{h.Days, h.Periods} {
		for k := range m {
			if k < keepFrom {
				delete(m, k)
			}
		}
	}
}

// PeriodKeys lists the closed periods, newest first.
func (h *History) PeriodKeys() []string {
	out := make([]string, 0, len(h.Periods))
	for k := range h.Periods {
		out = append(out, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// LoadHistory reads history.db; missing means empty. A damaged file is
// moved aside like the others.
func (s Store) LoadHistory(now time.Time) (*History, *Recovered, error) {
	h := NewHistory()
	r, err := s.load(HistoryFile, h, now)
	if err != nil {
		return nil, nil, err
	}
	if r != nil && r.Dropped == nil {
		h = NewHistory()
	}
	return h, r, nil
}

// PeekHistory reads history.db without the lock (damaged reads as empty).
func (s Store) PeekHistory() (*History, error) {
	h := NewHistory()
	ok, err := s.peek(HistoryFile, h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return NewHistory(), nil
	}
	return h, nil
}

// SaveHistory writes history.db atomically.
func (s Store) SaveHistory(h *History) error { return s.save(HistoryFile, h) }

// HasHistory reports whether history.db exists.
func (s Store) HasHistory() bool {
	_, err := os.Stat(filepath.Join(s.Dir, HistoryFile))
	return !errors.Is(err, os.ErrNotExist)
}

// DecodeWhole decodes the contents of one ledger file into a *Hosts,
// *Transfer or *History, all or nothing: unlike a load, which drops bad
// entries and keeps the rest, any bad entry fails it (a restore replaces
// the ledger only with what checks as a whole). A newer format is an error
// wrapping ErrNewer.
func DecodeWhole(data []byte, into any) error {
	v, ok := into.(versioned)
	if !ok {
		return fmt.Errorf("ledger: cannot decode into %T", into)
	}
	return decodeStrict(data, v)
}
