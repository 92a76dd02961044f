// Command transferometer is every door into the accounting core: the
// dnsmasq dhcp-script hook, the hotplug handlers, the rpcd plugin and the
// CLI. Each parses its input here and hands typed values to the core.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/localzone"
	"github.com/transferometer/transferometer/internal/logline"
)

// version is set at link time (-X main.version=...).
var version = "dev"

// Exit codes: the CLI contract.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks bad usage or input (exit 2); anything else is exit 1.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badUsage(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	ctx := context.Background()
	args := commandArgs(os.Args)
	// Days and periods are cut at the router's midnight, read as its C
	// library reads it: OpenWrt keeps the zone as a POSIX string in
	// /etc/TZ, which Go does not read by itself.
	loc, err := localzone.Resolve(localzone.Env{Getenv: syscall.Getenv, ReadFile: localzone.ReadFile})
	if loc != nil {
		time.Local = loc
	}
	if err != nil {
		// To syslog at warning when procd runs this (the daemon), else stderr.
		lg := logline.Service("transferometer", os.Stdout, os.Stderr)
		lg.Warningf("%v", err)
		lg.Close()
	}
	// rpcd calls are short and crash-safe anywhere (a stale lock is
	// reclaimed): they skip the signal setup, a measurable part of a call.
	if len(args) == 0 || args[0] != "rpcd" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
	}
	os.Exit(run(ctx, args, os.Stdin, os.Stdout, os.Stderr))
}

// commandArgs is the command line after the program name. Installed as
// /usr/libexec/rpcd/transferometer, a symlink to this binary, it is the
// rpcd exec plugin: rpcd runs it as PLUGIN list / PLUGIN call METHOD with
// argv[0] the plugin's path (plugin.c), which makes it `rpcd list|call`.
// A symlink instead of a shell wrapper saves a shell start per ubus call.
func commandArgs(argv []string) []string {
	if len(argv) == 0 {
		return nil
	}
	if strings.HasSuffix(filepath.Dir(argv[0]), "/libexec/rpcd") {
		return append([]string{"rpcd"}, argv[1:]...)
	}
	return argv[1:]
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "transferometer: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitRuntime
}

// oneLine keeps errors to one line on stderr (dnsmasq logs them per line).
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
