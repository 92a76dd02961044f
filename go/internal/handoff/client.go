package handoff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/safepath"
)

// AckTimeout bounds a hook's wait for the daemon, from connecting to its
// answer: a daemon that does not answer in time (hung, stopped, swamped)
// leaves the hook to run the event itself.
const AckTimeout = time.Second

// ErrNoDaemon is no socket to hand over to: the hook runs the event itself,
// as without a daemon.
var ErrNoDaemon = errors.New("handoff: no daemon socket")

// ErrUntrusted is a socket or peer that is not the daemon's.
var ErrUntrusted = errors.New("handoff: not the daemon")

// ErrRefused is the daemon saying no (a full spool, a write that failed).
var ErrRefused = errors.New("handoff: refused by the daemon")

// Send hands m to the daemon whose PID is daemonPID, listening in dir, and
// returns nil once the daemon has acknowledged it as durable. Any error
// means the event was not taken (or not known to be): run it here.
func Send(ctx context.Context, dir string, daemonPID int, m Message) error {
	line, err := m.Encode()
	if err != nil {
		return err
	}
	p := filepath.Join(dir, SocketName)
	if err := CheckSocket(dir); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, AckTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", p)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %v", ErrNoDaemon, err)
		}
		return fmt.Errorf("handoff: %w", err)
	}
	c := nc.(*net.UnixConn)
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	if err := checkPeer(cred.Uid, cred.Pid, daemonPID); err != nil {
		return err
	}
	if _, err := c.Write(line); err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	var buf [8]byte
	n, err := io.ReadFull(c, buf[:len(replyOK)])
	switch {
	case err == nil && string(buf[:n]) == replyOK:
		return nil
	case err == nil:
		return ErrRefused
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: closed without an answer", ErrRefused)
	}
	return fmt.Errorf("handoff: no answer: %w", err)
}

// CheckSocket says whether the socket in dir may be the daemon's: dir
// passes safepath (only root can have made or swapped what is in it), and
// the path is a socket owned by root (or this uid) that nobody else may
// use. A planted file, link or another user's socket is not trusted.
func CheckSocket(dir string) error {
	p := filepath.Join(dir, SocketName)
	st, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrNoDaemon
		}
		return fmt.Errorf("handoff: %w", err)
	}
	if err := safepath.Dir(dir); err != nil {
		return fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s: no owner information", ErrUntrusted, p)
	case st.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("%w: %s is not a socket (%s)", ErrUntrusted, p, st.Mode().Type())
	case sys.Uid != 0 && sys.Uid != uint32(os.Geteuid()):
		return fmt.Errorf("%w: %s is owned by uid %d", ErrUntrusted, p, sys.Uid)
	case st.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s is open to others (mode %o)", ErrUntrusted, p, st.Mode().Perm())
	}
	return nil
}

// checkPeer: the listening end must be root's (or this uid's) and the very
// process the daemon mark names.
func checkPeer(uid uint32, pid int32, daemonPID int) error {
	if uid != 0 && uid != uint32(os.Geteuid()) {
		return fmt.Errorf("%w: the socket's listener runs as uid %d", ErrUntrusted, uid)
	}
	if daemonPID <= 0 || int(pid) != daemonPID {
		return fmt.Errorf("%w: the socket's listener is PID %d, the daemon is %d", ErrUntrusted, pid, daemonPID)
	}
	return nil
}
