package account

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/alert"
	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

// alertCore is a core with one quota on macA (limit 10,000 bytes, both
// directions, per period) and persist_dir in its temp dir.
func alertCore(t *testing.T, action config.QuotaAction, notify ...int) (*Core, *netfilter.Fake) {
	t.Helper()
	c, f := newCore(t)
	s := c.settings
	s.PersistDir = filepath.Join(c.configDir, "flash")
	s.Alerts.Webhook = testWebhook
	s.Quotas = []config.Quota{{Name: "kids", MACs: []macaddr.MAC{macA}, Limit: 10000, Per: config.QuotaPerPeriod,
		Direction: config.QuotaBoth, Action: action, Notify: notify}}
	return reopenWith(t, c, s), f
}

// taken returns the alerts queued since the last call, as "kind[/percent]"
// strings in order, and empties the outbox as a deliverer would.
func taken(t *testing.T, c *Core) []string {
	t.Helper()
	q := alert.Queue{Dir: c.settings.DBDir}
	es, err := q.Entries()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range es {
		s := e.Alert.Kind
		if e.Alert.Kind == alert.KindThreshold {
			s += fmt.Sprintf("/%d", e.Alert.Percent)
		}
		out = append(out, s)
		if err := q.Set(e, true); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func wantAlerts(t *testing.T, c *Core, what string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := taken(t, c); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: alerts %q, want %q", what, got, want)
	}
}

// testWebhook gives the alerts a channel (nothing here delivers them).
const testWebhook = "http://127.0.0.1:9/"

func TestThresholdAlertsOnceEach(t *testing.T) {
	c, f := alertCore(t, config.QuotaNone, 50, 80, 100)
	handle(t, c, NeighAdd, macA, ipA)
	wantAlerts(t, c, "first device of an empty ledger") // no new_device: the starting point
	f.Traffic(down(ipA), 4, 4999)
	collect(t, c)
	wantAlerts(t, c, "49.99 %")
	f.Traffic(up(ipA), 1, 1)
	collect(t, c)
	wantAlerts(t, c, "exactly 50 %", "threshold/50")
	collect(t, c)
	wantAlerts(t, c, "50 % again")
	f.Traffic(down(ipA), 3, 3000)
	collect(t, c)
	wantAlerts(t, c, "80 %", "threshold/80")

	// A restart (the next process) and a reboot (RAM lost, the copy on
	// flash merged back) tell nothing again.
	c = reopen(t, c, "boot-1")
	collect(t, c)
	wantAlerts(t, c, "restart")
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = powerCut(t, c, f, "boot-2")
	collect(t, c)
	wantAlerts(t, c, "reboot")
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 2, 2000)
	collect(t, c)
	// action none: the limit is only a threshold (100), no blocked alert.
	wantAlerts(t, c, "100 % after the reboot", "threshold/100")
}

func TestSeveralThresholdsAtOnceAndBlocked(t *testing.T) {
	c, f := alertCore(t, config.QuotaBlock, 80, 50, 100)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 20, 20000)
	collect(t, c)
	wantAlerts(t, c, "0 to 200 %", "threshold/50", "threshold/80", "threshold/100", "blocked")
	f.Traffic(down(ipA), 1, 100)
	collect(t, c)
	wantAlerts(t, c, "still over")

	// A reset brings usage under every threshold: they are armed again
	// (the block ends with it, and fires again when reached again).
	if _, err := c.Reset(context.Background(), &macA); err != nil {
		t.Fatal(err)
	}
	wantAlerts(t, c, "reset")
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	wantAlerts(t, c, "after the reset", "threshold/50")
}

func mustQueue(t *testing.T, c *Core) []alert.Entry {
	t.Helper()
	es, err := alert.Queue{Dir: c.settings.DBDir}.Entries()
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestAlertFields(t *testing.T) {
	c, f := alertCore(t, config.QuotaThrottle, 50)
	c.settings.Names = map[macaddr.MAC]config.DeviceName{macA: {Name: "Anna's phone"}}
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 11, 11000)
	collect(t, c)
	es := mustQueue(t, c)
	if len(es) != 2 {
		t.Fatalf("queued %+v", es)
	}
	th, tr := es[0].Alert, es[1].Alert
	if th.Kind != alert.KindThreshold || th.Quota != "kids" || th.MAC != macA || th.Name != "Anna's phone" ||
		th.Percent != 50 || th.Limit != 10000 || th.Used != 11000 || th.Per != "period" || th.Period != "2023-11-01" || th.Time.IsZero() {
		t.Fatalf("threshold alert %+v", th)
	}
	if tr.Kind != alert.KindThrottled || tr.Percent != 0 || tr.Used != 11000 || th.ID == tr.ID {
		t.Fatalf("throttled alert %+v", tr)
	}
	if !strings.Contains(th.Message(), "quota kids: 50% used (11.0 kB of 10.0 kB this period): Anna's phone (02:00:00:00:00:0a)") {
		t.Fatalf("message %q", th.Message())
	}
}

func TestNewPeriodArmsAgain(t *testing.T) {
	c, f := alertCore(t, config.QuotaBlock, 50)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	wantAlerts(t, c, "november", "threshold/50")
	// The next month starts: the quota is empty again.
	c = reopenAt(t, c, time.Date(2023, 12, 1, 0, 0, 5, 0, time.Local))
	collect(t, c)
	wantAlerts(t, c, "december, nothing yet")
	f.Traffic(down(ipA), 5, 5000)
	collect(t, c)
	es := mustQueue(t, c)
	if len(es) != 1 || es[0].Alert.Period != "2023-12-01" || es[0].Alert.Used != 5000 {
		t.Fatalf("december: %+v", es)
	}
	wantAlerts(t, c, "december", "threshold/50")
	st, err := loadAlertState(c.settings.DBDir)
	if err != nil || len(st.Fired) != 1 || st.Fired["kids"].Key != "2023-12-01" {
		t.Fatalf("state %+v %v: november's entry must be gone", st, err)
	}
}

func TestPerDayPerDeviceQuota(t *testing.T) {
	c, f := newCore(t)
	s := c.settings
	s.PersistDir = filepath.Join(c.configDir, "flash")
	s.Alerts.Webhook = testWebhook
	s.Quotas = []config.Quota{{Name: "each", Limit: 1000, Per: config.QuotaPerDay, Direction: config.QuotaDown,
		Action: config.QuotaNone, Notify: []int{100}}}
	c = reopenWith(t, c, s)
	handle(t, c, NeighAdd, macA, ipA)
	ipB := netip.MustParseAddr("10.77.0.11")
	handle(t, c, NeighAdd, macB, ipB)
	wantAlerts(t, c, "devices", "new_device")
	f.Traffic(down(ipA), 1, 1000)
	f.Traffic(down(ipB), 1, 999)
	collect(t, c)
	es := mustQueue(t, c)
	if len(es) != 1 || es[0].Alert.MAC != macA || es[0].Alert.Per != "day" || es[0].Alert.Period != "2023-11-14" {
		t.Fatalf("per device, per day: %+v", es)
	}
	wantAlerts(t, c, "a", "threshold/100")
	f.Traffic(down(ipB), 1, 1)
	collect(t, c)
	wantAlerts(t, c, "b", "threshold/100")
	// The next day both are armed again.
	c = reopenAt(t, c, time.Date(2023, 11, 15, 0, 0, 5, 0, time.Local))
	f.Traffic(down(ipA), 1, 1000)
	f.Traffic(down(ipB), 1, 1000)
	collect(t, c)
	wantAlerts(t, c, "next day", "threshold/100", "threshold/100")
}

func TestNewDeviceAlert(t *testing.T) {
	c, _ := newCore(t)
	c.settings.PersistDir = filepath.Join(c.configDir, "flash")
	c.settings.Names = map[macaddr.MAC]config.DeviceName{macB: {Name: "guest"}}
	c.settings.Alerts.Webhook = testWebhook
	handle(t, c, NeighAdd, macA, ipA)
	wantAlerts(t, c, "the first device")
	ipB, ipB6 := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("fd77::11")
	handle(t, c, NeighAdd, macB, ipB6)
	es := mustQueue(t, c)
	if len(es) != 1 || es[0].Alert.Kind != alert.KindNewDevice || es[0].Alert.MAC != macB || es[0].Alert.Name != "guest" || es[0].Alert.IP != "fd77::11" {
		t.Fatalf("new device: %+v", es)
	}
	wantAlerts(t, c, "b", "new_device")
	handle(t, c, NeighAdd, macB, ipB)
	collect(t, c)
	c = reopen(t, c, "boot-1")
	collect(t, c)
	wantAlerts(t, c, "b again, restart")

	c.settings.Alerts.NewDevice = false
	handle(t, c, NeighAdd, mustMAC("02:00:00:00:00:0c"), netip.MustParseAddr("10.77.0.12"))
	wantAlerts(t, c, "alert_new_device off")
}

// An alert decided before a reboot and not delivered is delivered after
// it: the outbox goes to flash with the commit.
func TestUndeliveredAlertSurvivesReboot(t *testing.T) {
	c, f := alertCore(t, config.QuotaNone, 50)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = powerCut(t, c, f, "boot-2")
	collect(t, c)
	wantAlerts(t, c, "after the reboot", "threshold/50")
	collect(t, c)
	wantAlerts(t, c, "once")
}

// Without quotas or alerts nothing is written: no state, no outbox, and
// no file on flash.
func TestNoAlertFilesWithoutAlerts(t *testing.T) {
	c, f := newCore(t)
	c.settings.PersistDir = filepath.Join(c.configDir, "flash")
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 1, 100)
	collect(t, c)
	if err := c.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(c.settings.DBDir, AlertsFile), filepath.Join(c.settings.DBDir, alert.QueueFile), filepath.Join(c.settings.PersistDir, AlertsFile)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written", p)
		}
	}
}

// A damaged alerts.db is a warning, not a failed run; it is rewritten.
func TestDamagedAlertState(t *testing.T) {
	c, f := alertCore(t, config.QuotaNone, 50)
	handle(t, c, NeighAdd, macA, ipA)
	writeFile(t, filepath.Join(c.settings.DBDir, AlertsFile), "{not json")
	f.Traffic(down(ipA), 6, 6000)
	out := collect(t, c)
	if !hasWarning(out.Warnings, "alerts") {
		t.Fatalf("warnings %+v", out.Warnings)
	}
	wantAlerts(t, c, "damaged state", "threshold/50")
	collect(t, c)
	wantAlerts(t, c, "rewritten")
}

// The pure decision: a lift arms the block again, a quota removed is
// forgotten.
func TestDecideQuotaAlerts(t *testing.T) {
	st := &alertState{Fired: map[string]fired{}}
	now := time.Unix(1_800_000_000, 0)
	name := func(macaddr.MAC) string { return "" }
	s := QuotaStatus{Name: "q", Members: []macaddr.MAC{macA, macB}, Limit: 100, Used: 100, Per: "period",
		State: QuotaBlocked, Crossed: []int{90}, Key: "2027-01-01"}
	got, changed := decideQuotaAlerts(st, []QuotaStatus{s}, nil, now, name)
	if len(got) != 2 || !changed || got[0].Kind != "threshold" || got[1].Kind != "blocked" || !got[1].MAC.IsZero() {
		t.Fatalf("first: %+v", got)
	}
	if got, changed = decideQuotaAlerts(st, []QuotaStatus{s}, nil, now, name); len(got) != 0 || changed {
		t.Fatalf("again: %+v %v", got, changed)
	}
	s.State = QuotaExhausted // lifted
	if got, _ = decideQuotaAlerts(st, []QuotaStatus{s}, nil, now, name); len(got) != 0 || st.Fired["q"].State != "" {
		t.Fatalf("lifted: %+v %+v", got, st.Fired)
	}
	s.State = QuotaBlocked
	if got, _ = decideQuotaAlerts(st, []QuotaStatus{s}, nil, now, name); len(got) != 1 || got[0].Kind != "blocked" {
		t.Fatalf("blocked again after a lift: %+v", got)
	}
	if got, changed = decideQuotaAlerts(st, nil, nil, now, name); len(got) != 0 || !changed || len(st.Fired) != 0 {
		t.Fatalf("quota removed: %+v", st.Fired)
	}
	// The kernel stopped the device just short of its allowance: blocked,
	// and every threshold reached, though the ledger's count is below.
	s = QuotaStatus{Name: "k", Device: &macA, Members: []macaddr.MAC{macA}, Limit: 1000, Used: 999, Per: "day",
		State: QuotaBlocked, Crossed: []int{50}, Key: "2027-01-02"}
	got, _ = decideQuotaAlerts(st, []QuotaStatus{s}, map[string][]int{"k": {50, 100}}, now, name)
	if len(got) != 3 || got[0].Percent != 50 || got[1].Percent != 100 || got[2].Kind != "blocked" || got[2].MAC != macA {
		t.Fatalf("blocked by the kernel: %+v", got)
	}
}

// Where no channel exists (no webhook, no ubus, no hotplug-call) nothing
// is queued, and what was decided is still remembered.
func TestNoChannelNoOutbox(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	c, f := alertCore(t, config.QuotaNone, 50)
	c.settings.Alerts.Webhook = ""
	handle(t, c, NeighAdd, macA, ipA)
	handle(t, c, NeighAdd, macB, netip.MustParseAddr("10.77.0.11"))
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	if _, err := os.Stat(filepath.Join(c.settings.DBDir, alert.QueueFile)); err == nil {
		t.Fatal("an outbox with no channel to drain it")
	}
	st, err := loadAlertState(c.settings.DBDir)
	if err != nil || len(st.Fired["kids"].Thresholds) != 1 {
		t.Fatalf("state %+v %v", st, err)
	}
}

// The decoded state a core keeps between its cycles is dropped when
// another process changed the file: here another door's reset armed the
// threshold again.
func TestAlertStateCacheFollowsOtherDoors(t *testing.T) {
	c, f := alertCore(t, config.QuotaNone, 50)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	wantAlerts(t, c, "first", "threshold/50")
	other := reopen(t, c, "boot-1")
	if _, err := other.Reset(context.Background(), &macA); err != nil {
		t.Fatal(err)
	}
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	wantAlerts(t, c, "after another door's reset", "threshold/50")
}

// An outbox that cannot be written loses no alert: it is decided again
// at the next cycle that can write.
func TestOutboxUnwritableDecidesAgain(t *testing.T) {
	c, f := alertCore(t, config.QuotaNone, 50)
	handle(t, c, NeighAdd, macA, ipA)
	f.Traffic(down(ipA), 6, 6000)
	collect(t, c)
	wantAlerts(t, c, "first", "threshold/50")
	// A reset arms it again (alerts.db rewritten, and kept decoded).
	if _, err := c.Reset(context.Background(), &macA); err != nil {
		t.Fatal(err)
	}
	f.Traffic(down(ipA), 6, 6000)
	// A directory where the outbox file goes: it cannot be read or written.
	q := filepath.Join(c.settings.DBDir, alert.QueueFile)
	if err := os.Remove(q); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(q, 0o700); err != nil {
		t.Fatal(err)
	}
	if out := collect(t, c); !hasWarning(out.Warnings, "alerts") {
		t.Fatalf("warnings %+v", out.Warnings)
	}
	if err := os.Remove(q); err != nil {
		t.Fatal(err)
	}
	collect(t, c)
	wantAlerts(t, c, "once the outbox can be written", "threshold/50")
}
