package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// `alerts test` posts a test alert to the webhook at once and says where
// it went, the webhook by its host only; `alerts list` is then empty.
func TestAlertsTestCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "db_dir must be root's (internal/safepath): needs root")
	}
	t.Setenv("PATH", t.TempDir()) // no ubus, no hotplug-call
	got := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		got <- m
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := "config transferometer 'main'\n\toption db_dir '" + filepath.Join(dir, "db") + "'\n\toption alert_webhook '" + srv.URL + "/topic-secret'\n"
	if err := os.WriteFile(filepath.Join(dir, "transferometer"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRANSFEROMETER_CONFIG_DIR", dir)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"alerts", "test"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	select {
	case m := <-got:
		if m["kind"] != "test" || m["message"] != "test alert from transferometer" {
			t.Fatalf("posted %v", m)
		}
	default:
		t.Fatal("nothing posted")
	}
	if !strings.Contains(out.String(), "webhook http://127.0.0.1:") || strings.Contains(out.String(), "secret") {
		t.Fatalf("output %q", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"alerts", "list"}, nil, &out, &errb); code != 0 || strings.TrimSpace(out.String()) != "[]" {
		t.Fatalf("list: %d %q %s", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"alerts", "deliver", "--bogus"}, nil, &out, &errb); code != exitUsage {
		t.Fatalf("deliver --bogus: exit %d", code)
	}
}
