package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestHostileSettingsPaths: settings a delegated LuCI user could write,
// aimed at files and directories that are not ours. The binary refuses
// each (a bad setting: exit 2; a directory it must not write into: exit
// 1), with one clear line, and nothing changes: not the victims, not the
// rules, not the ledger.
func TestHostileSettingsPaths(t *testing.T) {
	r := newRig(t, "nftables", 1)
	h := r.lan.Hosts[0]
	mac, ip := h.MAC.String(), h.IP4.String()
	r.ok(t, "arp-add", mac, ip)

	base := t.TempDir()
	if err := os.Chmod(base, os.ModeSticky|0o777); err != nil { // as /tmp
		t.Fatal(err)
	}
	victim := filepath.Join(base, "victim.conf")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	victimDir := filepath.Join(base, "victim-dir")
	if err := os.Mkdir(victimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victimDir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(base, "planted")
	if err := os.Symlink(victimDir, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	state := func() map[string]string {
		out := map[string]string{}
		for _, p := range []string{victim, filepath.Join(victimDir, "keep")} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = string(b)
		}
		ents, _ := os.ReadDir(victimDir)
		out["entries"] = strings.Repeat("x", len(ents))
		return out
	}
	victims, rules := state(), r.save(t)

	for _, tc := range []struct {
		option string
		args   []string
		code   int
	}{
		{"option pid_file '" + victim + "'", []string{"arp-add", mac, ip}, 2},
		{"option pid_file '" + base + "/x.pid/../victim.conf'", []string{"arp-add", mac, ip}, 2},
		{"option db_dir '" + victimDir + "/../victim-dir'", []string{"collect"}, 2},
		{"option persist_dir '/usr/lib'", []string{"commit"}, 2},
		{"option leasefile '/root/.ssh/id_rsa'", []string{"usage"}, 2},
		{"option db_dir '" + planted + "'", []string{"arp-add", mac, ip}, 1},
		{"option persist_dir '" + planted + "'", []string{"commit"}, 1},
	} {
		r.writeConfig(t, "\t"+tc.option+"\n")
		res := r.exec(t, tc.args...)
		if res.code != tc.code {
			t.Errorf("%s, %v: exit %d, want %d (stderr %q)", tc.option, tc.args, res.code, tc.code, res.stderr)
		}
		if !strings.HasPrefix(res.stderr, "transferometer: ") || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("%s: stderr not one clear line: %q", tc.option, res.stderr)
		}
		if got := state(); !reflect.DeepEqual(got, victims) {
			t.Fatalf("%s: a victim changed: %v", tc.option, got)
		}
		if got := r.save(t); got != rules {
			t.Errorf("%s: the rules changed:\n%s", tc.option, got)
		}
	}
	// The working ledger is intact (a refused commit still collected
	// into it, as any commit does).
	r.writeConfig(t, "")
	if u := r.usage(t).host(mac); len(u.IPs) != 1 || u.IPs[0] != ip {
		t.Errorf("after the hostile settings: %+v", u)
	}
}
