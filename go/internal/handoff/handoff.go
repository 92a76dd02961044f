// Package handoff is how a hook hands its event to the running daemon
// instead of running a whole locked cycle itself: a unix socket in db_dir,
// one request per connection, acknowledged only once the daemon has made
// the event durable (appended and fsynced to a spool file in db_dir, which
// it replays at start and empties once the events are applied).
//
// Both ends distrust the other. The daemon takes requests only from root
// (or its own uid), bounded in size, count and time. The hook talks only
// to the daemon: db_dir must pass internal/safepath (nobody but root can
// have put or swapped anything in it), the socket must be a socket of
// root's that no one else may use, and the peer must be the process the
// daemon mark names, running as root. Anything else is not trusted, and
// the hook runs the event itself.
package handoff

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/transferometer/transferometer/internal/ipaddr"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/names"
)

// File names under db_dir.
const (
	SocketName = "handoff.sock"
	SpoolName  = "handoff.spool"
)

// MaxMessage bounds one request, its newline included: the longest valid
// one (an IPv6 address and a name of names.MaxLen bytes) is well inside.
const MaxMessage = 512

// version starts every request; a daemon of another version refuses it
// and the hook runs the event itself.
const version = "1"

// isAction says whether a is an action a hook hands over: the
// dhcp-script contract's words.
func isAction(a string) bool {
	switch a {
	case "arp-add", "arp-del", "add", "old", "update", "del":
		return true
	}
	return false
}

// Message is one event. Action is one of the dhcp-script actions above;
// Hostname is optional and only for the DHCP ones.
type Message struct {
	Action   string
	MAC      macaddr.MAC
	Addr     netip.Addr
	Hostname string
}

// ErrBadMessage marks a request that is not a valid event.
var ErrBadMessage = errors.New("handoff: bad message")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadMessage, fmt.Sprintf(format, a...))
}

// check validates m as Parse does.
func (m Message) check() error {
	if !isAction(m.Action) {
		return bad("unknown action %q", truncate(m.Action))
	}
	if !m.Addr.IsValid() || m.Addr.Zone() != "" {
		return bad("no address")
	}
	if m.Hostname != "" {
		if strings.HasPrefix(m.Action, "arp-") {
			return bad("%s takes no hostname", m.Action)
		}
		if _, err := names.Parse(m.Hostname); err != nil {
			return bad("hostname: %v", err)
		}
	}
	return nil
}

// Encode is m on the wire and in the spool: one line of tab-separated
// fields (a name cannot hold a tab or a newline: names refuses control
// characters).
func (m Message) Encode() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	b := []byte(strings.Join([]string{version, m.Action, m.MAC.String(), m.Addr.String(), m.Hostname}, "\t") + "\n")
	if len(b) > MaxMessage {
		return nil, bad("longer than %d bytes", MaxMessage)
	}
	return b, nil
}

// Parse reads one line as Encode writes it (the newline included), with
// every field checked as strictly as the hook's own arguments are.
func Parse(line []byte) (Message, error) {
	var m Message
	if len(line) > MaxMessage {
		return m, bad("longer than %d bytes", MaxMessage)
	}
	s, ok := strings.CutSuffix(string(line), "\n")
	if !ok || strings.ContainsAny(s, "\n\r\x00") {
		return m, bad("not one line")
	}
	f := strings.Split(s, "\t")
	if len(f) != 5 {
		return m, bad("%d fields, want 5", len(f))
	}
	if f[0] != version {
		return m, bad("version %q, want %s", truncate(f[0]), version)
	}
	m.Action, m.Hostname = f[1], f[4]
	var err error
	if m.MAC, err = macaddr.Parse(f[2]); err != nil {
		return m, bad("mac: %v", err)
	}
	if len(f[3]) > 64 {
		return m, bad("address too long")
	}
	if m.Addr, err = ipaddr.ParseAddr(f[3]); err != nil {
		return m, bad("address: %v", err)
	}
	if err := m.check(); err != nil {
		return Message{}, err
	}
	return m, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
