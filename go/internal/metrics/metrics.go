// Package metrics writes the Prometheus text exposition format (version
// 0.0.4) of per-device counters, so that many routers aggregate in one
// Prometheus, and serves it only to the addresses the settings allow.
package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/transferometer/transferometer/internal/account"
)

// ContentType is the exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Write renders a report taken with period "all": every counter is
// monotonic except at a reset, which Prometheus' rate() treats as a
// counter reset.
func Write(w io.Writer, r account.Report) error {
	type metric struct {
		name, help string
		value      func(h account.HostUsage) uint64
	}
	host := []metric{
		{"transferometer_download_bytes_total", "Bytes forwarded to the device since its last reset.", func(h account.HostUsage) uint64 { return h.DownloadBytes }},
		{"transferometer_upload_bytes_total", "Bytes forwarded from the device since its last reset.", func(h account.HostUsage) uint64 { return h.UploadBytes }},
		{"transferometer_download_packets_total", "Packets forwarded to the device since its last reset.", func(h account.HostUsage) uint64 { return h.DownloadPackets }},
		{"transferometer_upload_packets_total", "Packets forwarded from the device since its last reset.", func(h account.HostUsage) uint64 { return h.UploadPackets }},
	}
	var b strings.Builder
	for _, m := range host {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", m.name, m.help, m.name)
		for _, h := range r.Hosts {
			fmt.Fprintf(&b, "%s{mac=\"%s\",hostname=\"%s\"} %d\n", m.name, escape(h.MAC), escape(h.Hostname), m.value(h))
		}
	}
	router := []struct {
		name, help string
		v          uint64
	}{
		{"transferometer_router_input_bytes_total", "Bytes the router itself received (loopback excluded).", r.Router.InputBytes},
		{"transferometer_router_output_bytes_total", "Bytes the router itself sent (loopback excluded).", r.Router.OutputBytes},
	}
	for _, m := range router {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", m.name, m.help, m.name, m.name, m.v)
	}
	fmt.Fprintf(&b, "# HELP transferometer_collected_at_seconds When the numbers were collected (unix time).\n# TYPE transferometer_collected_at_seconds gauge\ntransferometer_collected_at_seconds %d\n", r.CollectedAt)
	_, err := io.WriteString(w, b.String())
	return err
}

// escape quotes a label value as the format wants: \\, \" and \n.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// Handler serves /metrics from source to the allowed addresses only;
// anyone else gets 403 before anything is read.
func Handler(allow []netip.Prefix, source func(ctx context.Context) (account.Report, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(allow, r.RemoteAddr) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rep, err := source(r.Context())
		if err != nil {
			http.Error(w, "collecting failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		Write(w, rep)
	})
}

func allowed(allow []netip.Prefix, remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
