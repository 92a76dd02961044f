package handoff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/safepath"
)

// MaxSpool bounds the events waiting in the spool. Past it the daemon
// refuses new ones and each hook runs its event itself: a daemon that
// cannot apply (the lock held for long, db_dir full) never grows it
// without end.
const MaxSpool = 1024

// ErrFull is a spool at MaxSpool.
var ErrFull = errors.New("handoff: spool full")

// Spool holds the events the daemon acknowledged and has not applied yet,
// in a file under db_dir, one encoded message a line, in arrival order.
// An event is acknowledged only after its line is fsynced, so a crash
// loses none that a hook was told were taken; a line torn by a crash was
// never acknowledged (its hook ran the event itself) and is dropped.
type Spool struct {
	path string
	mu   sync.Mutex
	f    *os.File
	msgs []Message
	// size is the file's length after the last good write: a failed
	// append is cut back to it, so that no partial line stays in front
	// of the next one (the two would read as one bad line, and the good
	// one would be lost). broken: that cut failed too; nothing more is
	// taken.
	size   int64
	broken bool
}

// OpenSpool opens (or creates) the spool in dir and reads what a previous
// daemon left in it, to be applied before anything else. Lines that do
// not parse are dropped and counted in dropped.
func OpenSpool(dir string) (s *Spool, dropped int, err error) {
	if err := safepath.Dir(dir); err != nil {
		return nil, 0, fmt.Errorf("handoff spool: %w", err)
	}
	p := filepath.Join(dir, SpoolName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("handoff spool: %w", err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", p)
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(f, (MaxSpool+1)*MaxMessage))
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("handoff spool: %w", err)
	}
	s = &Spool{path: p, f: f, size: int64(len(data))}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		m, err := Parse(line)
		if err != nil || len(s.msgs) >= MaxSpool {
			dropped++
			continue
		}
		s.msgs = append(s.msgs, m)
	}
	if dropped > 0 {
		// Rewrite without the torn or damaged lines: an append after a
		// torn one would make both unreadable.
		s.mu.Lock()
		err = s.rewrite(s.msgs)
		s.mu.Unlock()
		if err != nil {
			s.Close()
			return nil, dropped, err
		}
	}
	return s, dropped, nil
}

// Append makes m durable: once it returns nil the event survives a crash.
func (s *Spool) Append(m Message) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return errors.New("handoff spool: a failed write could not be undone")
	}
	if len(s.msgs) >= MaxSpool {
		return ErrFull
	}
	_, err = s.f.Write(b)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		// Not acknowledged: the hook runs the event itself. Whatever of
		// the line was written goes.
		if terr := s.f.Truncate(s.size); terr != nil {
			s.broken = true
		}
		return fmt.Errorf("handoff spool: %w", err)
	}
	s.size += int64(len(b))
	s.msgs = append(s.msgs, m)
	return nil
}

// Pending returns the events waiting, oldest first.
func (s *Spool) Pending() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Len is how many events wait.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Done removes the n oldest events, applied: a crash before Done applies
// them again at the next start, which the events bear (each sets a
// state: an address's owner, a name).
func (s *Spool) Done(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		return nil
	}
	if n > len(s.msgs) {
		n = len(s.msgs)
	}
	return s.rewrite(s.msgs[n:])
}

// rewrite replaces the file's content with msgs (s.mu held): truncated
// when empty, the usual case, else written aside and renamed over it.
func (s *Spool) rewrite(msgs []Message) error {
	keep := append([]Message(nil), msgs...)
	if len(keep) == 0 {
		// Not fsynced: a truncation a crash loses applies the events
		// again, which they bear.
		if err := s.f.Truncate(0); err != nil {
			return fmt.Errorf("handoff spool: %w", err)
		}
		s.msgs, s.size, s.broken = keep, 0, false
		return nil
	}
	var buf bytes.Buffer
	for _, m := range keep {
		b, err := m.Encode()
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	if err := ledger.WriteAtomic(s.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("handoff spool: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("handoff spool: %w", err)
	}
	s.f.Close()
	s.f, s.msgs, s.size, s.broken = f, keep, int64(buf.Len()), false
	return nil
}

// Close closes the file; what waits in it stays for the next start.
func (s *Spool) Close() error { return s.f.Close() }
