package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/logline"
)

// alertsCmd is `transferometer alerts deliver|list|test`.
//
//   - deliver: drain the outbox in db_dir (what a door starts, detached,
//     when it queued alerts and no daemon runs; --syslog logs to logd).
//   - list: the alerts waiting, as JSON.
//   - test: queue an alert of kind "test" and deliver it now, in the
//     foreground, so that a new hotplug script or webhook can be tried.
func alertsCmd(ctx context.Context, rest []string, stdout, stderr io.Writer) error {
	if len(rest) == 0 {
		return badUsage("alerts wants deliver, list or test")
	}
	s, err := config.Load(config.Dir())
	if err != nil {
		return badUsage("%v", err)
	}
	q := alert.Queue{Dir: s.DBDir}
	switch rest[0] {
	case "deliver":
		syslog := len(rest) == 2 && rest[1] == "--syslog"
		if len(rest) > 1 && !syslog {
			return badUsage("alerts deliver takes only --syslog, got %q", rest[1])
		}
		lg := logline.Streams("transferometer", stdout, stderr)
		if syslog {
			lg = logline.Syslog(logline.DevLog, "transferometer", stdout, stderr)
		}
		defer lg.Close()
		d := &alert.Deliverer{Queue: q, Webhook: s.Alerts.Webhook, Log: lg}
		return d.Run(ctx)
	case "list":
		if err := noArgs("alerts list", rest[1:]); err != nil {
			return err
		}
		es, err := q.Entries()
		if err != nil {
			return err
		}
		if es == nil {
			es = []alert.Entry{}
		}
		b, err := json.Marshal(es)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case "test":
		if err := noArgs("alerts test", rest[1:]); err != nil {
			return err
		}
		now := time.Now()
		a := alert.Alert{ID: fmt.Sprintf("test@%d", now.UnixNano()), Kind: alert.KindTest, Time: now}
		if _, err := q.Add([]alert.Alert{a}); err != nil {
			return err
		}
		lg := logline.Streams("transferometer", stdout, stderr)
		d := &alert.Deliverer{Queue: q, Webhook: s.Alerts.Webhook, Log: lg}
		if err := d.Run(ctx); err != nil {
			return err
		}
		// Problems were logged above; say where it went.
		_, err := fmt.Fprintf(stdout, "test alert %s: %s\n", a.ID, strings.Join(alert.Channels(s.Alerts.Webhook), ", "))
		return err
	}
	return badUsage("alerts wants deliver, list or test, got %q", rest[0])
}

// spawnDeliverer starts `transferometer alerts deliver --syslog` detached
// (its own session, no stdio): the door that queued alerts returns at
// once, and a slow script or webhook holds up nothing. The environment is
// this process's, which the hotplug handlers already cleaned.
func spawnDeliverer() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(exe, "alerts", "deliver", "--syslog")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "transferometer: warning: alerts wait in the outbox: cannot start their delivery: %v\n", err)
		return
	}
	_ = cmd.Process.Release()
}
