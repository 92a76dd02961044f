package ledger

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One bad entry costs that entry, not the file: the rest is kept, the
// original is kept aside, and the warning names what was dropped.
func TestSalvageDropsOnlyBadEntries(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	hosts := `{"version":1,"ips":{` +
		`"10.0.0.1":{"mac":"02:00:00:00:00:01","first_seen":1,"last_seen":2},` +
		`"10.0.0.300":{"mac":"02:00:00:00:00:02"},` +
		`"10.0.0.3":{"mac":"00:00:00:00:00:00"},` +
		`"10.0.0.4":{"mac":"zz"},` +
		`"fd00::5":{"mac":"02:00:00:00:00:05"}},` +
		`"devices":{"02:00:00:00:00:01":{"hostname":"laptop"},"02:00:00:00:00:09":null,"nope":{}}}`
	transfer := `{"version":1,"totals":{"02:00:00:00:00:01":{"download_bytes":500},"xx":{"download_bytes":1}},` +
		`"router":{"input_bytes":7},"unattributed":{},` +
		`"baselines":{"down 10.0.0.1":{"mac":"02:00:00:00:00:01","packets":1,"bytes":500},"sideways 10.0.0.1":{"bytes":3}},` +
		`"day":{"key":"2026-11-05","usage":{"02:00:00:00:00:01":{"download_bytes":50},"bad":{}}},` +
		`"period":{"key":"2026-11-01","usage":{"02:00:00:00:00:01":{"download_bytes":500}}},` +
		`"history":[],"restored":true,"boot_id":"b"}`
	history := `{"version":1,"days":{"2026-11-04":{"02:00:00:00:00:01":{"download_bytes":9},"x":{}},"yesterday":{}},` +
		`"periods":{"2026-10-01":{"02:00:00:00:00:01":{"upload_bytes":4}}}}`
	for name, body := range map[string]string{HostsFile: hosts, TransferFile: transfer, HistoryFile: history} {
		if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Unix(4321, 0)
	h, tr, rec, err := s.Load(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 2 {
		t.Fatalf("recovered %v", rec)
	}
	for _, r := range rec {
		if r.Dropped == nil || !strings.Contains(r.String(), "bad entries dropped") || !strings.HasSuffix(r.MovedTo, ".corrupt-4321") {
			t.Errorf("%s", r)
		}
		if b, _ := os.ReadFile(r.MovedTo); len(b) == 0 {
			t.Errorf("original %s not kept", r.MovedTo)
		}
	}
	if len(h.IPs) != 2 || h.IPs[netip.MustParseAddr("10.0.0.1")].MAC != mustMAC("02:00:00:00:00:01") || h.IPs[netip.MustParseAddr("fd00::5")].MAC.IsZero() {
		t.Errorf("ips kept: %v", h.IPs)
	}
	if len(h.Devices) != 1 || h.Devices[mustMAC("02:00:00:00:00:01")].Hostname != "laptop" {
		t.Errorf("devices kept: %v", h.Devices)
	}
	m1 := mustMAC("02:00:00:00:00:01")
	if len(tr.Totals) != 1 || tr.Totals[m1].DownloadBytes != 500 || tr.Router.InputBytes != 7 || !tr.Restored || tr.BootID != "b" {
		t.Errorf("transfer kept: %+v", tr)
	}
	if len(tr.Baselines) != 1 || len(tr.Day.Usage) != 1 || tr.Day.Key != "2026-11-05" || tr.Period.Usage[m1].DownloadBytes != 500 {
		t.Errorf("baselines/buckets kept: %+v %+v", tr.Baselines, tr.Day)
	}
	hist, hrec, err := s.LoadHistory(now)
	if err != nil || hrec == nil || hrec.Dropped == nil {
		t.Fatalf("history: %v %v", hrec, err)
	}
	if len(hist.Days) != 1 || len(hist.Days["2026-11-04"]) != 1 || hist.Periods["2026-10-01"][m1].UploadBytes != 4 {
		t.Errorf("history kept: %+v", hist)
	}
}

// Peek (no lock, no write) reads a salvageable file the same way and
// moves nothing.
func TestPeekSalvages(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	body := `{"version":1,"ips":{"10.0.0.1":{"mac":"02:00:00:00:00:01"},"::ffff:zz":{"mac":"02:00:00:00:00:02"}},"devices":{}}`
	p := filepath.Join(s.Dir, HostsFile)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _, err := s.Peek()
	if err != nil || len(h.IPs) != 1 {
		t.Fatalf("peek: %v %v", h, err)
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Fatal("peek changed the file")
	}
}

// More bad entries than a warning names: it says how many more.
func TestSalvageSummaryBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"version":1,"ips":{`)
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"bad` + strings.Repeat("x", i) + `":{}`)
	}
	b.WriteString(`,"10.0.0.1":{"mac":"02:00:00:00:00:01"}},"devices":{}}`)
	h := NewHosts()
	dropped, err := decode(HostsFile, []byte(b.String()), h, freshOf(h))
	if err != nil || len(dropped) != 50 || len(h.IPs) != 1 {
		t.Fatalf("dropped %d, ips %d, %v", len(dropped), len(h.IPs), err)
	}
	if s := summary(dropped); !strings.Contains(s, "50 bad entries") || !strings.Contains(s, "and 45 more") || len(s) > 600 {
		t.Fatalf("summary %q", s)
	}
}
