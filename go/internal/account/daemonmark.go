package account

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
)

// daemonFile, under db_dir, holds the PID of the running daemon. While the
// daemon runs it collects every refresh_interval, so a reader (ubus usage,
// i.e. the LuCI page's polls) can answer from the saved ledger — no lock,
// no counter read, no write — instead of collecting once per call.
const daemonFile = "daemon.pid"

// MarkDaemon records the calling process as the running daemon; the
// returned function removes the mark (only if it is still ours).
func (c *Core) MarkDaemon() (func(), error) {
	p := filepath.Join(c.settings.DBDir, daemonFile)
	if err := os.MkdirAll(c.settings.DBDir, 0o755); err != nil {
		return nil, fmt.Errorf("daemon mark: %w", err)
	}
	pid := strconv.Itoa(os.Getpid())
	if err := ledger.WriteAtomic(p, []byte(pid+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("daemon mark: %w", err)
	}
	return func() {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == pid {
			os.Remove(p)
		}
	}, nil
}

// DaemonRunning reports whether the daemon that wrote the mark is alive: a
// process with that PID exists and is `transferometer daemon` (a PID
// reused by another program after a crash does not count).
func (c *Core) DaemonRunning() bool {
	b, err := os.ReadFile(filepath.Join(c.settings.DBDir, daemonFile))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := bytes.Split(bytes.TrimRight(cmd, "\x00"), []byte{0})
	return len(args) >= 2 && strings.Contains(string(args[0]), "transferometer") && string(args[len(args)-1]) == "daemon"
}

// UsageSaved is Usage answered from the saved ledger (see daemonFile):
// what the daemon collected last, at most refresh_interval old.
func (c *Core) UsageSaved(ctx context.Context, only *macaddr.MAC, sel string) (Report, error) {
	return c.report(ctx, only, sel, false)
}
