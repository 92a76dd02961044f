// Package logline is the daemon's log: one line per message, at the syslog
// severity of its level (facility daemon).
//
// procd files a service's stdout under daemon.info and its stderr under
// daemon.err, which has no level between them for a warning. So when procd
// runs the daemon (its parent is PID 1) and logd's socket /dev/log is
// there, messages go to that socket with their own priority, as logger(1)
// and musl's syslog() send them; otherwise (a terminal, a test, no logd)
// information goes to stdout and warnings and errors to stderr, prefixed
// with the program's name, and procd (if it is there) still files them as
// info and err.
package logline

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Level is a message's severity.
type Level int

// The levels and their syslog severities (RFC 5424: 6, 4, 3).
const (
	Info Level = iota
	Warning
	Error
)

// DevLog is the syslog socket (logd's on OpenWrt).
const DevLog = "/dev/log"

// maxMessage bounds one message; logd keeps at most 1 KiB per line, and a
// message built from a long error must not become an unbounded datagram.
const maxMessage = 900

const facilityDaemon = 3 << 3

func (l Level) severity() int {
	switch l {
	case Warning:
		return 4
	case Error:
		return 3
	}
	return 6
}

// Logger writes messages. Its methods are safe for concurrent use.
type Logger struct {
	tag      string
	out, err io.Writer
	now      func() time.Time
	pid      int

	mu     sync.Mutex
	socket string // "" = the streams only
	conn   net.Conn
}

// Streams logs information to out and warnings and errors to errw, each
// line starting "TAG: " (and "warning: " for a warning).
func Streams(tag string, out, errw io.Writer) *Logger {
	return &Logger{tag: tag, out: out, err: errw, now: time.Now, pid: os.Getpid()}
}

// Syslog logs to the datagram socket at path, falling back to the streams
// (as Streams) for any message the socket does not take.
func Syslog(path, tag string, out, errw io.Writer) *Logger {
	l := Streams(tag, out, errw)
	l.socket = path
	l.conn, _ = net.Dial("unixgram", path)
	return l
}

// Service is the daemon's logger: syslog at /dev/log when init runs the
// process (procd is PID 1 and the parent of every service it starts) and
// the socket answers, else the streams.
func Service(tag string, out, errw io.Writer) *Logger {
	if os.Getppid() == 1 {
		if l := Syslog(DevLog, tag, out, errw); l.conn != nil {
			return l
		}
	}
	return Streams(tag, out, errw)
}

// Close closes the syslog socket, if any.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.socket = ""
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}

// Infof logs information: what a healthy service says.
func (l *Logger) Infof(format string, a ...any) { l.Log(Info, format, a...) }

// Warningf logs something that works, but not as configured or expected.
func (l *Logger) Warningf(format string, a ...any) { l.Log(Warning, format, a...) }

// Errorf logs something that failed.
func (l *Logger) Errorf(format string, a ...any) { l.Log(Error, format, a...) }

// Log writes one message at level: one line, at most maxMessage bytes.
func (l *Logger) Log(level Level, format string, a ...any) {
	msg := Clean(fmt.Sprintf(format, a...))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.socket != "" && l.send(level, msg) {
		return
	}
	w, prefix := l.out, l.tag+": "
	switch level {
	case Warning:
		w, prefix = l.err, prefix+"warning: "
	case Error:
		w = l.err
	}
	fmt.Fprintf(w, "%s%s\n", prefix, msg)
}

// send writes one datagram in the BSD syslog form logd, busybox syslogd
// and journald read: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG" (logd drops the
// 16-character timestamp and stamps the line itself). A refused write is
// retried once on a fresh connection: logd may have been restarted.
func (l *Logger) send(level Level, msg string) bool {
	line := fmt.Sprintf("<%d>%s %s[%d]: %s", facilityDaemon|level.severity(), l.now().Format(time.Stamp), l.tag, l.pid, msg)
	for try := 0; try < 2; try++ {
		if l.conn == nil {
			c, err := net.Dial("unixgram", l.socket)
			if err != nil {
				return false
			}
			l.conn = c
		}
		if _, err := l.conn.Write([]byte(line)); err == nil {
			return true
		}
		l.conn.Close()
		l.conn = nil
	}
	return false
}

// Clean makes s one line of at most maxMessage bytes: line breaks and
// other control characters become spaces, and a longer message is cut at
// a character boundary with "…".
func Clean(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	s = string(b)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + "…"
}
