package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/macaddr"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{
		"1":                    1,
		"1048576":              1048576,
		"5MB":                  5_000_000,
		"5 MB":                 5_000_000,
		"1kB":                  1000,
		"2GB":                  2_000_000_000,
		"3TB":                  3_000_000_000_000,
		"1KiB":                 1024,
		"5MiB":                 5 << 20,
		"2GiB":                 2 << 30,
		"1TiB":                 1 << 40,
		"1.5GB":                1_500_000_000,
		"0.5KiB":               512,
		"7B":                   7,
		"18446744073709551615": 1<<64 - 1,
		"16777215TiB":          16777215 << 40,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"0":                    "is zero",
		"0MB":                  "is zero",
		"0.0GB":                "is zero",
		"18446744073709551616": "too large",
		"16777216TiB":          "too large",
		"20000000TB":           "too large",
		"99999999999999999999": "too large",
		"0.1B":                 "whole number of bytes",
		"1.0001kB":             "whole number of bytes",
		"":                     "is not a size",
		"MB":                   "is not a size",
		"5KB":                  "is not a size",
		"5mb":                  "is not a size",
		"5 M":                  "is not a size",
		"-5":                   "is not a size",
		"+5":                   "is not a size",
		"5e6":                  "is not a size",
		"1..5MB":               "is not a size",
		".5MB":                 "is not a size",
		"5.MB":                 "is not a size",
		"0x10":                 "is not a size",
		"5MBx":                 "is not a size",
		"５MB":                  "is not a size",
	} {
		got, err := ParseSize(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSize(%q) = %d, %v; want an error saying %q", in, got, err, want)
		}
	}
	for _, n := range []uint64{1, 999, 1000, 1024, 5_000_000, 5 << 20, 1_500_000_000, 1<<64 - 1} {
		if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
			t.Errorf("FormatSize(%d) = %q reads back as %d, %v", n, FormatSize(n), back, err)
		}
	}
}

func TestQuotaSections(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("config transferometer 'main'\n\toption enabled '1'\n\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config quota 'kids'\n\tlist mac '02:00:00:99:00:11'\n\tlist mac '02:00:00:99:00:12'\n\tlist group 'kids'\n" +
		"\toption limit '5MB'\n\toption per 'day'\n\toption direction 'down'\n\toption action 'throttle'\n\toption rate '1024'\n" +
		"\tlist notify '90'\n\tlist notify '50'\n\tlist notify '90'\n\n" +
		"config quota 'everyone'\n\toption limit '100GiB'\n\n" +
		"config quota 'tv'\n\toption mac '02:00:00:99:00:13 02:00:00:99:00:14'\n\toption limit '1TB'\n\toption action 'none'\n\toption notify '80 100'\n")
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(v string) macaddr.MAC { m, _ := macaddr.Parse(v); return m }
	want := []Quota{
		{Name: "kids", MACs: []macaddr.MAC{mac("02:00:00:99:00:11"), mac("02:00:00:99:00:12")}, Groups: []string{"kids"},
			Limit: 5_000_000, Per: QuotaPerDay, Direction: QuotaDown, Action: QuotaThrottle, RateKbit: 1024, Notify: []int{50, 90}},
		{Name: "everyone", Limit: 100 << 30, Per: QuotaPerPeriod, Direction: QuotaBoth, Action: QuotaBlock},
		{Name: "tv", MACs: []macaddr.MAC{mac("02:00:00:99:00:13"), mac("02:00:00:99:00:14")}, Limit: 1_000_000_000_000,
			Per: QuotaPerPeriod, Direction: QuotaBoth, Action: QuotaNone, Notify: []int{80, 100}},
	}
	if !reflect.DeepEqual(s.Quotas, want) {
		t.Fatalf("quotas\n%+v\nwant\n%+v", s.Quotas, want)
	}
	if !s.Quotas[1].PerDevice() || s.Quotas[0].PerDevice() {
		t.Fatal("PerDevice: only a quota with neither mac nor group is per device")
	}

	const ok = "\toption limit '5MB'\n"
	for body, msg := range map[string]string{
		"config quota\n" + ok:                                                            "quota section '@quota[0]': needs a name",
		"config quota 'Kids'\n" + ok:                                                     "quota section 'Kids': the name must be",
		"config quota '" + strings.Repeat("a", 33) + "'\n" + ok:                          "the name must be 1 to 32",
		"config quota 'q'\n\toption per 'day'\n":                                         "quota section 'q': option limit is missing",
		"config quota 'q'\n\toption limit '0'\n":                                         `quota section 'q': option limit: "0" is zero`,
		"config quota 'q'\n\toption limit '5 megabytes'\n":                               `option limit: "5 megabytes" is not a size`,
		"config quota 'q'\n\toption limit '99999999TB'\n":                                `option limit: "99999999TB" is too large`,
		"config quota 'q'\n\tlist limit '1'\n\tlist limit '2'\n":                         "quota section 'q': list limit: takes a single value",
		"config quota 'q'\n" + ok + "\tlist mac 'zz'\n":                                  `quota section 'q': mac: "zz" is not a device's MAC address`,
		"config quota 'q'\n" + ok + "\tlist mac 'ff:ff:ff:ff:ff:ff'\n":                   "is not a device's MAC address",
		"config quota 'q'\n" + ok + "\tlist group '<b>'\n":                               `quota section 'q': group: "<b>" is not a group name`,
		"config quota 'q'\n" + ok + "\toption per 'week'\n":                              `quota section 'q': option per: "week" is not one of period, day`,
		"config quota 'q'\n" + ok + "\toption direction 'in'\n":                          `option direction: "in" is not one of both, down, up`,
		"config quota 'q'\n" + ok + "\toption action 'kill'\n":                           `option action: "kill" is not one of none, throttle, block`,
		"config quota 'q'\n" + ok + "\toption action 'throttle'\n":                       "quota section 'q': option rate is missing",
		"config quota 'q'\n" + ok + "\toption rate '100'\n":                              "option rate: only with action 'throttle' (action is 'block')",
		"config quota 'q'\n" + ok + "\toption action 'throttle'\n\toption rate '0'\n":    `option rate: "0" is not a whole number from 1 to 10000000`,
		"config quota 'q'\n" + ok + "\toption action 'throttle'\n\toption rate 'fast'\n": `option rate: "fast" is not a whole number`,
		"config quota 'q'\n" + ok + "\tlist notify '0'\n":                                `quota section 'q': notify: "0" is not a whole number from 1 to 100`,
		"config quota 'q'\n" + ok + "\tlist notify '101'\n":                              `notify: "101"`,
		"config quota 'q'\n" + ok + "\tlist notify 'x'\n":                                `notify: "x"`,
		"config quota 'q'\n" + ok + "\nconfig quota 'r'\n\toption limit 'x'\n":           `quota section 'r': option limit: "x"`,
	} {
		write(body)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want an error naming the file and saying %q", body, err, msg)
		}
	}

	var many strings.Builder
	for i := 0; i <= maxQuotas; i++ {
		many.WriteString("config quota 'q" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "'\n" + ok)
	}
	write(many.String())
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("65 quota sections: %v, want an error", err)
	}
}

// FuzzParseSize: whatever is taken is above 0 and reads back through
// FormatSize; nothing panics.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"5MB", "1.5GiB", "0", "18446744073709551615", "1..5kB", "5 MB", ".5", "9999999999999999999999TB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n == 0 {
			t.Fatalf("%q taken as 0", s)
		}
		if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
			t.Fatalf("%q = %d, FormatSize %q reads back as %d, %v", s, n, FormatSize(n), back, err)
		}
	})
}
