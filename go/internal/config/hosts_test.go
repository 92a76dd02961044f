package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/macaddr"
)

func TestHostSections(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte("config transferometer 'main'\n\toption enabled '1'\n\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config host 'laptop'\n\toption mac '02:00:00:00:00:0A'\n\toption name 'Anna laptop'\n\toption group 'Anna'\n\n" +
		"config host\n\toption mac '02:00:00:00:00:0b'\n\toption group 'kids'\n")
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := macaddr.Parse("02:00:00:00:00:0a")
	b, _ := macaddr.Parse("02:00:00:00:00:0b")
	if s.Names[a] != (DeviceName{Name: "Anna laptop", Group: "Anna"}) || s.Names[b] != (DeviceName{Group: "kids"}) || len(s.Names) != 2 {
		t.Fatalf("names %+v", s.Names)
	}
	for body, want := range map[string]string{
		"config host 'x'\n\toption name 'a'\n":                                                                                                           "host section 'x': option mac is missing",
		"config host 'x'\n\toption mac 'zz'\n\toption name 'a'\n":                                                                                        `host section 'x': option mac: "zz" is not a device's MAC address`,
		"config host 'x'\n\toption mac 'ff:ff:ff:ff:ff:ff'\n\toption name 'a'\n":                                                                         "is not a device's MAC address",
		"config host 'x'\n\toption mac '02:00:00:00:00:0a'\n":                                                                                            "neither option name nor option group",
		"config host 'x'\n\toption mac '02:00:00:00:00:0a'\n\toption name '<b>'\n":                                                                       "host section 'x': option name",
		"config host 'x'\n\toption mac '02:00:00:00:00:0a'\n\toption group 'a\u202eb'\n":                                                                 "host section 'x': option group",
		"config host 'x'\n\toption mac '02:00:00:00:00:0a'\n\toption name '" + strings.Repeat("n", 65) + "'\n":                                           "too long",
		"config host 'x'\n\toption mac '02:00:00:00:00:0a'\n\tlist name 'a'\n\tlist name 'b'\n":                                                          "list name: takes a single value",
		"config host 'x'\n\toption mac '02:00:00:00:00:0a'\n\toption name 'a'\n\nconfig host 'y'\n\toption mac '02:00:00:00:00:0A'\n\toption name 'b'\n": "host section 'y': mac 02:00:00:00:00:0a is named in section 'x' already",
	} {
		write(body)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
			t.Errorf("%q: %v, want an error naming the file and saying %q", body, err, want)
		}
	}
}
