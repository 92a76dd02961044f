package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/rpcd"
)

// The rpcd-exact harness: the plugin rpcd loads, run the way rpcd's
// plugin.c and exec.c run it — argv[0] the plugin's path; `list` with stdin
// and stderr on /dev/null; `call METHOD` with the arguments written once
// and stdin then closed — and its stdout held to rpcd's rule: exactly one
// JSON object.

// rpcdPlugin installs the repository's rpcd/transferometer as the package
// does — a symlink to the binary, in a directory named like rpcd's plugin
// directory — but pointing at bin, and returns the plugin's path.
func rpcdPlugin(t testing.TB, bin string) string {
	t.Helper()
	const want = "/usr/sbin/transferometer"
	if target, err := os.Readlink("../../../rpcd/transferometer"); err != nil || target != want {
		t.Fatalf("rpcd/transferometer: want a symlink to %s, got %q (%v)", want, target, err)
	}
	dir := filepath.Join(t.TempDir(), "usr", "libexec", "rpcd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "transferometer")
	if err := os.Symlink(abs, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// rpcdRun runs the plugin in the router namespace. stdin nil means
// /dev/null (as for list).
func (r *rig) rpcdRun(t testing.TB, stdin []byte, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // LuCI's rpc timeout
	defer cancel()
	cmd := r.lan.Exec(ctx, r.lan.Router, rpcdPlugin(t, r.bin), args...)
	cmd.Env = r.env()
	var so bytes.Buffer
	cmd.Stdout = &so
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("rpcd %v: no answer within LuCI's 20 s", args)
		}
		// rpcd ignores the exit code; the output is what counts.
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("rpcd %v: %v", args, err)
		}
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("rpcd %v took %v", args, el)
	}
	return oneObject(t, so.Bytes())
}

// oneObject enforces rpcd's rule: one JSON object, nothing else.
func oneObject(t testing.TB, out []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not JSON (%v): %q", err, out)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("stdout is %T, not an object: %q", v, out)
	}
	if rest := bytes.TrimSpace(out[dec.InputOffset():]); len(rest) > 0 {
		t.Fatalf("trailing output after the object: %q", rest)
	}
	return obj
}

func num(t testing.TB, obj map[string]any, path ...string) uint64 {
	t.Helper()
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%v: not an object at %q in %v", path, p, obj)
		}
		cur = m[p]
	}
	f, ok := cur.(float64)
	if !ok {
		t.Fatalf("%v = %v, not a number", path, cur)
	}
	return uint64(f)
}

func hostObj(t testing.TB, usage map[string]any, mac string) map[string]any {
	t.Helper()
	hs, ok := usage["hosts"].([]any)
	if !ok {
		t.Fatalf("usage has no hosts array: %v", usage)
	}
	for _, h := range hs {
		if m, ok := h.(map[string]any); ok && m["mac"] == mac {
			return m
		}
	}
	t.Fatalf("no host %s in %v", mac, usage)
	return nil
}

// TestRPCDList runs the installed form of the plugin (the symlink) as
// rpcd does at start; the signature itself is internal/rpcd's unit test.
func TestRPCDList(t *testing.T) {
	cmd := exec.Command(rpcdPlugin(t, binary(t)), "list")
	cmd.Env = []string{"TRANSFEROMETER_CONFIG_DIR=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	got := oneObject(t, out)
	sig, err := json.Marshal(rpcd.Signature())
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(sig, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
}

// TestRPCDUsageResetExact: after known traffic, call usage reports the
// exact bytes; call reset then call usage shows zero for that MAC while
// new traffic keeps counting, and the other host is untouched.
func TestRPCDUsageResetExact(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			h1, h2 := r.lan.Hosts[0], r.lan.Hosts[1]
			r.ok(t, "arp-add", h1.MAC.String(), h1.IP4.String())
			r.ok(t, "arp-add", h2.MAC.String(), h2.IP6.String())
			h1.Ping(t, r.lan.Internet4, 1000, 10)
			h2.Ping(t, r.lan.Internet6, 1000, 10)
			u := r.rpcdRun(t, []byte("{ }"), "call", "usage")
			if got := num(t, hostObj(t, u, h1.MAC.String()), "download_bytes"); got != 10280 {
				t.Fatalf("h1 download = %d, want 10280", got)
			}
			if got := num(t, hostObj(t, u, h2.MAC.String()), "upload_bytes"); got != 10480 {
				t.Fatalf("h2 upload = %d, want 10480", got)
			}
			if num(t, u, "totals", "download_bytes") != 10280+10480 {
				t.Fatalf("totals = %v", u["totals"])
			}
			if _, ok := u["warnings"].([]any); !ok {
				t.Fatalf("warnings is not an array: %v", u["warnings"])
			}
			// Narrowed to one MAC.
			one := r.rpcdRun(t, []byte(`{"mac":"`+strings.ToUpper(h2.MAC.String())+`"}`), "call", "usage")
			if hs := one["hosts"].([]any); len(hs) != 1 || hs[0].(map[string]any)["mac"] != h2.MAC.String() {
				t.Fatalf("usage narrowed to h2 = %v", one["hosts"])
			}
			res := r.rpcdRun(t, []byte(`{"mac":"`+h1.MAC.String()+`"}`), "call", "reset")
			zeroed, ok := res["reset"].([]any)
			if !ok || len(zeroed) != 1 || num(t, zeroed[0].(map[string]any), "download_bytes") != 10280 {
				t.Fatalf("reset = %v", res)
			}
			h1.Ping(t, r.lan.Internet4, 500, 7)
			u = r.rpcdRun(t, []byte("{}"), "call", "usage")
			if got := num(t, hostObj(t, u, h1.MAC.String()), "download_bytes"); got != 3696 {
				t.Fatalf("h1 download after reset + 7×528 B = %d, want 3696", got)
			}
			if got := num(t, hostObj(t, u, h2.MAC.String()), "upload_bytes"); got != 10480 {
				t.Fatalf("h2 changed by h1's reset: %d", got)
			}
			hs := r.rpcdRun(t, []byte("{}"), "call", "hosts")
			if n := len(hs["hosts"].([]any)); n != 2 {
				t.Fatalf("hosts lists %d devices, want 2: %v", n, hs)
			}
			for _, h := range hs["hosts"].([]any) {
				if m := h.(map[string]any); m["rules"] != true {
					t.Errorf("host without rules: %v", m)
				}
			}
		})
	}
}

// TestRPCDHostileStdin: an error object each time, nothing changed.
func TestRPCDHostileStdin(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) { testRPCDHostileStdin(t, v) })
	}
}

func testRPCDHostileStdin(t *testing.T, v string) {
	r := newRig(t, v, 1)
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	h.Ping(t, r.lan.Internet4, 1000, 3)
	r.ok(t, "collect")
	big := append([]byte(`{"mac":"`), bytes.Repeat([]byte("a"), 10<<20)...)
	big = append(big, '"', '}')
	cases := []struct {
		name, method string
		in           []byte
		code         string
	}{
		{"not json", "usage", []byte("hello"), "invalid_json"},
		{"array", "usage", []byte(`[1,2]`), "invalid_json"},
		{"string", "usage", []byte(`"x"`), "invalid_json"},
		{"two objects", "reset", []byte(`{} {}`), "invalid_json"},
		{"wrong type", "reset", []byte(`{"mac": 5}`), "invalid_argument"},
		{"object mac", "usage", []byte(`{"mac": {"a":1}}`), "invalid_argument"},
		{"10 MB body", "reset", big, "too_large"},
		{"shell metacharacters", "reset", []byte(`{"mac":"$(reboot); rm -rf /"}`), "invalid_argument"},
		{"option-like", "reset", []byte(`{"mac":"--flush"}`), "invalid_argument"},
		{"unknown method", "flush", []byte(`{}`), "method_not_found"},
		{"truncated", "reset", []byte(`{"mac":`), "invalid_json"},
		{"null mac would mean all", "reset", []byte(`{"mac":null}`), "invalid_argument"},
		{"bad period", "usage", []byte(`{"period":"last month"}`), "invalid_argument"},
		{"period type", "usage", []byte(`{"period":7}`), "invalid_argument"},
		{"unknown period", "usage", []byte(`{"period":"2001-01-01"}`), "not_found"},
	}
	rules, db := r.save(t), r.dbState(t)
	for _, c := range cases {
		got := r.rpcdRun(t, c.in, "call", c.method)
		if got["code"] != c.code || got["error"] == nil || got["error"] == "" {
			t.Errorf("%s: got %v, want code %q and a message", c.name, got, c.code)
		}
	}
	if r.save(t) != rules || !reflect.DeepEqual(r.dbState(t), db) {
		t.Fatal("hostile stdin changed rules or ledger")
	}
	// Unknown extra fields are ignored.
	got := r.rpcdRun(t, []byte(`{"ubus_rpc_session":"x","extra":[1]}`), "call", "hosts")
	if _, ok := got["hosts"]; !ok {
		t.Fatalf("extra fields rejected: %v", got)
	}
}

// TestRPCDLockHeld: while another process holds the lock past the bound,
// usage still answers in time with the saved numbers and a warning, and
// reset answers with a lock_timeout error object, changing nothing.
func TestRPCDLockHeld(t *testing.T) {
	r := newRig(t, "nft", 1)
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	h.Ping(t, r.lan.Internet4, 1000, 10)
	r.ok(t, "collect")
	r.writeConfig(t, "\toption lock_timeout '1'\n")
	holder := exec.Command("sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	r.plantLock(t, holder.Process.Pid)
	db := r.dbState(t)
	u := r.rpcdRun(t, []byte("{}"), "call", "usage")
	if got := num(t, hostObj(t, u, h.MAC.String()), "download_bytes"); got != 10280 {
		t.Fatalf("saved numbers not shown: %d", got)
	}
	ws, _ := u["warnings"].([]any)
	found := false
	for _, w := range ws {
		found = found || w.(map[string]any)["code"] == "lock_timeout"
	}
	if !found {
		t.Fatalf("no lock_timeout warning: %v", u["warnings"])
	}
	res := r.rpcdRun(t, []byte(`{"mac":"`+h.MAC.String()+`"}`), "call", "reset")
	if res["code"] != "lock_timeout" {
		t.Fatalf("reset under a held lock = %v", res)
	}
	if !reflect.DeepEqual(r.dbState(t), db) {
		t.Fatal("ledger changed while the lock was held by another process")
	}
	if _, err := os.Stat(r.lockDir); err != nil {
		t.Fatal("the holder's lock was removed")
	}
}
