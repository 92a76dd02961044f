package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The ledger's copy on flash (persist_dir) is read once per boot, to merge
// it back, and written by commits. It is never discarded without a word:
// a damaged file is kept aside and reported, and a file from a newer
// version is neither read nor overwritten.

// Copy is a ledger directory as a restore reads it.
type Copy struct {
	Hosts    *Hosts
	Transfer *Transfer
	History  *History
	Hours    *HourLog
	// Recovered lists damaged files, each kept aside as NAME.corrupt-TIME
	// (what could be read of the others is in the fields above).
	Recovered []Recovered
}

// LoadCopy reads host.db, transfer.db, history.db and hours.db for a restore, under
// the caller's lock. A missing directory or file reads as empty; a damaged
// file is moved aside and reported; a file written by a newer version is
// an error wrapping ErrNewer, and nothing is moved or read.
func (s Store) LoadCopy(now time.Time) (*Copy, error) {
	if err := s.CheckNotNewer(); err != nil {
		return nil, err
	}
	c := &Copy{Hosts: NewHosts(), Transfer: NewTransfer(), History: NewHistory(), Hours: NewHourLog()}
	if _, err := os.Stat(s.Dir); errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	for _, f := range []struct {
		name  string
		into  versioned
		fresh func()
	}{
		{HostsFile, c.Hosts, func() { c.Hosts = NewHosts() }},
		{TransferFile, c.Transfer, func() { c.Transfer = NewTransfer() }},
		{HistoryFile, c.History, func() { c.History = NewHistory() }},
		{HoursFile, c.Hours, func() { c.Hours = NewHourLog() }},
	} {
		r, err := s.load(f.name, f.into, now)
		if err != nil {
			return nil, err
		}
		if r != nil {
			c.Recovered = append(c.Recovered, *r)
			if r.Dropped == nil {
				f.fresh()
			}
		}
	}
	return c, nil
}

// CheckNotNewer fails, wrapping ErrNewer, if any ledger file in the
// directory was written by a newer version: such a file must not be
// overwritten (a downgrade would otherwise destroy what it holds).
func (s Store) CheckNotNewer() error {
	for _, name := range []string{HostsFile, TransferFile, HistoryFile, HoursFile} {
		p := filepath.Join(s.Dir, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if v, ok := headVersion(data); ok && v > Version {
			return fmt.Errorf("ledger: %s: format version %d: %w; it is kept as it is (move it away, or install that version again)", p, v, ErrNewer)
		}
	}
	return nil
}

// ErrDamaged marks a file that exists but cannot be decoded.
var ErrDamaged = errors.New("damaged")

// ReadHistory reads history.db without moving anything: missing reads as
// empty; a damaged file is an error wrapping ErrDamaged (unlike
// PeekHistory, for callers that would write what they read elsewhere).
func (s Store) ReadHistory() (*History, error) {
	h := NewHistory()
	data, err := os.ReadFile(filepath.Join(s.Dir, HistoryFile))
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if _, err := decode(HistoryFile, data, h, freshOf(h)); err != nil {
		if errors.Is(err, ErrNewer) {
			return nil, fmt.Errorf("ledger: %s: %w", HistoryFile, err)
		}
		return nil, fmt.Errorf("ledger: %s: %w: %v", filepath.Join(s.Dir, HistoryFile), ErrDamaged, err)
	}
	return h, nil
}
