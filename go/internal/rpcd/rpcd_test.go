package rpcd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/lock"
)

func TestMainList(t *testing.T) {
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"list"}, nil, &out, noOpen(t)); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("list output %q: %v", out.String(), err)
	}
	want := map[string]map[string]any{
		"hosts":       {},
		"usage":       {"mac": "str", "period": "str"},
		"reset":       {"mac": "str"},
		"history":     {"mac": "str", "period": "str"},
		"backup":      {},
		"restore":     {"data": "str"},
		"quota_lift":  {"name": "str", "mac": "str"},
		"quota_extra": {"name": "str", "mac": "str", "bytes": float64(64)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	if !bytes.HasSuffix(out.Bytes(), []byte("}\n")) || bytes.Count(out.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("want exactly one JSON object and a newline, got %q", out.String())
	}
}

// noOpen fails the test if a request that should be refused at the door
// gets as far as building the core.
func noOpen(t *testing.T) Opener {
	return func() (*account.Core, error) {
		t.Helper()
		t.Fatal("the core was opened for a request refused at the door")
		return nil, nil
	}
}

func TestMainRefusesBeforeOpening(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		stdin string
		code  string
	}{
		{[]string{"call", "nope"}, "{}", "method_not_found"},
		{[]string{"call"}, "", "invalid_usage"},
		{[]string{"frobnicate"}, "", "invalid_usage"},
		{nil, "", "invalid_usage"},
		{[]string{"call", "usage"}, "[1]", "invalid_json"},
		{[]string{"call", "usage"}, `{"mac": "zz"}`, "invalid_argument"},
		{[]string{"call", "reset"}, `{"mac": null}`, "invalid_argument"},
		{[]string{"call", "usage"}, `{"period": "yesterday"}`, "invalid_argument"},
		{[]string{"call", "usage"}, strings.Repeat(" ", MaxInput+1), "too_large"},
	} {
		var out bytes.Buffer
		if err := Main(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, noOpen(t)); err != nil {
			t.Fatal(err)
		}
		var e Error
		if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.Code != tc.code || e.Message == "" {
			t.Errorf("%v %q: reply %q, want code %s", tc.args, truncate(tc.stdin, 20), out.String(), tc.code)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		method, in string
		mac        string // "" means none
		period     string
		code       string // "" means accepted
	}{
		{"usage", "", "", "", ""},
		{"usage", "{ }", "", "", ""},
		{"usage", `{"mac": "02:00:00:00:00:0A"}`, "02:00:00:00:00:0a", "", ""},
		{"usage", `{"period": "2026-11-01", "ubus_rpc_session": "x"}`, "", "2026-11-01", ""},
		{"usage", `{"period": "all"}`, "", "all", ""},
		{"reset", `{"period": 7}`, "", "", ""}, // not reset's field: ignored
		{"hosts", `{"mac": 1}`, "", "", ""},    // hosts takes no mac
		{"usage", `{"mac": 1}`, "", "", "invalid_argument"},
		{"usage", `{"mac": "00:00:00:00:00"}`, "", "", "invalid_argument"},
		{"usage", `{"period": null}`, "", "", "invalid_argument"},
		{"usage", `{"period": "2026-13-01"}`, "", "", "invalid_argument"},
		{"usage", `{} {}`, "", "", "invalid_json"},
		{"usage", `null`, "", "", "invalid_json"},
		{"usage", `"x"`, "", "", "invalid_json"},
		{"usage", `{"mac": "02:00:00:00:00:0a"`, "", "", "invalid_json"},
	} {
		a, err := ParseArgs(tc.method, strings.NewReader(tc.in))
		if tc.code != "" {
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("%s %s: err %v, want code %s", tc.method, tc.in, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.in, err)
			continue
		}
		mac := ""
		if a.MAC != nil {
			mac = a.MAC.String()
		}
		if mac != tc.mac || a.Period != tc.period {
			t.Errorf("%s %s: mac %q period %q, want %q %q", tc.method, tc.in, mac, a.Period, tc.mac, tc.period)
		}
	}
}

func TestClassify(t *testing.T) {
	for err, code := range map[error]string{
		fmt.Errorf("acquire: %w", lock.ErrTimeout):           "lock_timeout",
		fmt.Errorf("usage: %w", account.ErrNoPeriod):         "not_found",
		account.ErrDisabled:                                  "disabled",
		fmt.Errorf("read: %w", context.DeadlineExceeded):     "timeout",
		errors.New("iptables-save: exit status 1"):           "internal",
		fmt.Errorf("wrapped twice: %w", account.ErrDisabled): "disabled",
		fmt.Errorf("ledger: write: %w", syscall.ENOSPC):      "storage",
		fmt.Errorf("commit: %w", syscall.EROFS):              "storage",
		fmt.Errorf("commit: %w", ledger.ErrNewer):            "newer_version",
	} {
		if e := classify(err); e.Code != code || e.Message != err.Error() {
			t.Errorf("classify(%v) = %+v, want code %s", err, e, code)
		}
	}
}

// A core that cannot be opened (a bad setting) is a config error object.
func TestMainConfigError(t *testing.T) {
	var out bytes.Buffer
	open := func() (*account.Core, error) {
		return nil, errors.New("/etc/config/transferometer: option lock_timeout: \"0\" is out of range")
	}
	if err := Main(context.Background(), []string{"call", "hosts"}, strings.NewReader("{}"), &out, open); err != nil {
		t.Fatal(err)
	}
	var e Error
	if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.Code != "config" || !strings.Contains(e.Message, "lock_timeout") {
		t.Fatalf("reply %q", out.String())
	}
}
