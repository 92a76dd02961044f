package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAlertOptions(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte("config transferometer 'main'\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Alerts.Webhook != "" || !s.Alerts.NewDevice {
		t.Fatalf("defaults %+v, want no webhook and new-device alerts on", s.Alerts)
	}
	for _, good := range []string{"https://ntfy.sh/my-topic", "http://192.168.1.5:8080/hook?token=abc", "https://user:pw@example.com/x", "http://[fd00::5]/a"} {
		write("\toption alert_webhook '" + good + "'\n\toption alert_new_device '0'\n")
		s, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", good, err)
		}
		if s.Alerts.Webhook != good || s.Alerts.NewDevice {
			t.Fatalf("%s: %+v", good, s.Alerts)
		}
		opts := map[string]any{}
		for _, o := range s.Options() {
			opts[o.Name] = o.Value
		}
		if opts["alert_webhook"] != good || opts["alert_new_device"] != "0" {
			t.Fatalf("Options: %v", opts)
		}
	}
	for bad, want := range map[string]string{
		"file:///etc/shadow":                                         "is not an http:// or https:// URL",
		"ftp://secret-token@example.com/":                            "is not an http:// or https:// URL",
		"https:///path-only-secret-token":                            "with a host",
		"https:secret-token":                                         "with a host",
		"/relative/secret-token":                                     "is not an http:// or https:// URL",
		"https://example.com/a secret-token":                         "spaces or control characters",
		"https://example.com/secret-token#frag":                      "fragment",
		"https://example.com:99999/secret-token":                     "bad port",
		"https://example.com/" + strings.Repeat("secret-token", 200): "too long",
	} {
		write("\toption alert_webhook '" + bad + "'\n")
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "option alert_webhook") {
			t.Errorf("%q: %v, want an error naming the option and saying %q", bad, err, want)
			continue
		}
		// The value may carry a token: the error names the option, never
		// the value.
		if strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%q: the error shows the value: %v", bad, err)
		}
	}
	write("\toption alert_new_device 'maybe'\n")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "alert_new_device") {
		t.Errorf("alert_new_device 'maybe': %v", err)
	}
}
