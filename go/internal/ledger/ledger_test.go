package ledger

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/macaddr"
)

var (
	macA = mustMAC("02:00:00:00:00:0a")
	macB = mustMAC("02:00:00:00:00:0b")
	ipA  = netip.MustParseAddr("10.0.0.10")
)

func c(p, b uint64) counter.Counter { return counter.Counter{Packets: p, Bytes: b} }

func mustMAC(s string) macaddr.MAC {
	m, err := macaddr.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func up(a netip.Addr) counter.Key   { return counter.HostKey(counter.Upload, a) }
func down(a netip.Addr) counter.Key { return counter.HostKey(counter.Download, a) }

func owners(m map[netip.Addr]macaddr.MAC) func(netip.Addr) (macaddr.MAC, bool) {
	return func(a netip.Addr) (macaddr.MAC, bool) { v, ok := m[a]; return v, ok }
}

func TestApplyCreditsGrowthOnce(t *testing.T) {
	tr := NewTransfer()
	own := owners(map[netip.Addr]macaddr.MAC{ipA: macA})
	tr.Assign(ipA, macA, nil)
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(2, 200), down(ipA): c(3, 3000)}, own, Stamp{})
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(5, 500), down(ipA): c(3, 3000)}, own, Stamp{})
	want := Usage{DownloadBytes: 3000, UploadBytes: 500, DownloadPackets: 3, UploadPackets: 5}
	if got := tr.Totals[macA]; got != want {
		t.Fatalf("totals = %+v, want %+v", got, want)
	}
}

func TestApplyRecreatedRuleCountsFromZero(t *testing.T) {
	tr := NewTransfer()
	own := owners(map[netip.Addr]macaddr.MAC{ipA: macA})
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(10, 1000)}, own, Stamp{})
	// Firewall restart: the rule came back and counted 40 bytes since.
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(1, 40)}, own, Stamp{})
	if got := tr.Totals[macA].UploadBytes; got != 1040 {
		t.Fatalf("upload = %d, want 1040", got)
	}
}

func TestApplyDropsBaselineOfVanishedRule(t *testing.T) {
	tr := NewTransfer()
	own := owners(map[netip.Addr]macaddr.MAC{ipA: macA})
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(10, 1000)}, own, Stamp{})
	tr.Apply(map[counter.Key]counter.Counter{}, own, Stamp{})
	if _, ok := tr.Baselines[up(ipA)]; ok {
		t.Fatal("baseline of a vanished rule kept")
	}
	// A new rule for the same address starts from zero, all of it new.
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(1, 7)}, own, Stamp{})
	if got := tr.Totals[macA].UploadBytes; got != 1007 {
		t.Fatalf("upload = %d, want 1007", got)
	}
}

func TestApplyAttributesByBaselineThenReassigns(t *testing.T) {
	tr := NewTransfer()
	hostOwner := map[netip.Addr]macaddr.MAC{ipA: macA}
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(1, 100)}, owners(hostOwner), Stamp{})
	// host.db now says B owns the address (saved before transfer.db, then
	// a crash): growth until the next Assign still goes to A.
	hostOwner[ipA] = macB
	present := map[counter.Key]counter.Counter{up(ipA): c(2, 300)}
	tr.Apply(present, owners(hostOwner), Stamp{})
	tr.Assign(ipA, macB, present)
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(3, 350)}, owners(hostOwner), Stamp{})
	if a, b := tr.Totals[macA].UploadBytes, tr.Totals[macB].UploadBytes; a != 300 || b != 50 {
		t.Fatalf("A=%d B=%d, want 300 and 50", a, b)
	}
}

func TestApplyUnattributedAndRouter(t *testing.T) {
	tr := NewTransfer()
	tr.Apply(map[counter.Key]counter.Counter{
		up(ipA):                                  c(1, 11),
		counter.RouterKey(counter.RouterIn, ipA): c(2, 22),
		counter.RouterKey(counter.RouterOut, netip.MustParseAddr("fd::1")): c(3, 33),
	}, owners(nil), Stamp{})
	// Growth of an address with no owner waits for one, per address.
	if p := tr.Pending[ipA]; p == nil || p.UploadBytes != 11 || tr.Router.InputBytes != 22 || tr.Router.OutputBytes != 33 || tr.Router.OutputPackets != 3 {
		t.Fatalf("pending=%+v router=%+v", tr.Pending, tr.Router)
	}
}

// The catch-all counters of LAN prefixes (addresses without a counter of
// their own) go to Unattributed.
func TestApplyRestCounters(t *testing.T) {
	tr := NewTransfer()
	p := netip.MustParsePrefix("10.0.0.0/24")
	tr.Apply(map[counter.Key]counter.Counter{counter.RestKey(counter.RestUp, p): c(2, 200), counter.RestKey(counter.RestDown, p): c(3, 300)}, owners(nil), Stamp{})
	tr.Apply(map[counter.Key]counter.Counter{counter.RestKey(counter.RestUp, p): c(3, 250), counter.RestKey(counter.RestDown, p): c(3, 300)}, owners(nil), Stamp{})
	if tr.Unattributed.UploadBytes != 250 || tr.Unattributed.DownloadBytes != 300 || tr.Unattributed.UploadPackets != 3 || len(tr.Pending) != 0 {
		t.Fatalf("unattributed %+v pending %v", tr.Unattributed, tr.Pending)
	}
}

// Growth counted before an address had an owner is the owner's once it is
// learned, in the day and period it was counted in while they are
// current; an address never claimed goes to Unattributed when it expires.
func TestPendingResolvedOrExpired(t *testing.T) {
	tr := NewTransfer()
	m := mustMAC("02:00:00:00:00:0a")
	ip2 := netip.MustParseAddr("10.0.0.2")
	day1 := Stamp{Day: "2026-11-05", Period: "2026-11-01", Now: 100}
	tr.Apply(map[counter.Key]counter.Counter{down(ipA): c(1, 1000), down(ip2): c(1, 70)}, owners(nil), day1)
	tr.Apply(map[counter.Key]counter.Counter{down(ipA): c(2, 1500), down(ip2): c(1, 70)}, owners(nil), Stamp{Day: "2026-11-06", Period: "2026-11-01", Now: 200})
	if !tr.Resolve(ipA, m) || tr.Resolve(ipA, m) {
		t.Fatal("Resolve: want exactly one")
	}
	if tr.Totals[m].DownloadBytes != 1500 || tr.Period.Usage[m].DownloadBytes != 1500 || tr.Day.Usage[m].DownloadBytes != 500 {
		t.Fatalf("resolved: totals %+v period %+v day %+v", tr.Totals[m], tr.Period.Usage[m], tr.Day.Usage[m])
	}
	if tr.Resolve(ip2, macaddr.MAC{}) || tr.Resolve(ip2, mustMAC("ff:ff:ff:ff:ff:ff")) {
		t.Fatal("resolved to no device")
	}
	// ip2 last grew at 100: expired by a cut at 150.
	if got := tr.ExpirePending(150, 10); len(got) != 1 || got[0] != ip2 || tr.Unattributed.DownloadBytes != 70 || len(tr.Pending) != 0 {
		t.Fatalf("expired %v, unattributed %+v, pending %v", got, tr.Unattributed, tr.Pending)
	}
	// Past max, the longest idle go first.
	for i := 0; i < 5; i++ {
		tr.Apply(map[counter.Key]counter.Counter{down(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})): c(1, 1)}, owners(nil), Stamp{Now: int64(300 + i)})
	}
	if got := tr.ExpirePending(0, 3); len(got) != 2 || got[0] != netip.MustParseAddr("10.1.0.0") || got[1] != netip.MustParseAddr("10.1.0.1") {
		t.Fatalf("over max: expired %v", got)
	}
}

func TestResetKeepsBaselines(t *testing.T) {
	tr := NewTransfer()
	own := owners(map[netip.Addr]macaddr.MAC{ipA: macA})
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(1, 100)}, own, Stamp{})
	got := tr.Reset([]macaddr.MAC{macA})
	if got[macA].UploadBytes != 100 || tr.Totals[macA].UploadBytes != 0 {
		t.Fatalf("reset returned %+v, left %+v", got, tr.Totals[macA])
	}
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(2, 130)}, own, Stamp{})
	if tr.Totals[macA].UploadBytes != 30 {
		t.Fatalf("after reset upload = %d, want 30 (no resurrection, no loss)", tr.Totals[macA].UploadBytes)
	}
}

func TestStoreRoundTripAndAtomic(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	h := NewHosts()
	h.IPs[ipA] = IPEntry{MAC: macA, FirstSeen: 1, LastSeen: 2}
	h.Device(macA, 1).Hostname = "laptop"
	tr := NewTransfer()
	tr.Totals[macA] = Usage{DownloadBytes: 1 << 40}
	tr.Baselines[up(ipA)] = Baseline{MAC: macA, Packets: 1, Bytes: 2}
	if err := s.SaveHosts(h); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTransfer(tr); err != nil {
		t.Fatal(err)
	}
	h2, tr2, rec, err := s.Load(time.Unix(100, 0))
	if err != nil || len(rec) != 0 {
		t.Fatal(err, rec)
	}
	if h2.IPs[ipA].MAC != macA || h2.Devices[macA].Hostname != "laptop" || tr2.Totals[macA].DownloadBytes != 1<<40 || tr2.Baselines[up(ipA)].Bytes != 2 {
		t.Fatalf("round trip lost data: %+v %+v", h2, tr2)
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestStoreCorruptMovedAside(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":   "{not json",
		"truncated": `{"version":1,"ips":{"10.0.0.1":{"mac":"02:00`,
		"badmac":    `{"version":1,"ips":{"10.0.0.1":{"mac":"zz"}},"devices":{}}`,
		"nulldev":   `{"version":1,"ips":{},"devices":{"02:00:00:00:00:0a":null}}`,
		"noversion": `{"ips":{}}`,
		"trailing":  `{"version":1} {}`,
		"array":     `[1,2]`,
	} {
		t.Run(name, func(t *testing.T) {
			s := Store{Dir: t.TempDir()}
			p := filepath.Join(s.Dir, HostsFile)
			os.WriteFile(p, []byte(content), 0o644)
			h, _, rec, err := s.Load(time.Unix(1234, 0))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec) != 1 || rec[0].MovedTo != p+".corrupt-1234" || len(h.IPs) != 0 {
				t.Fatalf("rec=%v h=%+v", rec, h)
			}
			if b, _ := os.ReadFile(p + ".corrupt-1234"); string(b) != content {
				t.Fatal("damaged file not preserved")
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Fatal("damaged file still in place")
			}
		})
	}
}

func TestStoreNewerVersionRefused(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	p := filepath.Join(s.Dir, TransferFile)
	os.WriteFile(p, []byte(`{"version":99}`), 0o644)
	if _, _, _, err := s.Load(time.Now()); !errors.Is(err, ErrNewer) {
		t.Fatalf("err = %v, want ErrNewer", err)
	}
	if b, _ := os.ReadFile(p); string(b) != `{"version":99}` {
		t.Fatal("newer file was touched")
	}
}

func TestBucketsRollResetAndHistory(t *testing.T) {
	tr := NewTransfer()
	ipB := netip.MustParseAddr("10.0.0.11")
	own := owners(map[netip.Addr]macaddr.MAC{ipA: macA, ipB: macB})
	day1 := Stamp{Day: "2026-10-31", Period: "2026-10-01"}
	day2 := Stamp{Day: "2026-11-01", Period: "2026-11-01"}
	if _, closed := tr.Apply(map[counter.Key]counter.Counter{down(ipA): c(1, 100), down(ipB): c(1, 5)}, own, day1); closed.Any() {
		t.Fatal("the first buckets closed nothing")
	}
	_, closed := tr.Apply(map[counter.Key]counter.Counter{down(ipA): c(3, 350), down(ipB): c(1, 5)}, own, day2)
	if closed.Day == nil || closed.Day.Key != "2026-10-31" || closed.Day.Usage[macA].DownloadBytes != 100 ||
		closed.Period == nil || closed.Period.Key != "2026-10-01" || closed.Period.Usage[macB].DownloadBytes != 5 {
		t.Fatalf("closed = %+v", closed)
	}
	if tr.Period.Key != "2026-11-01" || tr.Period.Usage[macA].DownloadBytes != 250 || tr.Day.Usage[macA].DownloadPackets != 2 {
		t.Fatalf("current = %+v %+v", tr.Period, tr.Day)
	}
	if got := tr.Totals[macA].DownloadBytes; got != 350 {
		t.Fatalf("totals = %d", got)
	}
	h := NewHistory()
	h.Put(closed)
	h.Put(closed) // a repeat after a crash changes nothing
	if h.Periods["2026-10-01"][macA].DownloadBytes != 100 || len(h.PeriodKeys()) != 1 {
		t.Fatalf("history = %+v", h)
	}
	tr.Reset([]macaddr.MAC{macA})
	if tr.Period.Usage[macA].DownloadBytes != 0 || tr.Day.Usage[macA].DownloadBytes != 0 || tr.Totals[macA].DownloadBytes != 0 {
		t.Fatalf("reset left %+v", tr.Period)
	}
	h.Prune("2026-11-01")
	if len(h.Periods) != 0 || len(h.Days) != 0 {
		t.Fatal("prune kept old buckets")
	}
}

func TestMergeOncePerBoot(t *testing.T) {
	own := owners(map[netip.Addr]macaddr.MAC{ipA: macA})
	committed := NewTransfer()
	committed.Apply(map[counter.Key]counter.Counter{down(ipA): c(10, 1000)}, own, Stamp{Day: "2026-11-01", Period: "2026-11-01"})
	// Same boot: the RAM ledger was lost but the kernel counters ran on.
	ram := NewTransfer()
	ram.Merge(committed, true)
	ram.Apply(map[counter.Key]counter.Counter{down(ipA): c(12, 1200)}, own, Stamp{Day: "2026-11-01", Period: "2026-11-01"})
	if got := ram.Totals[macA].DownloadBytes; got != 1200 {
		t.Fatalf("same boot: %d, want 1200 (no double count)", got)
	}
	// After a reboot the kernel counters start again: old baselines are void.
	ram2 := NewTransfer()
	ram2.Merge(committed, false)
	ram2.Apply(map[counter.Key]counter.Counter{down(ipA): c(1, 30)}, own, Stamp{Day: "2026-11-01", Period: "2026-11-01"})
	if got := ram2.Totals[macA].DownloadBytes; got != 1030 {
		t.Fatalf("after reboot: %d, want 1030", got)
	}
	if got := ram2.Period.Usage[macA].DownloadBytes; got != 1030 {
		t.Fatalf("period after reboot: %d", got)
	}
	// A RAM ledger already in a newer period gets the old one back as closed.
	ram3 := NewTransfer()
	ram3.Apply(map[counter.Key]counter.Counter{}, own, Stamp{Day: "2026-12-01", Period: "2026-12-01"})
	closed := ram3.Merge(committed, false)
	if closed.Period == nil || closed.Period.Key != "2026-11-01" || closed.Period.Usage[macA].DownloadBytes != 1000 {
		t.Fatalf("closed by merge: %+v", closed)
	}
}
