package macaddr

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]string{
		"02:77:00:00:00:01": "02:77:00:00:00:01",
		"AA:BB:CC:DD:EE:FF": "aa:bb:cc:dd:ee:ff",
		"aa-bb-cc-dd-ee-0f": "aa:bb:cc:dd:ee:0f",
	}
	for in, want := range good {
		m, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if m.String() != want {
			t.Errorf("Parse(%q) = %s, want %s", in, m, want)
		}
	}
	bad := []string{
		"", "02:77:00:00:00", "02:77:00:00:00:01:02", "02:77:00:00:00:0g",
		"02:77-00:00:00:01", "02:77:00:00:00:01;", "-j DROP", "--flush",
		"02:77:00:00:00:01 ", " 02:77:00:00:00:01", "$(reboot)", "0277.0000.0001",
		strings.Repeat("a", 10000), "02:77:00:00:00:1", "1-", "x-aa:bb",
	}
	for _, in := range bad {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", in)
		} else if errors.Is(err, ErrNotEthernet) {
			t.Errorf("Parse(%q) = ErrNotEthernet, want a malformed-input error", in)
		}
	}
	for _, in := range []string{"32-00:11:22:33:44:55:66:77:88:99", "6-aa:bb"} {
		if _, err := Parse(in); !errors.Is(err, ErrNotEthernet) {
			t.Errorf("Parse(%q) = %v, want ErrNotEthernet", in, err)
		}
	}
}

func TestText(t *testing.T) {
	m, _ := Parse("02:00:00:00:00:0a")
	b, _ := m.MarshalText()
	var n MAC
	if err := n.UnmarshalText(b); err != nil || n != m {
		t.Fatalf("round trip: %v %v", n, err)
	}
	if err := n.UnmarshalText([]byte("zz")); err == nil {
		t.Fatal("UnmarshalText accepted garbage")
	}
}

func TestIsDevice(t *testing.T) {
	for s, want := range map[string]bool{
		"02:00:00:00:00:0a": true, "00:11:22:33:44:55": true, "fe:ff:ff:ff:ff:ff": true,
		"00:00:00:00:00:00": false, "ff:ff:ff:ff:ff:ff": false, "01:00:5e:00:00:01": false, "33:33:00:00:00:01": false, "03:00:00:00:00:00": false,
	} {
		m, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if m.IsDevice() != want {
			t.Errorf("%s.IsDevice() = %v", s, !want)
		}
	}
}
