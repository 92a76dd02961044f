package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/rpcd"
)

// TestRPCDHistoryBackupRestore: real traffic through the rpcd plugin on
// every backend. history's day and hours hold the exact bytes; backup,
// reset, restore gives back the same usage; a damaged backup is refused
// with nothing changed; traffic after the restore counts once.
func TestRPCDHistoryBackupRestore(t *testing.T) {
	for _, v := range variants() {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, v, 2)
			r.writeConfig(t, "\toption persist_dir '"+filepath.Join(t.TempDir(), "flash")+"'\n")
			h1, h2 := r.lan.Hosts[0], r.lan.Hosts[1]
			m1, m2 := h1.MAC.String(), h2.MAC.String()
			r.ok(t, "arp-add", m1, h1.IP4.String())
			r.ok(t, "arp-add", m2, h2.IP6.String())
			h1.Ping(t, r.lan.Internet4, 1000, 10) // 10 × 1028 B each way
			h2.Ping(t, r.lan.Internet6, 1000, 10) // 10 × 1048 B each way

			hist := r.rpcdRun(t, []byte("{}"), "call", "history")
			if hist["error"] != nil {
				t.Fatalf("history: %v", hist)
			}
			checkHistory(t, hist, map[string][2]uint64{m1: {10280, 10280}, m2: {10480, 10480}})
			one := r.rpcdRun(t, []byte(`{"mac":"`+m2+`"}`), "call", "history")
			checkHistory(t, one, map[string][2]uint64{m2: {10480, 10480}})

			before := r.rpcdRun(t, []byte("{}"), "call", "usage")
			b := r.rpcdRun(t, []byte("{}"), "call", "backup")
			data, err := base64.StdEncoding.DecodeString(str(t, b, "data"))
			if err != nil || len(data) == 0 || num(t, b, "bytes") != uint64(len(data)) || !strings.HasSuffix(str(t, b, "file"), ".json.gz") {
				t.Fatalf("backup: %v (%v)", b, err)
			}
			r.rpcdRun(t, []byte("{}"), "call", "reset")
			zero := r.rpcdRun(t, []byte("{}"), "call", "usage")
			if num(t, zero, "totals", "download_bytes") != 0 {
				t.Fatalf("after reset: %v", zero["totals"])
			}

			// A damaged backup: refused, nothing changes.
			db := r.dbState(t)
			for _, bad := range [][]byte{data[:len(data)/2], append(append([]byte(nil), data[:20]...), 'x')} {
				in, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(bad)})
				res := r.rpcdRun(t, in, "call", "restore")
				if res["code"] != "invalid_argument" || res["error"] == nil {
					t.Fatalf("damaged backup: %v", res)
				}
			}
			if notB64 := r.rpcdRun(t, []byte(`{"data":"%%%"}`), "call", "restore"); notB64["code"] != "invalid_argument" {
				t.Fatalf("data not base64: %v", notB64)
			}
			if !reflect.DeepEqual(r.dbState(t), db) {
				t.Fatal("a refused restore changed the ledger")
			}

			in, _ := json.Marshal(map[string]string{"data": str(t, b, "data")})
			res := r.rpcdRun(t, in, "call", "restore")
			restored, ok := res["restored"].(map[string]any)
			if !ok || num(t, restored, "devices") != 2 || restored["from"] == "" {
				t.Fatalf("restore: %v", res)
			}
			after := r.rpcdRun(t, []byte("{}"), "call", "usage")
			for _, mac := range []string{m1, m2} {
				for _, k := range []string{"download_bytes", "upload_bytes", "download_packets", "upload_packets"} {
					if a, w := num(t, hostObj(t, after, mac), k), num(t, hostObj(t, before, mac), k); a != w {
						t.Errorf("%s %s: %d after the restore, %d before the backup", mac, k, a, w)
					}
				}
			}
			// The kernel counters' values at the restore are not credited
			// again: new traffic adds exactly itself.
			h1.Ping(t, r.lan.Internet4, 500, 7)
			later := r.rpcdRun(t, []byte("{}"), "call", "usage")
			if got := num(t, hostObj(t, later, m1), "download_bytes"); got != 10280+3696 {
				t.Fatalf("h1 after the restore and 7 × 528 B: %d, want %d", got, 10280+3696)
			}
		})
	}
}

// checkHistory holds a history reply to the devices' exact bytes today:
// the last day of the period, and today's hours added up.
func checkHistory(t *testing.T, h map[string]any, want map[string][2]uint64) {
	t.Helper()
	p := h["period"].(map[string]any)
	if p["current"] != true {
		t.Fatalf("period: %v", p)
	}
	days := h["days"].([]any)
	if len(days) == 0 {
		t.Fatalf("no days: %v", h)
	}
	today := days[len(days)-1].(map[string]any)
	var down, up uint64
	for mac, w := range want {
		down += w[0]
		up += w[1]
		if got := pair(t, today, mac); got != w {
			t.Errorf("today, %s: %v, want %v", mac, got, w)
		}
		var sum [2]uint64
		for _, hr := range h["hours"].([]any) {
			if hm := hr.(map[string]any); hm["devices"].(map[string]any)[mac] != nil {
				x := pair(t, hm, mac)
				sum[0] += x[0]
				sum[1] += x[1]
			}
		}
		if sum != w {
			t.Errorf("today's hours, %s: %v, want %v", mac, sum, w)
		}
		if _, ok := h["names"].(map[string]any)[mac]; !ok {
			t.Errorf("no name entry for %s: %v", mac, h["names"])
		}
	}
	if len(today["devices"].(map[string]any)) != len(want) || num(t, today, "download") != down || num(t, today, "upload") != up {
		t.Errorf("today: %v, want devices %v", today, want)
	}
	if num(t, p, "download") != down || num(t, p, "upload") != up {
		t.Errorf("period totals: %v, want %d down %d up", p, down, up)
	}
}

func pair(t *testing.T, obj map[string]any, mac string) [2]uint64 {
	t.Helper()
	a, ok := obj["devices"].(map[string]any)[mac].([]any)
	if !ok || len(a) != 2 {
		t.Fatalf("devices[%s] in %v", mac, obj)
	}
	return [2]uint64{uint64(a[0].(float64)), uint64(a[1].(float64))}
}

func str(t *testing.T, obj map[string]any, key string) string {
	t.Helper()
	s, ok := obj[key].(string)
	if !ok {
		t.Fatalf("%s is not a string in %v", key, obj)
	}
	return s
}

// TestACLHistoryBackupRestore: the page's ACL lets a viewer read history
// and only a writer back up (a backup exposes everything) or restore.
func TestACLHistoryBackupRestore(t *testing.T) {
	b, err := os.ReadFile("../../../luci-app-transferometer/root/usr/share/rpcd/acl.d/luci-app-transferometer.json")
	if err != nil {
		t.Fatal(err)
	}
	var acl map[string]struct {
		Read, Write struct {
			Ubus map[string][]string `json:"ubus"`
		}
	}
	if err := json.Unmarshal(b, &acl); err != nil {
		t.Fatal(err)
	}
	g := acl["luci-app-transferometer"]
	has := func(list []string, m string) bool {
		for _, x := range list {
			if x == m {
				return true
			}
		}
		return false
	}
	read, write := g.Read.Ubus["transferometer"], g.Write.Ubus["transferometer"]
	if !has(read, "history") || has(write, "history") {
		t.Errorf("history: read %v, write %v; want it in read only", read, write)
	}
	for _, m := range []string{"backup", "restore"} {
		if has(read, m) || !has(write, m) {
			t.Errorf("%s: read %v, write %v; want it in write only", m, read, write)
		}
	}
	for _, m := range []string{"history", "backup", "restore"} {
		if _, ok := rpcd.Signature()[m]; !ok {
			t.Errorf("the ACL names %s, the plugin has no such method", m)
		}
	}
}

// TestCLIBackupRestore: `backup FILE`, reset, `restore FILE` gives back the
// same usage; a damaged file is refused (exit 2) and nothing changes;
// bad arguments are usage errors.
func TestCLIBackupRestore(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.writeConfig(t, "\toption persist_dir '"+filepath.Join(t.TempDir(), "flash")+"'\n")
	h := r.lan.Hosts[0]
	r.ok(t, "arp-add", h.MAC.String(), h.IP4.String())
	h.Ping(t, r.lan.Internet4, 1000, 10)
	before := r.usage(t)
	file := filepath.Join(t.TempDir(), "ledger.json.gz")
	r.ok(t, "backup", file)
	r.ok(t, "reset")
	if u := r.usage(t); u.Totals.DownloadBytes != 0 {
		t.Fatalf("after reset: %+v", u.Totals)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json.gz")
	if err := os.WriteFile(bad, data[:len(data)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	db := r.dbState(t)
	for _, args := range [][]string{{"restore", bad}, {"restore"}, {"restore", "--all"}, {"backup"}, {"restore", file, file}} {
		if res := r.exec(t, args...); res.code != 2 || !strings.Contains(res.stderr, "restore") && !strings.Contains(res.stderr, "backup") {
			t.Errorf("%v: exit %d, stderr %q", args, res.code, res.stderr)
		}
	}
	if !reflect.DeepEqual(r.dbState(t), db) {
		t.Fatal("a refused restore changed the ledger")
	}
	if out := r.ok(t, "restore", file); !strings.Contains(out, "restored 1 devices") {
		t.Fatalf("restore said %q", out)
	}
	after := r.usage(t)
	if after.Totals != before.Totals || len(after.Hosts) != 1 || after.Hosts[0].DownloadBytes != 10280 || after.Hosts[0].UploadPackets != 10 {
		t.Fatalf("after restore: %+v, before: %+v", after, before)
	}
}

// TestRestoreWhileDaemonRuns: with the daemon collecting every second,
// history answers from its collections, a restore through rpcd replaces
// what the daemon's last snapshot said at once, and traffic after it is
// counted once by the daemon's next collections.
func TestRestoreWhileDaemonRuns(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.writeConfig(t, fmt.Sprintf("\toption refresh_interval '1'\n\toption persist_dir '%s'\n\toption live_port '0'\n\toption live_tls_port '0'\n", filepath.Join(t.TempDir(), "flash")))
	h := r.lan.Hosts[0]
	mac := h.MAC.String()
	h.Ping(t, r.lan.RouterLAN4, 56, 1) // a neighbour for the daemon to seed
	r.startDaemon(t)
	waitFor(t, 20*time.Second, "the daemon to seed the host", func() bool { return r.hasRules(t, h.IP4.String()) })
	h.Ping(t, r.lan.Internet4, 1000, 10)
	usageOf := func(k string) uint64 {
		return num(t, hostObj(t, r.rpcdRun(t, []byte("{}"), "call", "usage"), mac), k)
	}
	waitFor(t, 10*time.Second, "the daemon's collection to reach usage", func() bool { return usageOf("upload_bytes") == 10280 })
	hist := r.rpcdRun(t, []byte(`{"mac":"`+mac+`"}`), "call", "history")
	checkHistory(t, hist, map[string][2]uint64{mac: {10280, 10280}}) // the seeding ping went to the router itself
	b := r.rpcdRun(t, []byte("{}"), "call", "backup")
	r.rpcdRun(t, []byte("{}"), "call", "reset")
	waitFor(t, 10*time.Second, "a collection after the reset", func() bool { return usageOf("upload_bytes") == 0 })
	in, _ := json.Marshal(map[string]string{"data": str(t, b, "data")})
	if res := r.rpcdRun(t, in, "call", "restore"); res["restored"] == nil {
		t.Fatalf("restore: %v", res)
	}
	if got := usageOf("upload_bytes"); got != 10280 {
		t.Fatalf("usage right after the restore: upload %d, want 10280", got)
	}
	h.Ping(t, r.lan.Internet4, 500, 7)
	waitFor(t, 10*time.Second, "the daemon to count the new traffic", func() bool { return usageOf("download_bytes") == 10280+3696 })
	time.Sleep(2500 * time.Millisecond) // more collections: nothing credited twice
	if got := usageOf("download_bytes"); got != 10280+3696 {
		t.Fatalf("download after more collections: %d, want %d", got, 10280+3696)
	}
}
