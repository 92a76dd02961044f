package rpcd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/account"
)

// history, backup and restore refuse bad arguments at the door; restore
// takes a backup's worth of base64 (more than other methods' cap).
func TestHistoryBackupRestoreArgs(t *testing.T) {
	for _, tc := range []struct {
		method, stdin, code string
	}{
		{"history", `{"mac": "zz"}`, "invalid_argument"},
		{"history", `{"period": "last week"}`, "invalid_argument"},
		{"history", `{"period": 7}`, "invalid_argument"},
		{"restore", `{"data": 5}`, "invalid_argument"},
		{"restore", `{"data": null}`, "invalid_argument"},
		{"restore", `{"data": ["x"]}`, "invalid_argument"},
		{"restore", `{"data": "` + strings.Repeat("A", MaxRestoreInput) + `"}`, "too_large"},
		{"history", `{"mac": "` + strings.Repeat("A", MaxInput) + `"}`, "too_large"},
	} {
		var out bytes.Buffer
		if err := Main(context.Background(), []string{"call", tc.method}, strings.NewReader(tc.stdin), &out, noOpen(t)); err != nil {
			t.Fatal(err)
		}
		var e Error
		if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.Code != tc.code || e.Message == "" {
			t.Errorf("%s %q: reply %q, want code %s", tc.method, truncate(tc.stdin, 30), truncate(out.String(), 200), tc.code)
		}
	}
	// A backup as large as ubus backup makes fits restore's cap.
	b64 := strings.Repeat("A", (account.MaxUbusBackup+2)/3*4)
	a, err := ParseArgs("restore", strings.NewReader(fmt.Sprintf(`{"data": %q, "ubus_rpc_session": "%s"}`, b64, strings.Repeat("0", 32))))
	if err != nil || len(a.Data) != len(b64) {
		t.Fatalf("restore of %d base64 bytes: %v", len(b64), err)
	}
	if got := classify(fmt.Errorf("x: %w", account.ErrBadBackup)); got.Code != "invalid_argument" {
		t.Errorf("bad backup: %s", got.Code)
	}
	if got := classify(fmt.Errorf("x: %w", account.ErrBackupTooLarge)); got.Code != "too_large" {
		t.Errorf("backup too large: %s", got.Code)
	}
}
