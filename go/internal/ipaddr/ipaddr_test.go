package ipaddr

import (
	"net/netip"
	"testing"
)

// The table holds what Go 1.22+'s netip decides, so the test fails on a
// build whose netip is more lenient (Go 1.21) if this package stops
// filling the gap.
func TestParseAddr(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" = refused
	}{
		{"192.168.1.10", "192.168.1.10"},
		{"fd00::1", "fd00::1"},
		{"fd00:0000:0000::0001", "fd00::1"},
		{"::ffff:10.0.0.1", "::ffff:10.0.0.1"},
		{"fe80::1%br-lan", "fe80::1%br-lan"},
		{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
		{"fd00::00001", ""},
		{"00000::1", ""},
		{"fd00::12345", ""},
		{"fe80::00001%eth0", ""},
		{"010.0.0.1", ""},
		{"10.0.0.256", ""},
		{"::ffff:010.0.0.1", ""},
		{"1:2:3:4:5:6:7::8", ""},
		{"", ""},
		{"fd00::1/64", ""},
	} {
		a, err := ParseAddr(c.in)
		got := ""
		if err == nil {
			got = a.String()
		}
		if got != c.want {
			t.Errorf("ParseAddr(%q) = %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.1.2.3/8"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"fd00::/64", "fd00::/64"},
		{"fd00::1/128", "fd00::1/128"},
		{"10.0.0.0/08", ""},
		{"10.0.0.0/00", ""},
		{"10.0.0.0/0008", ""},
		{"10.0.0.0/+8", ""},
		{"10.0.0.0/-0", ""},
		{"fd00::/064", ""},
		{"fd00::00001/64", ""},
		{"10.0.0.0/33", ""},
		{"10.0.0.0/", ""},
		{"10.0.0.0", ""},
		{"10.0.0.0/8/8", ""},
		{"fe80::/10%eth0", ""},
		{"fe80::%eth0/10", ""},
		{"10.0.0.0/ 8", ""},
	} {
		p, err := ParsePrefix(c.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != c.want {
			t.Errorf("ParsePrefix(%q) = %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzParse: never more lenient than netip, and equal to it on every
// input that has no long IPv6 group and only plain prefix digits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "fd00::1", "10.0.0.0/8", "fd00::00001", "10.0.0.0/08", "::ffff:1.2.3.4/96"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseAddr(s); err == nil {
			if b, err2 := netip.ParseAddr(s); err2 != nil || a != b {
				t.Fatalf("ParseAddr(%q) = %v, netip: %v %v", s, a, b, err2)
			}
		}
		if p, err := ParsePrefix(s); err == nil {
			if q, err2 := netip.ParsePrefix(s); err2 != nil || p != q {
				t.Fatalf("ParsePrefix(%q) = %v, netip: %v %v", s, p, q, err2)
			}
		}
	})
}
