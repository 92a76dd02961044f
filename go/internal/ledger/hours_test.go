package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/localzone"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/testlan"
)

// berlin is Central European time with its daylight-saving rules, from the
// POSIX string OpenWrt writes to /etc/TZ (no zoneinfo needed).
func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := localzone.Parse("CET-1CEST,M3.5.0,M10.5.0/3", nil)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// stampAt names t's buckets as the core does (monthly periods from the 1st).
func stampAt(t time.Time) Stamp {
	return Stamp{Day: t.Format("2006-01-02"), Period: t.Format("2006-01") + "-01", Now: t.Unix(), Hour: HourStart(t), DayStart: DayStart(t)}
}

// hoursOfDay picks the hours of one day (in loc).
func hoursOfDay(h Hours, day string, loc *time.Location) Hours {
	out := Hours{}
	for k, m := range h {
		if time.Unix(k, 0).In(loc).Format("2006-01-02") == day {
			out[k] = m
		}
	}
	return out
}

// checkDay fails unless hours hold exactly day's bytes, per device, and
// every hour lies in the day (in loc).
func checkDay(t *testing.T, when string, day Bucket, hours Hours, loc *time.Location) {
	t.Helper()
	for k := range hours {
		if got := time.Unix(k, 0).In(loc).Format("2006-01-02"); got != day.Key {
			t.Fatalf("%s: hour %s is not in day %s", when, time.Unix(k, 0).In(loc), day.Key)
		}
	}
	seen := map[macaddr.MAC]bool{}
	for _, m := range hours {
		for mac := range m {
			seen[mac] = true
		}
	}
	for mac := range day.Usage {
		seen[mac] = true
	}
	for mac := range seen {
		u, s := day.Usage[mac], hours.Sum(mac)
		if s[0] != u.DownloadBytes || s[1] != u.UploadBytes {
			t.Fatalf("%s: %s day %s: hours add up to %v, the day has down %d up %d", when, mac, day.Key, s, u.DownloadBytes, u.UploadBytes)
		}
	}
}

// Random traffic over ten days that cross the end of daylight-saving
// time, with resets, devices let go, addresses counted before their owner
// is known, and a firewall restart: at every collection the current day's
// hours add up to the day, and so do those of every day that closes.
func TestHoursAddUpToTheDay(t *testing.T) {
	rng := testlan.Rand(t)
	loc := berlin(t)
	tr := NewTransfer()
	log := NewHourLog() // hours.db
	const n = 8
	addrs := make([]netip.Addr, n)
	macs := make([]macaddr.MAC, n)
	owned := map[netip.Addr]macaddr.MAC{}
	cur := map[counter.Key]counter.Counter{}
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)})
		macs[i] = macaddr.MAC{2, 0, 0, 0, 0, byte(i + 1)}
		if i%3 != 0 { // the others count before their owner is known
			owned[addrs[i]] = macs[i]
			tr.Assign(addrs[i], macs[i], nil)
		}
	}
	own := func(a netip.Addr) (macaddr.MAC, bool) { m, ok := owned[a]; return m, ok }
	now := time.Date(2026, 10, 21, 22, 17, 0, 0, loc)
	end := now.AddDate(0, 0, 10)
	days, steps := 0, 0
	for ; now.Before(end); now = now.Add(time.Duration(1+rng.Intn(95)) * time.Minute) {
		steps++
		for i, a := range addrs {
			if rng.Intn(3) == 0 {
				continue
			}
			for _, k := range []counter.Key{up(a), down(a)} {
				c := cur[k]
				cur[k] = counter.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + uint64(1+rng.Intn(1<<20))}
			}
			if rng.Intn(200) == 0 { // firewall restart: the counter starts again
				cur[up(a)] = counter.Counter{Packets: 1, Bytes: uint64(1 + rng.Intn(1000))}
			}
			_ = i
		}
		_, closed := tr.Apply(cur, own, stampAt(now))
		if len(closed.Hours) > 0 { // what the core's archive does
			log.Put(closed.Hours, tr.HourEdits)
			tr.HourEdits = nil
		}
		if closed.Day != nil {
			days++
			checkDay(t, "closed at "+now.String(), *closed.Day, hoursOfDay(log.Hours, closed.Day.Key, loc), loc)
		}
		switch r := rng.Intn(40); {
		case r == 0:
			tr.Reset([]macaddr.MAC{macs[rng.Intn(n)]})
		case r == 1:
			tr.expire(macs[rng.Intn(n)])
		case r == 2: // an owner becomes known
			i := rng.Intn(n)
			if _, ok := owned[addrs[i]]; !ok {
				owned[addrs[i]] = macs[i]
				tr.Resolve(addrs[i], macs[i])
				tr.Assign(addrs[i], macs[i], cur)
			}
		}
		checkDay(t, now.String(), tr.Day, tr.TodayHours(log.Hours), loc)
	}
	if days < 9 || steps < 200 {
		t.Fatalf("only %d days closed in %d collections", days, steps)
	}
}

// Days are 23 and 25 hours long where daylight-saving time starts and
// ends: each hour a name of its own, the repeated one included.
func TestHoursAcrossDST(t *testing.T) {
	loc := berlin(t)
	for _, c := range []struct {
		day  string
		want int
	}{{"2026-03-29", 23}, {"2026-10-25", 25}, {"2026-10-26", 24}} {
		start, _ := time.ParseInLocation("2006-01-02", c.day, loc)
		tr := NewTransfer()
		log := NewHourLog()
		tr.Assign(ipA, macA, nil)
		own := owners(map[netip.Addr]macaddr.MAC{ipA: macA})
		var total uint64
		var closed Closed
		for i, at := 0, start.Add(-10*time.Minute); closed.Day == nil || closed.Day.Key != c.day; i, at = i+1, at.Add(10*time.Minute) {
			total += 100
			_, closed = tr.Apply(map[counter.Key]counter.Counter{down(ipA): {Packets: uint64(i + 1), Bytes: total}}, own, stampAt(at))
			log.Put(closed.Hours, nil)
			if i > 400 {
				t.Fatalf("%s never closed", c.day)
			}
		}
		day := hoursOfDay(log.Hours, c.day, loc)
		if len(day) != c.want {
			var names []string
			for _, k := range day.Keys() {
				names = append(names, time.Unix(k, 0).In(loc).Format("15:04 MST"))
			}
			t.Fatalf("%s: %d hours %v, want %d", c.day, len(day), names, c.want)
		}
		checkDay(t, c.day, *closed.Day, day, loc)
		// Every hour of the day got its six collections' bytes, the
		// repeated and the shortened ones alike.
		for _, k := range day.Keys() {
			if got := day[k][macA][0]; got != 600 {
				t.Errorf("%s hour %s: %d bytes, want 600", c.day, time.Unix(k, 0).In(loc).Format("15:04 MST"), got)
			}
		}
	}
}

func TestHourStartHalfHourZone(t *testing.T) {
	india := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2026, 12, 7, 13, 47, 12, 5, india)
	want := time.Date(2026, 12, 7, 13, 0, 0, 0, india).Unix()
	if got := HourStart(at); got != want {
		t.Fatalf("HourStart = %d, want %d", got, want)
	}
}

// Files written before hours were kept load, and count hours from then on.
func TestOldFilesWithoutHoursLoad(t *testing.T) {
	dir := t.TempDir()
	old := `{"version":1,"totals":{"02:00:00:00:00:0a":{"download_bytes":5,"upload_bytes":1,"download_packets":1,"upload_packets":1}},` +
		`"router":{},"unattributed":{},"baselines":{},"day":{"key":"2026-12-07","usage":{}},"period":{"key":"2026-12-01","usage":{}},"history":[],"restored":true}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, TransferFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	oldH := `{"version":1,"days":{"2026-12-06":{}},"periods":{}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, HistoryFile), []byte(oldH), 0o600); err != nil {
		t.Fatal(err)
	}
	st := Store{Dir: dir}
	_, tr, rec, err := st.Load(time.Now())
	if err != nil || len(rec) > 0 {
		t.Fatalf("load: %v %v", err, rec)
	}
	if h, hr, err := st.LoadHistory(time.Now()); err != nil || hr != nil || len(h.Days) != 1 {
		t.Fatalf("history: %v %v %v", err, hr, h)
	}
	if l, lr, err := st.LoadHours(time.Now()); err != nil || lr != nil || len(l.Hours) != 0 {
		t.Fatalf("no hours.db: %v %v %v", err, lr, l)
	}
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	tr.Assign(ipA, macA, nil)
	tr.Apply(map[counter.Key]counter.Counter{up(ipA): c(1, 70)}, owners(map[netip.Addr]macaddr.MAC{ipA: macA}), stampAt(at))
	if tr.Hour.Start != HourStart(at) || tr.Hour.Usage[macA] != (HourBytes{0, 70}) {
		t.Fatalf("hour = %+v", tr.Hour)
	}
	if err := st.SaveTransfer(tr); err != nil {
		t.Fatal(err)
	}
	_, back, _, err := st.Load(time.Now())
	if err != nil || back.Hour.Usage[macA] != (HourBytes{0, 70}) || back.DayStart != DayStart(at) {
		t.Fatalf("round trip: %v %+v", err, back.Hour)
	}
}

// hours.db keeps the newest HoursKept hours, whatever the days.
func TestHourLogBounded(t *testing.T) {
	l := NewHourLog()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := 0; i < 20*24; i++ {
		l.Put(Hours{base + int64(i)*3600: {macA: {1, 2}}}, nil)
	}
	if len(l.Hours) != HoursKept {
		t.Fatalf("%d hours kept, want %d", len(l.Hours), HoursKept)
	}
	if oldest := l.Hours.Keys()[0]; oldest != base+int64(20*24-HoursKept)*3600 {
		t.Fatalf("oldest kept %d", oldest)
	}
}

// A bad hour in hours.db costs the file's hours, kept aside, nothing else.
func TestDamagedHoursFile(t *testing.T) {
	dir := t.TempDir()
	good := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).Unix()
	bad := fmt.Sprintf(`{"version":1,"hours":{"hours":[%d,12345],"devices":{"02:00:00:00:00:0a":"9"}}}`, good)
	if err := os.WriteFile(filepath.Join(dir, HoursFile), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	st := Store{Dir: dir}
	if l, err := st.ReadHours(); err != nil || len(l.Hours) != 0 {
		t.Fatalf("read: %v %v, want the hours dropped", l, err)
	}

	got, rec, err := st.LoadHours(time.Now())
	if err != nil || rec == nil || len(got.Hours) != 0 {
		t.Fatalf("load: %v %+v %v", err, rec, got)
	}
	if _, err := os.Stat(rec.MovedTo); err != nil {
		t.Fatalf("not kept aside: %v", err)
	}
	// Not JSON at all: damaged, which a commit must not copy to flash.
	if err := os.WriteFile(filepath.Join(dir, HoursFile), []byte(`{"version":1,"hours":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadHours(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("truncated: %v, want ErrDamaged", err)
	}
}

// Hours are written once each, devices' bytes in their order; what is
// read back is what was written, and malformed forms are refused.
func TestHoursJSON(t *testing.T) {
	base := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Unix()
	h := Hours{base: {macA: {1, 2}}, base + 3600: {macB: {3, 0}}, base + 7200: {macA: {0, 5}, macB: {0, 0}}}
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"hours":[%d,%d,%d],"devices":{"02:00:00:00:00:0a":"1,2,0,0,0,5","02:00:00:00:00:0b":"0,0,3"}}`, base, base+3600, base+7200)
	if string(data) != want {
		t.Fatalf("encoded %s\nwant    %s", data, want)
	}
	var back Hours
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	delete(h[base+7200], macB) // zero bytes are not kept
	if !reflect.DeepEqual(back, h) {
		t.Fatalf("read back %v, want %v", back, h)
	}
	for _, bad := range []string{
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":"1,2,3"}}`, base),
		fmt.Sprintf(`{"hours":[%d,%d],"devices":{}}`, base, base),
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":"-1"}}`, base),
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":"1,,2"}}`, base),
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":"01"}}`, base),
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":"1e3"}}`, base),
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":"18446744073709551616"}}`, base),
		fmt.Sprintf(`{"hours":[%d],"devices":{"02:00:00:00:00:0a":[1]}}`, base),
		`{"hours":"x"}`,
		`[]`,
	} {
		var x Hours
		if json.Unmarshal([]byte(bad), &x) == nil {
			t.Errorf("%s: read", bad)
		}
	}
}

// BenchmarkTransferHours: what the current hour adds to the file every
// run writes and reads: transfer.db of 254 devices (two addresses each)
// saved and loaded, without hours and with every device in the current
// hour (the worst case; closed hours are in hours.db, written once an
// hour).
func BenchmarkTransferHours(b *testing.B) {
	for _, hour := range []bool{false, true} {
		b.Run(fmt.Sprintf("hour=%v", hour), func(b *testing.B) {
			tr := NewTransfer()
			tr.Day.Key, tr.Period.Key = "2026-12-07", "2026-12-01"
			start := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC).Unix()
			for d := 0; d < 254; d++ {
				mac := macaddr.MAC{2, 0, 0, 0, 0, byte(d + 1)}
				u := Usage{DownloadBytes: 123456789 + uint64(d), UploadBytes: 12345678, DownloadPackets: 123456, UploadPackets: 12345}
				tr.Totals[mac], tr.Day.Usage[mac], tr.Period.Usage[mac] = u, u, u
				for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{192, 168, 1, byte(d + 1)}), netip.AddrFrom16([16]byte{0xfd, 15: byte(d + 1)})} {
					tr.Baselines[up(a)] = Baseline{MAC: mac, Packets: 12345, Bytes: 12345678}
					tr.Baselines[down(a)] = Baseline{MAC: mac, Packets: 123456, Bytes: 123456789}
				}
				if hour {
					tr.Hour.Start, tr.DayStart = start, start-13*3600
					tr.Hour.Usage[mac] = HourBytes{5144000 + uint64(d), 514400}
				}
			}
			// db_dir is tmpfs on OpenWrt: no disk's fsync in the numbers.
			dir, err := os.MkdirTemp("/dev/shm", "ledger-bench-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			st := Store{Dir: dir}
			if err := st.SaveTransfer(tr); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(dir, TransferFile))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, _, err := st.Load(time.Now()); err != nil {
					b.Fatal(err)
				}
				if err := st.SaveTransfer(tr); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fi.Size()), "file-bytes")
		})
	}
}

// BenchmarkHoursSize reports the size of hours.db at 254 devices that each
// moved traffic in every one of its HoursKept hours (the worst case), with
// byte counts of 9 and 11 digits, and what writing and reading it once (at
// every hour's end) costs.
func BenchmarkHoursSize(b *testing.B) {
	for _, v := range []uint64{123456789, 12345678901} {
		b.Run(fmt.Sprintf("digits=%d", len(fmt.Sprint(v))), func(b *testing.B) {
			l := NewHourLog()
			base := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Unix()
			for i := 0; i < HoursKept; i++ {
				m := map[macaddr.MAC]HourBytes{}
				for d := 0; d < 254; d++ {
					m[macaddr.MAC{2, 0, 0, 0, 0, byte(d + 1)}] = HourBytes{v + uint64(d), v/10 + uint64(d)}
				}
				l.Hours[base+int64(i)*3600] = m
			}
			var size int
			for i := 0; i < b.N; i++ {
				data, err := json.Marshal(l)
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
				var back HourLog
				if err := json.Unmarshal(data, &back); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// Merging the copy from flash: the same hour adds up; an older hour
// closes; the copy's edits come along.
func TestMergeHours(t *testing.T) {
	h1 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC).Unix()
	cp := NewTransfer()
	cp.Hour = HourBucket{Start: h1, Usage: map[macaddr.MAC]HourBytes{macA: {5, 0}}}
	cp.HourEdits = []HourEdit{{MAC: macB, Since: h1 - 7200, Before: h1}}
	ram := NewTransfer()
	ram.Hour = HourBucket{Start: h1, Usage: map[macaddr.MAC]HourBytes{macA: {2, 0}}}
	if closed := ram.Merge(cp, false); closed.Any() {
		t.Fatalf("same hour closed %+v", closed)
	}
	if ram.Hour.Usage[macA] != (HourBytes{7, 0}) || len(ram.HourEdits) != 1 {
		t.Fatalf("merged: %+v %+v", ram.Hour, ram.HourEdits)
	}
	later := NewTransfer()
	later.Hour = HourBucket{Start: h1 + 3600, Usage: map[macaddr.MAC]HourBytes{}}
	closed := later.Merge(cp, false)
	if closed.Hours[h1][macA] != (HourBytes{5, 0}) || len(later.Hour.Usage) != 0 {
		t.Fatalf("older hour: %+v, current %+v", closed, later.Hour)
	}
}

// Letting go of devices that moved nothing today, or only in the current
// hour, records no edit: MAC churn does not grow transfer.db.
func TestIdleDevicesNeedNoHourEdits(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 10, 0, 0, time.UTC)
	tr := NewTransfer()
	tr.Roll(stampAt(at))
	tr.Assign(ipA, macA, nil)
	tr.Apply(map[counter.Key]counter.Counter{down(ipA): c(1, 10)}, owners(map[netip.Addr]macaddr.MAC{ipA: macA}), stampAt(at))
	for i := 0; i < 1000; i++ {
		m := macaddr.MAC{2, 1, 0, 0, byte(i >> 8), byte(i)}
		tr.Totals[m] = Usage{DownloadBytes: 5} // counted on an earlier day
		tr.expire(m)
	}
	tr.expire(macA) // all of its day in the current hour
	if len(tr.HourEdits) != 0 || tr.Hour.Usage[ExpiredKey] != (HourBytes{10, 0}) {
		t.Fatalf("%d edits, hour %v", len(tr.HourEdits), tr.Hour.Usage)
	}
}

// A damaged transfer.db is salvaged entry by entry: the current hour's
// good entries stay, a bad one goes, and a bad edit is left out.
func TestSalvageKeepsTheHour(t *testing.T) {
	dir := t.TempDir()
	h := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC).Unix()
	data := fmt.Sprintf(`{"version":1,"totals":{},"baselines":{"up/not-an-address":{"bytes":1}},`+
		`"hour":{"start":%d,"usage":{"02:00:00:00:00:0a":[7,1],"00:00:00:00:00:00":[1,1]}},`+
		`"hour_edits":[{"mac":"00:00:00:00:00:00","since":5,"before":1}]}`, h)
	if err := os.WriteFile(filepath.Join(dir, TransferFile), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, tr, rec, err := Store{Dir: dir}.Load(time.Now())
	if err != nil || len(rec) != 1 || len(rec[0].Dropped) == 0 {
		t.Fatalf("load: %v %+v", err, rec)
	}
	if tr.Hour.Start != h || len(tr.Hour.Usage) != 1 || tr.Hour.Usage[macA] != (HourBytes{7, 1}) || len(tr.HourEdits) != 0 {
		t.Fatalf("hour %+v, edits %+v", tr.Hour, tr.HourEdits)
	}
}
