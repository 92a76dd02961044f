package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/testlan"
)

// readmeAlertScripts returns the hotplug scripts of README's Alerts
// section (the sh blocks that start "# Transferometer alert →").
func readmeAlertScripts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "\n## Alerts\n")
	if start < 0 {
		t.Fatal("README has no Alerts section")
	}
	s = s[start+1:]
	if end := strings.Index(s, "\n## "); end >= 0 {
		s = s[:end]
	}
	var out []string
	for _, part := range strings.Split(s, "```sh\n")[1:] {
		code := part[:strings.Index(part, "```")]
		if strings.HasPrefix(code, "# Transferometer alert →") {
			out = append(out, code)
		}
	}
	return out
}

// The README's example scripts, run as hotplug-call runs them (sourced by
// sh in a subshell, the alert's environment and PATH only), against
// stand-in sendmail and curl that record what they were given.
func TestReadmeAlertScripts(t *testing.T) {
	testlan.RequireTools(t, "sh")
	scripts := readmeAlertScripts(t)
	if len(scripts) != 2 {
		t.Fatalf("README's Alerts section has %d example scripts, want the e-mail and the ntfy one", len(scripts))
	}
	bin, out := t.TempDir(), t.TempDir()
	for name, body := range map[string]string{
		"sendmail": "#!/bin/sh\necho \"ARGS $*\" > " + out + "/sendmail\ncat >> " + out + "/sendmail\n",
		"curl":     "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > " + out + "/curl\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mac, _ := macaddr.Parse("02:00:00:99:00:11")
	a := alert.Alert{ID: "blocked/kids/2026-12-01@1796000000", Kind: alert.KindBlocked, Quota: "kids", MAC: mac,
		Name: "Anna's phone", Limit: 5_000_000, Used: 4_999_000, Per: "period", Period: "2026-12-01", Time: time.Unix(1_796_000_000, 0)}
	for i, code := range scripts {
		p := filepath.Join(t.TempDir(), "50-example")
		if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-c", `( . "$0" )`, p)
		cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin"}, a.Env()...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("script %d: %v\n%s\n%s", i, err, b, code)
		}
	}
	mail, _ := os.ReadFile(filepath.Join(out, "sendmail"))
	for _, w := range []string{"ARGS -t\n", "To: admin@example.com\n", "Subject: [router] " + a.Message() + "\n\n" + a.Message() + "\n", `"kind":"blocked"`} {
		if !strings.Contains(string(mail), w) {
			t.Errorf("the e-mail lacks %q:\n%s", w, mail)
		}
	}
	args, _ := os.ReadFile(filepath.Join(out, "curl"))
	for _, w := range []string{"Title: Transferometer: blocked\n", "Priority: high\n", "-d\n" + a.Message() + "\n", "https://ntfy.sh/my-router-alerts\n"} {
		if !strings.Contains(string(args), w) {
			t.Errorf("curl's arguments lack %q:\n%s", w, args)
		}
	}
}
