package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/account"
	"github.com/transferometer/transferometer/internal/ledger"
)

func report() account.Report {
	return account.Report{CollectedAt: 1764100000, Hosts: []account.HostUsage{
		{MAC: "02:00:00:00:00:0a", Hostname: `la"p\top` + "\n", Usage: ledger.Usage{DownloadBytes: 10280, UploadBytes: 7, DownloadPackets: 10, UploadPackets: 1}},
		{MAC: "02:00:00:00:00:0b", Usage: ledger.Usage{DownloadBytes: 1 << 40}},
	}, Router: ledger.RouterUsage{InputBytes: 3696, OutputBytes: 1}}
}

func TestWriteParses(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, report()); err != nil {
		t.Fatal(err)
	}
	samples, err := Parse(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	got := map[string]uint64{}
	for _, s := range samples {
		got[s.Name+"/"+s.Labels["mac"]+"/"+s.Labels["hostname"]] = s.Value
	}
	want := map[string]uint64{
		"transferometer_download_bytes_total/02:00:00:00:00:0a/la\"p\\top\n":   10280,
		"transferometer_upload_bytes_total/02:00:00:00:00:0a/la\"p\\top\n":     7,
		"transferometer_download_packets_total/02:00:00:00:00:0a/la\"p\\top\n": 10,
		"transferometer_download_bytes_total/02:00:00:00:00:0b/":               1 << 40,
		"transferometer_router_input_bytes_total//":                            3696,
		"transferometer_collected_at_seconds//":                                1764100000,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %d, want %d", k, got[k], v)
		}
	}
	if len(samples) != 4*2+3 {
		t.Errorf("%d samples", len(samples))
	}
}

func TestHandlerAllowsOnlyListed(t *testing.T) {
	calls := 0
	h := Handler([]netip.Prefix{netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("fd00::/64")},
		func(context.Context) (account.Report, error) { calls++; return report(), nil })
	for remote, want := range map[string]int{
		"192.168.1.10:5555": 200, "[fd00::5]:80": 200, "[::ffff:192.168.1.10]:1": 200,
		"192.168.1.11:5555": 403, "[fe80::1%br-lan]:1": 403, "garbage": 403,
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", remote, rec.Code, want)
		}
		if want == 200 && rec.Header().Get("Content-Type") != ContentType {
			t.Errorf("content type %q", rec.Header().Get("Content-Type"))
		}
	}
	if calls != 3 {
		t.Errorf("source read %d times, want 3 (never for a refused scrape)", calls)
	}
}
