package handoff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/transferometer/transferometer/internal/safepath"
)

// Bounds of the daemon's side: connections served at once (more are
// closed as soon as accepted: their hooks run the event themselves), and
// how long one may take from accept to reply.
const (
	MaxConns    = 16
	ConnTimeout = time.Second
)

// Replies.
const (
	replyOK = "ok\n"
	replyNo = "no\n"
)

// Server is the daemon's end: a listening socket at SocketName in db_dir.
type Server struct {
	ln   *net.UnixListener
	path string
	// allowUID says whose requests are taken (root and the daemon's own
	// uid in production; tests narrow it).
	allowUID func(uint32) bool
}

// Listen makes the socket in dir, which must pass safepath: only root can
// have put anything there, so whatever is at the path (a previous
// daemon's socket after a crash) is ours to remove. The socket is made
// readable and writable by its owner only; the peer check below is what
// is relied on.
func Listen(dir string) (*Server, error) {
	if err := safepath.Dir(dir); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	p := filepath.Join(dir, SocketName)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("handoff: %w", err)
	}
	euid := uint32(os.Geteuid())
	return &Server{ln: ln, path: p, allowUID: func(uid uint32) bool { return uid == 0 || uid == euid }}, nil
}

// Serve takes requests until ctx ends. take is called for each valid
// request from an allowed peer, concurrently; the hook is acknowledged
// only when it returns nil (the event is durable). It returns when the
// listener is closed.
func (s *Server) Serve(ctx context.Context, take func(Message) error) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	slots := make(chan struct{}, MaxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and the like: wait a moment rather than spin.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			c.Close() // too many at once: that hook runs its event itself
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s.serve(c, take)
		}()
	}
}

func (s *Server) serve(c *net.UnixConn, take func(Message) error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ConnTimeout))
	cred, err := peerCred(c)
	if err != nil || !s.allowUID(cred.Uid) {
		return // not root's: no answer at all
	}
	line, err := readLine(c, MaxMessage)
	if err != nil {
		return
	}
	m, err := Parse(line)
	if err != nil {
		c.Write([]byte(replyNo))
		return
	}
	if err := take(m); err != nil {
		c.Write([]byte(replyNo))
		return
	}
	c.Write([]byte(replyOK))
}

// Close stops listening and removes the socket.
func (s *Server) Close() error { return s.ln.Close() }

// readLine reads up to and including the first newline, at most max bytes.
func readLine(c net.Conn, max int) ([]byte, error) {
	r := bufio.NewReaderSize(c, 64)
	var out []byte
	for len(out) < max {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		if b == '\n' {
			return out, nil
		}
	}
	return nil, bad("longer than %d bytes", max)
}

// peerCred is the kernel's word on who is at the other end (SO_PEERCRED:
// the process that connected, or that listened, as of then).
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("handoff: peer credentials: %w", cerr)
	}
	return cred, nil
}
