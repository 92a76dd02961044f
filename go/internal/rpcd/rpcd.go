// Package rpcd speaks rpcd's exec-plugin protocol (openwrt/rpcd exec.c):
// `list` prints the method signatures; `call METHOD` reads one JSON object
// from stdin and prints exactly one JSON object. rpcd ignores exit codes
// and stderr, so every failure is an object {"error": ..., "code": ...}.
package rpcd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/period"
)

// MaxInput caps what a call reads: every valid request is tiny.
const MaxInput = 64 << 10

// Budget bounds a call well inside LuCI's 20 s rpc timeout.
const Budget = 15 * time.Second

// Signature is what `list` prints; types by example value, as rpcd wants.
func Signature() map[string]map[string]any {
	return map[string]map[string]any{
		"hosts":   {},
		"usage":   {"mac": "str", "period": "str"},
		"reset":   {"mac": "str"},
		"history": {"mac": "str", "period": "str"},
		"backup":  {},
		"restore": {"data": "str"},
		// bytes: 64 is int64 for rpcd (an allowance can pass 2^31); a string
		// with a unit ("500MB") is taken too.
		"quota_lift":  {"name": "str", "mac": "str"},
		"quota_extra": {"name": "str", "mac": "str", "bytes": 64},
	}
}

// MaxRestoreInput caps restore's arguments (a backup in base64): rpcd
// writes a plugin's stdin from a buffer of at most 256 KiB
// (RPC_EXEC_MAX_SIZE), and uhttpd takes JSON-RPC posts of at most 64 KiB.
const MaxRestoreInput = 192 << 10

// Error is the error object every failure becomes.
type Error struct {
	Message string `json:"error"`
	Code    string `json:"code"`
}

func (e *Error) Error() string { return e.Message }

func fail(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Opener builds the core; it is called only for valid requests.
type Opener func() (*account.Core, error)

// Ready answers a usage query without a core when it can: the running
// daemon's ready reply (account.ReadyUsage); false means ask the core.
type Ready func(account.UsageQuery) ([]byte, bool)

// Main runs `rpcd list` or `rpcd call METHOD`. It returns an error only
// when stdout cannot be written.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, open Opener) error {
	return MainReady(ctx, args, stdin, stdout, open, nil)
}

// MainReady is Main with ready asked first for usage (nil: never), before
// the settings are taken further and a core is built: the LuCI page polls.
func MainReady(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, open Opener, ready Ready) error {
	var reply any
	switch {
	case len(args) == 1 && args[0] == "list":
		reply = Signature()
	case len(args) == 2 && args[0] == "call":
		ctx, cancel := context.WithTimeout(ctx, Budget)
		defer cancel()
		r, err := call(ctx, args[1], stdin, open, ready)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = classify(err)
			}
			reply = e
		} else {
			reply = r
		}
	default:
		reply = fail("invalid_usage", "usage: transferometer rpcd list | rpcd call METHOD")
	}
	b, isRaw := reply.(raw)
	if !isRaw {
		var err error
		if b, err = json.Marshal(reply); err != nil {
			b, _ = json.Marshal(fail("internal", "encode reply: %v", err))
		}
	}
	_, err := stdout.Write(append(b, '\n'))
	return err
}

// raw is a reply already encoded (usage: the daemon's snapshot, passed on
// without decoding).
type raw []byte

func classify(err error) *Error {
	switch {
	case errors.Is(err, lock.ErrTimeout):
		return fail("lock_timeout", "%v", err)
	case errors.Is(err, account.ErrNoPeriod):
		return fail("not_found", "%v", err)
	case errors.Is(err, account.ErrDisabled):
		return fail("disabled", "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fail("timeout", "%v", err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EROFS):
		return fail("storage", "%v", err)
	case errors.Is(err, ledger.ErrNewer):
		return fail("newer_version", "%v", err)
	case errors.Is(err, account.ErrBadBackup):
		return fail("invalid_argument", "%v", err)
	case errors.Is(err, account.ErrBackupTooLarge):
		return fail("too_large", "%v", err)
	case errors.Is(err, account.ErrNoQuota):
		return fail("not_found", "%v", err)
	case errors.Is(err, account.ErrQuotaArgument):
		return fail("invalid_argument", "%v", err)
	}
	return fail("internal", "%v", err)
}

// Args is the union of every method's arguments.
type Args struct {
	MAC    *macaddr.MAC
	Period string
	Data   string // restore: the backup file, base64
	// Name and Bytes: quota_lift and quota_extra (quota.go).
	Name  string
	Bytes uint64
}

// ParseArgs reads one JSON object, capped, and checks the types of the
// fields the method takes. Unknown fields are ignored (rpcd may add
// ubus_rpc_session); so are fields of other methods. An explicit null is
// refused: for reset, a null that meant "all devices" would be a trap.
func ParseArgs(method string, r io.Reader) (Args, error) {
	var a Args
	limit := MaxInput
	if method == "restore" {
		limit = MaxRestoreInput
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return a, fail("invalid_input", "read arguments: %v", err)
	}
	if len(data) > limit {
		return a, fail("too_large", "arguments larger than %d bytes", limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return a, nil // rpcd writes "{ }" but an empty stdin means no arguments too
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return a, fail("invalid_json", "arguments must be one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return a, fail("invalid_json", "arguments must be one JSON object")
	}
	takes := Signature()[method]
	str := func(name string) (string, bool, error) {
		raw, ok := obj[name]
		if _, want := takes[name]; !ok || !want {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || string(raw) == "null" {
			return "", false, fail("invalid_argument", "%s must be a string", name)
		}
		return s, true, nil
	}
	s, ok, err := str("mac")
	if err != nil {
		return a, err
	}
	if ok {
		m, err := macaddr.Parse(s)
		if err != nil {
			return a, fail("invalid_argument", "mac: %v", err)
		}
		a.MAC = &m
	}
	if a.Period, _, err = str("period"); err != nil {
		return a, err
	}
	if a.Data, _, err = str("data"); err != nil {
		return a, err
	}
	if err := parseQuotaArgs(method, obj, &a); err != nil {
		return a, err
	}
	if !period.ValidSelector(a.Period) {
		return a, fail("invalid_argument", "period %q: want current, all or a date like 2026-11-01", truncate(a.Period, 32))
	}
	return a, nil
}

// Call runs one method.
func Call(ctx context.Context, method string, stdin io.Reader, open Opener) (any, error) {
	return call(ctx, method, stdin, open, nil)
}

func call(ctx context.Context, method string, stdin io.Reader, open Opener, ready Ready) (any, error) {
	if _, ok := Signature()[method]; !ok {
		return nil, fail("method_not_found", "unknown method %q", truncate(method, 64))
	}
	args, err := ParseArgs(method, stdin)
	if err != nil {
		return nil, err
	}
	if method == "usage" && ready != nil {
		if b, ok := ready(account.UsageQuery{MAC: args.MAC, Period: args.Period}); ok {
			return raw(b), nil
		}
	}
	core, err := open()
	if err != nil {
		return nil, fail("config", "%v", err)
	}
	switch method {
	case "usage":
		// The page polls: while the daemon runs, the core answers from
		// its last collection (account.Core.Usage holds the policy).
		r, err := core.Usage(ctx, account.UsageQuery{MAC: args.MAC, Period: args.Period})
		if err != nil {
			return nil, err
		}
		b, err := r.JSON()
		if err != nil {
			return nil, err
		}
		return raw(b), nil
	case "hosts":
		return core.Hosts(ctx)
	case "reset":
		zeroed, err := core.Reset(ctx, args.MAC)
		if err != nil {
			return nil, err
		}
		return map[string]any{"reset": zeroed}, nil
	case "history":
		return core.History(ctx, account.HistoryQuery{MAC: args.MAC, Period: args.Period})
	case "backup":
		b, err := core.Backup(ctx, account.MaxUbusBackup)
		if err != nil {
			return nil, err
		}
		return map[string]any{"file": b.File, "data": base64.StdEncoding.EncodeToString(b.Data), "bytes": len(b.Data),
			"omitted_days": b.OmittedDays, "omitted_hours": b.OmittedHours}, nil
	case "restore":
		if args.Data == "" {
			return nil, fail("invalid_argument", "data (the backup file, base64) is required")
		}
		data, err := base64.StdEncoding.DecodeString(args.Data)
		if err != nil {
			return nil, fail("invalid_argument", "data is not base64: %v", err)
		}
		r, err := core.Restore(ctx, data)
		if err != nil {
			return nil, err
		}
		return map[string]any{"restored": r}, nil
	case "quota_lift", "quota_extra":
		return callQuota(ctx, core, method, args)
	}
	return nil, fail("method_not_found", "unknown method %q", method)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
