package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/safepath"
)

// File names under db_dir, as the original design calls them.
const (
	HostsFile    = "host.db"
	TransferFile = "transfer.db"
)

// maxFile caps what we read: a ledger of thousands of devices is far
// smaller; anything bigger is damage, not data.
const maxFile = 64 << 20

// Store reads and writes the two files in one directory.
type Store struct{ Dir string }

// Recovered describes a damaged file moved aside: a fresh one started, or
// (Dropped set) what was good in it was kept without the entries listed.
type Recovered struct {
	File, MovedTo string
	Err           error
	Dropped       []string
}

func (r Recovered) String() string {
	if r.Dropped != nil {
		return fmt.Sprintf("%s had bad entries (%s); kept the rest, and the file as it was in %s", r.File, summary(r.Dropped), r.MovedTo)
	}
	return fmt.Sprintf("%s was unreadable (%v); moved it to %s and started a fresh one", r.File, r.Err, r.MovedTo)
}

// decode decodes a file of this version; entries that fail on their own
// are dropped and listed (see salvage). An error means nothing is usable.
func decode(name string, data []byte, into versioned, fresh func() versioned) ([]string, error) {
	err := decodeStrict(data, into)
	if err == nil || errors.Is(err, ErrNewer) || len(data) > maxFile {
		return nil, err
	}
	if v, ok := headVersion(data); !ok || v != Version {
		return nil, err
	}
	salvaged := fresh()
	dropped, serr := salvage(name, data, salvaged, fresh)
	if serr != nil || len(dropped) == 0 {
		return nil, err
	}
	copyInto(into, salvaged)
	return dropped, nil
}

// copyInto sets *into to *from (both the same pointer type).
func copyInto(into, from versioned) {
	switch d := into.(type) {
	case *Hosts:
		*d = *from.(*Hosts)
	case *Transfer:
		*d = *from.(*Transfer)
	case *History:
		*d = *from.(*History)
	case *HourLog:
		*d = *from.(*HourLog)
	}
}

// freshOf returns a constructor of empty values of into's type.
func freshOf(into versioned) func() versioned {
	switch into.(type) {
	case *Hosts:
		return func() versioned { return NewHosts() }
	case *Transfer:
		return func() versioned { return NewTransfer() }
	case *HourLog:
		return func() versioned { return NewHourLog() }
	}
	return func() versioned { return NewHistory() }
}

// ErrNewer means a file was written by a newer format: we refuse to touch
// it rather than overwrite data we cannot read.
var ErrNewer = errors.New("written by a newer version of transferometer")

// Load reads both files. A missing file is an empty ledger. A damaged one
// is renamed to NAME.corrupt-UNIXTIME and reported in recovered, never a
// crash loop and never silently dropped.
func (s Store) Load(now time.Time) (*Hosts, *Transfer, []Recovered, error) {
	if err := s.Ensure(); err != nil {
		return nil, nil, nil, err
	}
	var rec []Recovered
	h := NewHosts()
	r, err := s.load(HostsFile, h, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if r != nil {
		rec = append(rec, *r)
		if r.Dropped == nil {
			h = NewHosts()
		}
	}
	t := NewTransfer()
	r, err = s.load(TransferFile, t, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if r != nil {
		rec = append(rec, *r)
		if r.Dropped == nil {
			t = NewTransfer()
		}
	}
	return h, t, rec, nil
}

type versioned interface {
	version() int
	check() error
}

// check fills maps a file left out and rejects entries that would crash
// later (a null device).
func (h *Hosts) check() error {
	if h.IPs == nil {
		h.IPs = map[netip.Addr]IPEntry{}
	}
	if h.Devices == nil {
		h.Devices = map[macaddr.MAC]*DeviceInfo{}
	}
	for a, e := range h.IPs {
		if !a.IsValid() || a.Zone() != "" || e.MAC.IsZero() {
			return fmt.Errorf("bad address entry %v", a)
		}
	}
	for m, d := range h.Devices {
		if d == nil {
			return fmt.Errorf("null device %v", m)
		}
	}
	return nil
}

func (t *Transfer) check() error {
	if t.Totals == nil {
		t.Totals = map[macaddr.MAC]Usage{}
	}
	if t.Baselines == nil {
		t.Baselines = map[counter.Key]Baseline{}
	}
	for _, b := range []*Bucket{&t.Day, &t.Period} {
		if b.Usage == nil {
			b.Usage = map[macaddr.MAC]Usage{}
		}
		if b.Key != "" {
			if _, err := time.Parse("2006-01-02", b.Key); err != nil {
				return fmt.Errorf("bad bucket key %q", b.Key)
			}
		}
	}
	if t.History == nil {
		t.History = []string{}
	}
	if err := t.Hour.check(); err != nil {
		return err
	}
	// An edit only damage could make is left out rather than failing
	// the file every run rewrites.
	edits := t.HourEdits[:0]
	for _, e := range t.HourEdits {
		if !e.MAC.IsZero() && e.Since <= e.Before {
			edits = append(edits, e)
		}
	}
	t.HourEdits = edits
	for a, p := range t.Pending {
		if p == nil || !a.IsValid() || a.Zone() != "" {
			return fmt.Errorf("bad pending entry %v", a)
		}
	}
	return nil
}

func (h *Hosts) version() int    { return h.Version }
func (t *Transfer) version() int { return t.Version }

func (s Store) load(name string, into versioned, now time.Time) (*Recovered, error) {
	path := filepath.Join(s.Dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	data, err := readAll(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("ledger: read %s: %w", path, err)
	}
	dropped, perr := decode(name, data, into, freshOf(into))
	if perr == nil && dropped == nil {
		return nil, nil
	}
	if errors.Is(perr, ErrNewer) {
		return nil, fmt.Errorf("ledger: %s: %w", path, perr)
	}
	moved := fmt.Sprintf("%s.corrupt-%d", path, now.Unix())
	if err := os.Rename(path, moved); err != nil {
		return nil, fmt.Errorf("ledger: %s is damaged (%v) and could not be moved aside: %w", path, perr, err)
	}
	return &Recovered{File: path, MovedTo: moved, Err: perr, Dropped: dropped}, nil
}

// headVersion reads the version field of a file that decodes as a JSON
// object; ok is false for anything else.
func headVersion(data []byte) (int, bool) {
	var head struct {
		Version int `json:"version"`
	}
	if len(data) > maxFile || json.Unmarshal(data, &head) != nil {
		return 0, false
	}
	return head.Version, true
}

// decodeStrict decodes a whole file of this version, or fails.
func decodeStrict(data []byte, into versioned) error {
	if len(data) > maxFile {
		return fmt.Errorf("larger than %d bytes", maxFile)
	}
	// One pass for the usual case: a file this version wrote (it starts
	// so; json.Marshal writes fields in order). The file is read on every
	// run and grows with the hosts. Unmarshal rejects trailing data.
	if bytes.HasPrefix(data, []byte(`{"version":1,`)) {
		if err := json.Unmarshal(data, into); err != nil {
			return err
		}
		if into.version() != Version { // a second "version" key
			return fmt.Errorf("unknown format version %d", into.version())
		}
		return into.check()
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return err
	}
	if head.Version > Version {
		return fmt.Errorf("format version %d: %w", head.Version, ErrNewer)
	}
	if head.Version != Version {
		return fmt.Errorf("unknown format version %d", head.Version)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return err
	}
	return into.check()
}

// SaveHosts writes host.db atomically.
func (s Store) SaveHosts(h *Hosts) error { return s.save(HostsFile, h) }

// SaveTransfer writes transfer.db atomically.
func (s Store) SaveTransfer(t *Transfer) error { return s.save(TransferFile, t) }

// save writes temp, fsyncs, renames over the old file and fsyncs the
// directory: a crash leaves either the old or the new file, never half.
func (s Store) save(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("ledger: encode %s: %w", name, err)
	}
	data = append(data, '\n')
	return WriteAtomic(filepath.Join(s.Dir, name), data, FileMode)
}

// FileMode is the mode of every file we write: what devices did is
// nobody else's business on the router.
const FileMode os.FileMode = 0o600

// WriteAtomic writes path via a temp file in the same directory, which
// must pass safepath.Dir (root writes only where nobody else could have
// placed or can swap what is written).
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := safepath.Dir(dir); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	tmp := f.Name()
	cleanup := func(e error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("ledger: write %s: %w", path, e)
	}
	if _, err := f.Write(data); err != nil {
		return cleanup(err)
	}
	if err := f.Chmod(perm); err != nil {
		return cleanup(err)
	}
	if err := f.Sync(); err != nil {
		return cleanup(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Peek reads both files without moving damaged ones aside (that is a
// write, which needs the lock): a damaged file reads as empty.
func (s Store) Peek() (*Hosts, *Transfer, error) {
	h, t := NewHosts(), NewTransfer()
	okH, err := s.peek(HostsFile, h)
	if err != nil {
		return nil, nil, err
	}
	okT, err := s.peek(TransferFile, t)
	if err != nil {
		return nil, nil, err
	}
	if !okH {
		h = NewHosts()
	}
	if !okT {
		t = NewTransfer()
	}
	return h, t, nil
}

// peek decodes one file; false means missing or damaged.
func (s Store) peek(name string, into versioned) (bool, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	_, err = decode(name, data, into, freshOf(into))
	if errors.Is(err, ErrNewer) {
		return false, fmt.Errorf("ledger: %s: %w", name, err)
	}
	return err == nil, nil
}

// Ensure creates the directory and checks that it is safe to write.
func (s Store) Ensure() error {
	if err := safepath.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// readAll reads up to maxFile+1 bytes into one buffer sized from the file
// (io.ReadAll starts small and copies as it grows).
func readAll(f *os.File) ([]byte, error) {
	var b bytes.Buffer
	if st, err := f.Stat(); err == nil && st.Size() >= 0 && st.Size() < maxFile {
		b.Grow(int(st.Size()) + bytes.MinRead) // room for the read that sees EOF
	}
	_, err := b.ReadFrom(io.LimitReader(f, maxFile+1))
	return b.Bytes(), err
}
