package account

import (
	"fmt"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/macaddr"
)

// BenchmarkQuotaAlertsSteady is what a collection adds for alerts in the
// steady state: a per-device quota over 254 (or 4096) devices, each past
// one of its thresholds already told, so nothing new: alerts.db looked at
// (a stat: the daemon's last decoded state is used again while the file
// is unchanged) and the decision, no write.
func BenchmarkQuotaAlertsSteady(b *testing.B) {
	for _, n := range []int{254, 4096} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			sts := make([]QuotaStatus, n)
			for i := range sts {
				m := macaddr.MAC{2, 0, 0, 0, byte(i >> 8), byte(i)}
				sts[i] = QuotaStatus{Name: "each", Device: &m, Members: []macaddr.MAC{m}, Limit: 1000, Used: 600,
					Per: "day", State: QuotaWarning, Crossed: []int{50}, Key: "2026-12-07"}
			}
			notify := map[string][]int{"each": {50, 80}}
			now := time.Unix(1_796_000_000, 0)
			name := func(macaddr.MAC) string { return "" }
			st := &alertState{Version: alertsVersion, Fired: map[string]fired{}}
			decideQuotaAlerts(st, sts, notify, now, name)
			var cache alertCache
			if err := cache.save(dir, st); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := cache.load(dir)
				if err != nil {
					b.Fatal(err)
				}
				if out, changed := decideQuotaAlerts(st, sts, notify, now, name); len(out) != 0 || changed {
					b.Fatal("not steady")
				}
			}
		})
	}
}
