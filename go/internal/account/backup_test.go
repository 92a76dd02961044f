package account

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/ledger"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// ledgerFiles reads every file in the core's db_dir and persist_dir.
func ledgerFiles(t *testing.T, c *Core) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{c.settings.DBDir, c.settings.PersistDir} {
		ents, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Join(dir, e.Name())] = string(b)
		}
	}
	return out
}

func backupCore(t *testing.T, at *time.Time) (*Core, *netfilter.Fake) {
	t.Helper()
	c, f := historyCore(t, at)
	c.settings.PersistDir = filepath.Join(c.configDir, "flash")
	return c, f
}

func totalsOf(t *testing.T, c *Core) map[string]ledger.Usage {
	t.Helper()
	r, err := fresh(c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ledger.Usage{}
	for _, h := range r.Hosts {
		out[h.MAC] = h.Usage
	}
	return out
}

// Backup, reset, more traffic, restore: the numbers are the backup's, and
// traffic after the restore is counted once — the kernel counters' values
// at the restore are not credited again.
func TestBackupResetRestore(t *testing.T) {
	ipB := netip.MustParseAddr("10.77.0.11")
	at := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	c, f := backupCore(t, &at)
	writeFile(t, c.settings.LeaseFile, "0 02:00:00:00:00:0b 10.77.0.11 phone *\n")
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macB, ipB)
	f.Traffic(down(ipA), 3, 3000)
	f.Traffic(up(ipB), 2, 222)
	collectAt(t, c, &at, time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC))
	f.Traffic(down(ipA), 1, 44)
	collectAt(t, c, &at, time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)) // November is history
	f.Traffic(down(ipB), 1, 55)
	at = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	before := totalsOf(t, c)
	histBefore, err := c.History(context.Background(), HistoryQuery{Period: "2026-11-01"})
	if err != nil {
		t.Fatal(err)
	}
	curBefore, err := c.History(context.Background(), HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Backup(context.Background(), MaxUbusBackup)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.File, ".json.gz") || len(b.Data) == 0 || b.OmittedDays != 0 {
		t.Fatalf("backup: %q, %d bytes, %d days left out", b.File, len(b.Data), b.OmittedDays)
	}
	if _, err := c.Reset(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	f.Traffic(down(ipA), 1, 7) // after the backup, before the restore: gone with the restore
	res, err := c.Restore(context.Background(), b.Data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Devices != 2 || res.Periods != 2 || res.Days != 2 || !strings.HasPrefix(res.From, "2026-12-01T08:00:00") {
		t.Fatalf("restored %+v", res)
	}
	after := totalsOf(t, c)
	for mac, u := range before {
		if after[mac] != u {
			t.Errorf("%s: %+v after the restore, %+v in the backup", mac, after[mac], u)
		}
	}
	histAfter, err := c.History(context.Background(), HistoryQuery{Period: "2026-11-01"})
	if err != nil {
		t.Fatal(err)
	}
	if histAfter.Period != histBefore.Period || len(histAfter.Days) != len(histBefore.Days) || histAfter.Days[29].Download != 3000 {
		t.Fatalf("November after the restore: %+v", histAfter.Period)
	}
	curAfter, err := c.History(context.Background(), HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(curAfter.Days, curBefore.Days) || !reflect.DeepEqual(curAfter.Hours, curBefore.Hours) || curAfter.Hours[0].Download != 44 {
		t.Fatalf("December after the restore: %+v %+v\nbefore: %+v %+v", curAfter.Days, curAfter.Hours, curBefore.Days, curBefore.Hours)
	}
	r, _ := fresh(c, &macB, "")
	if h := r.Hosts[0]; h.Hostname != "phone" || !h.Active {
		t.Fatalf("device B after the restore: %+v", h)
	}
	// New traffic after the restore counts once, on top of the backup.
	f.Traffic(down(ipA), 1, 1000)
	if got, want := totalsOf(t, c)[macA.String()].DownloadBytes, before[macA.String()].DownloadBytes+1000; got != want {
		t.Fatalf("after new traffic: %d, want %d", got, want)
	}
	// The restore was committed to flash.
	_, flash, err := ledger.Store{Dir: c.settings.PersistDir}.Peek()
	if err != nil || flash.Period.Usage[macA] != before[macA.String()] || flash.Totals[macA].DownloadBytes != 3044 {
		t.Fatalf("flash: %v %+v, want this period's %+v", err, flash.Period.Usage, before)
	}
}

// decodeBackup returns a backup's JSON as a generic value to tamper with.
func decodeBackup(t *testing.T, data []byte) map[string]any {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A damaged, truncated or hostile backup is refused with a clear error,
// and nothing changes: not the files in RAM or on flash, not the numbers.
func TestRestoreRefusesBadBackups(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c, f := backupCore(t, &at)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 3, 3000)
	b, err := c.Backup(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := b.Data
	tamper := func(fn func(v map[string]any)) []byte {
		v := decodeBackup(t, good)
		fn(v)
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	part := func(v map[string]any, name string) map[string]any { return v[name].(map[string]any) }
	mac := macA.String()
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	cases := []struct {
		name  string
		data  []byte
		newer bool
	}{
		{"empty", nil, false},
		{"not JSON", []byte("hello"), false},
		{"truncated", good[:len(good)-9], false},
		{"truncated early", good[:40], false},
		{"a flipped bit", flipped, false},
		{"two backups", append(tamper(func(map[string]any) {}), tamper(func(map[string]any) {})...), false},
		{"an array", []byte(`[1,2]`), false},
		{"other format", tamper(func(v map[string]any) { v["format"] = "nlbwmon" }), false},
		{"newer version", tamper(func(v map[string]any) { v["version"] = 2 }), true},
		{"newer ledger", tamper(func(v map[string]any) { part(v, "transfer")["version"] = 2 }), true},
		{"version as text", tamper(func(v map[string]any) { v["version"] = "1" }), false},
		{"no created", tamper(func(v map[string]any) { delete(v, "created") }), false},
		{"created in ten years", tamper(func(v map[string]any) { v["created"] = "2036-12-01T08:00:00Z" }), false},
		{"no history", tamper(func(v map[string]any) { delete(v, "history") }), false},
		{"hosts null", tamper(func(v map[string]any) { v["hosts"] = nil }), false},
		{"bad MAC", tamper(func(v map[string]any) {
			part(v, "transfer")["totals"].(map[string]any)["02:00:00:00:00:zz"] = map[string]any{"download_bytes": 1}
		}), false},
		{"multicast MAC", tamper(func(v map[string]any) {
			part(v, "transfer")["totals"].(map[string]any)["01:00:5e:00:00:01"] = map[string]any{"download_bytes": 1}
		}), false},
		{"number beyond uint64", tamper(func(v map[string]any) {
			part(v, "transfer")["totals"].(map[string]any)[mac] = map[string]any{"download_bytes": json.Number("184467440737095516160")}
		}), false},
		{"number beyond traffic", tamper(func(v map[string]any) {
			part(v, "transfer")["totals"].(map[string]any)[mac] = map[string]any{"download_bytes": uint64(1) << 62}
		}), false},
		{"negative", tamper(func(v map[string]any) {
			part(v, "transfer")["totals"].(map[string]any)[mac] = map[string]any{"upload_bytes": -5}
		}), false},
		{"fraction", tamper(func(v map[string]any) {
			part(v, "transfer")["totals"].(map[string]any)[mac] = map[string]any{"upload_bytes": 1.5}
		}), false},
		{"wrong type", tamper(func(v map[string]any) { part(v, "transfer")["totals"] = []any{1, 2} }), false},
		{"bad day", tamper(func(v map[string]any) { part(v, "history")["days"] = map[string]any{"2026-13-40": map[string]any{}} }), false},
		{"bad hour", tamper(func(v map[string]any) {
			v["hours"] = map[string]any{"version": 1, "hours": map[string]any{"hours": []int{17}, "devices": map[string]any{mac: "1,2"}}}
		}), false},
		{"hour of three numbers", tamper(func(v map[string]any) {
			v["hours"] = map[string]any{"version": 1, "hours": map[string]any{"hours": []int{1796630400}, "devices": map[string]any{mac: "1,2,3"}}}
		}), false},
		{"hour beyond traffic", tamper(func(v map[string]any) {
			v["hours"] = map[string]any{"version": 1, "hours": map[string]any{"hours": []int{1796630400}, "devices": map[string]any{mac: "1,100000000000000000"}}}
		}), false},
		{"newer hours", tamper(func(v map[string]any) { v["hours"] = map[string]any{"version": 2} }), true},
		{"hour in the future", tamper(func(v map[string]any) {
			part(v, "transfer")["hour"] = map[string]any{"start": 1996630400, "usage": map[string]any{mac: []int{1, 2}}}
		}), false},
		{"hour edits", tamper(func(v map[string]any) {
			part(v, "transfer")["hour_edits"] = []any{map[string]any{"mac": mac, "since": 1796600000, "before": 1796630400}}
		}), false},
		{"markup hostname", tamper(func(v map[string]any) {
			part(v, "hosts")["devices"].(map[string]any)[mac] = map[string]any{"hostname": "<script>", "first_seen": 1, "last_seen": 2}
		}), false},
		{"addresses", tamper(func(v map[string]any) {
			part(v, "hosts")["ips"] = map[string]any{"10.77.0.99": map[string]any{"mac": mac}}
		}), false},
		{"baselines", tamper(func(v map[string]any) {
			part(v, "transfer")["baselines"] = map[string]any{"up/10.77.0.10": map[string]any{"bytes": 1}}
		}), false},
		{"deep nesting", []byte(`{"format":"transferometer-backup","version":1,"hosts":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), false},
	}
	filesBefore := ledgerFiles(t, c)
	usageBefore := totalsOf(t, c)
	filesBefore = ledgerFiles(t, c) // after the collection usage made
	for _, tc := range cases {
		_, err := c.Restore(context.Background(), tc.data)
		switch {
		case err == nil:
			t.Errorf("%s: restored", tc.name)
		case tc.newer && !errors.Is(err, ledger.ErrNewer):
			t.Errorf("%s: %v, want a newer-version error", tc.name, err)
		case !tc.newer && !errors.Is(err, ErrBadBackup):
			t.Errorf("%s: %v, want ErrBadBackup", tc.name, err)
		}
		if got := ledgerFiles(t, c); len(got) != len(filesBefore) {
			t.Fatalf("%s: files changed", tc.name)
		} else {
			for k, v := range filesBefore {
				if got[k] != v {
					t.Fatalf("%s: %s changed", tc.name, k)
				}
			}
		}
	}
	if after := totalsOf(t, c); after[mac] != usageBefore[mac] {
		t.Fatalf("usage changed: %+v, was %+v", after[mac], usageBefore[mac])
	}
	// The untouched backup still restores, in plain JSON too.
	if _, err := c.Restore(context.Background(), tamper(func(map[string]any) {})); err != nil {
		t.Fatalf("plain JSON backup: %v", err)
	}
}

// A ledger too large for one ubus message leaves out its oldest history
// (said in the result and the file), and what it keeps restores.
func TestBackupFitsUbusLimit(t *testing.T) {
	at := time.Date(2026, 12, 20, 8, 0, 0, 0, time.UTC)
	c, _ := backupCore(t, &at)
	h := ledger.NewHistory()
	for d := 0; d < 300; d++ {
		day := time.Date(2026, 12, 19, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -d)
		b := map[macaddr.MAC]ledger.Usage{}
		for i := 0; i < 40; i++ {
			b[macaddr.MAC{2, 0, 0, 0, byte(i), 1}] = ledger.Usage{DownloadBytes: uint64(d*7919 + i*104729), UploadBytes: uint64(i * d * 31)}
		}
		h.Days[day.Format("2006-01-02")] = b
	}
	if err := c.store.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := c.store.SaveHistory(h); err != nil {
		t.Fatal(err)
	}
	full, err := c.Backup(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 20 << 10
	if len(full.Data) <= limit {
		t.Fatalf("the full backup is only %d bytes: the test needs more history", len(full.Data))
	}
	b, err := c.Backup(context.Background(), limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Data) > limit || b.OmittedDays <= 0 || b.OmittedDays >= 300 {
		t.Fatalf("%d bytes, %d days left out", len(b.Data), b.OmittedDays)
	}
	v := decodeBackup(t, b.Data)
	if n, _ := v["omitted_days"].(json.Number).Int64(); int(n) != b.OmittedDays {
		t.Fatalf("the file says %v days left out, the result %d", v["omitted_days"], b.OmittedDays)
	}
	if _, err := c.Restore(context.Background(), b.Data); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Backup(context.Background(), 200); !errors.Is(err, ErrBackupTooLarge) {
		t.Fatalf("200 bytes: %v", err)
	}
}
