package config

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/transferometer/transferometer/internal/links"
	"github.com/transferometer/transferometer/internal/testlan"
	"github.com/transferometer/transferometer/internal/uci"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// writeNetwork puts body into <tempdir>/network and returns the dir.
func writeNetwork(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func hasDevice(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func TestLANFromFixtures(t *testing.T) {
	tests := []struct {
		dir     string
		network string
		device  string // live addresses may add to the list if it exists here
		want    []netip.Prefix
	}{
		{"openwrt-22.03", "lan", "br-lan", prefixes("192.168.1.0/24")},
		{"cidr", "lan", "br-lan", prefixes("192.168.2.0/24", "fd00:2::/64")},
		{"list", "lan", "br-lan", prefixes("192.168.3.0/24", "10.3.0.0/16", "fd00:3::/64", "2001:db8:3::/56")},
		{"list", "guest", "br-guest", prefixes("192.168.30.0/24", "192.168.31.0/24")}, // option split at spaces, netmask as a length
		{"openwrt-19.07", "lan", "br-lan", prefixes("192.168.4.0/24")},
	}
	for _, tt := range tests {
		s := Defaults()
		s.Network = tt.network
		l, err := s.LAN(filepath.Join("testdata", tt.dir), links.DevicePrefixes)
		if err != nil {
			t.Errorf("%s/%s: %v", tt.dir, tt.network, err)
			continue
		}
		got := l.Prefixes()
		if len(got) < len(tt.want) || !reflect.DeepEqual(got[:len(tt.want)], tt.want) ||
			(!hasDevice(tt.device) && len(got) != len(tt.want)) {
			t.Errorf("%s/%s: Prefixes() = %v, want %v first (then the live ones of %s, if any)", tt.dir, tt.network, got, tt.want, tt.device)
		}
	}
}

func TestDeviceName(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{"option device 'br-lan'\n\toption ifname 'eth0'", "br-lan"}, // 21.02+: device wins
		{"option device 'eth1'", "eth1"},
		{"option device '@wan'", ""}, // an alias names an interface, not a device
		{"option type 'bridge'\n\toption ifname 'eth0.1 wlan0'", "br-lan"},
		{"option type 'bridge'", "br-lan"},
		{"option ifname 'eth0.1'", "eth0.1"},
		{"option proto 'static'", ""},
	}
	for _, tt := range tests {
		f, err := uci.Parse("network", strings.NewReader("config interface 'lan'\n\t"+tt.body+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := deviceName("lan", f.Section("lan")); got != tt.want {
			t.Errorf("%q: device %q, want %q", tt.body, got, tt.want)
		}
	}
}

// The loopback device stands in for br-lan: its live 127.0.0.1/8 must be
// derived, while loopback addresses themselves are never LAN hosts.
func TestLANLiveAddresses(t *testing.T) {
	if !hasDevice("lo") {
		testlan.SkipOrFail(t, "no lo device")
	}
	dir := writeNetwork(t, "config interface 'lan'\n\toption device 'lo'\n\toption proto 'static'\n\toption ipaddr '192.168.9.1'\n\toption netmask '255.255.255.0'\n")
	l, err := Defaults().LAN(dir, links.DevicePrefixes)
	if err != nil {
		t.Fatal(err)
	}
	got := l.Prefixes()
	if len(got) == 0 || got[0] != netip.MustParsePrefix("192.168.9.0/24") {
		t.Errorf("Prefixes() = %v, want the configured 192.168.9.0/24 first", got)
	}
	found := false
	for _, p := range got {
		found = found || p == netip.MustParsePrefix("127.0.0.0/8")
		if p.Addr().IsLinkLocalUnicast() {
			t.Errorf("Prefixes() has link-local %v", p)
		}
	}
	if !found {
		t.Errorf("Prefixes() = %v, want the live 127.0.0.0/8 of lo", got)
	}
	if l.Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("Contains(127.0.0.1) = true; loopback is never a LAN host")
	}
	if !l.Contains(netip.MustParseAddr("192.168.9.20")) {
		t.Error("Contains(192.168.9.20) = false")
	}

	// Live addresses alone are enough, whatever the protocol.
	dir = writeNetwork(t, "config interface 'lan'\n\toption device 'lo'\n\toption proto 'dhcp'\n\toption ipaddr '192.168.9.1/24'\n")
	l, err = Defaults().LAN(dir, links.DevicePrefixes)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Prefixes() {
		if p == netip.MustParsePrefix("192.168.9.0/24") {
			t.Errorf("proto dhcp: static ipaddr %v was used", p)
		}
	}
	if len(l.Prefixes()) == 0 {
		t.Error("proto dhcp on lo: no live prefixes")
	}
}

func TestLANExplicitSubnets(t *testing.T) {
	s := Defaults()
	s.Subnets = prefixes("192.168.1.0/24", "fd00::/64", "192.168.1.0/24")
	// No network file: explicit subnets need none.
	l, err := s.LAN(t.TempDir(), links.DevicePrefixes)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Prefixes(), prefixes("192.168.1.0/24", "fd00::/64"); !reflect.DeepEqual(got, want) {
		t.Errorf("Prefixes() = %v, want %v", got, want)
	}
	// The result is a copy.
	l.Prefixes()[0] = netip.Prefix{}
	if l.Prefixes()[0] != netip.MustParsePrefix("192.168.1.0/24") {
		t.Error("Prefixes() exposed internal state")
	}
}

func TestLANErrors(t *testing.T) {
	tests := []struct {
		name    string
		network string // body of <dir>/network; "-" for no file
		setting func(*Settings)
		want    []string // substrings
	}{
		{"no network file", "-", nil, []string{"no LAN subnets: set list subnet in ", "transferometer or configure interface 'lan' in ", "network: ", "no such file"}},
		{"derivation off", "-", func(s *Settings) { s.Network = "" }, []string{"no LAN subnets: set list subnet in ", "transferometer"}},
		{"no such interface", "config interface 'wan'\n\toption ifname 'eth1'\n", nil, []string{"configure interface 'lan' in ", "there is no such interface"}},
		{"section of another type", "config device 'lan'\n\toption name 'br-lan'\n", nil, []string{"there is no such interface"}},
		{"no addresses at all", "config interface 'lan'\n\toption device 'nonexistent9'\n\toption proto 'dhcp'\n", nil, []string{`has no static address and its device "nonexistent9" has none either`}},
		{"syntax error", "config interface 'lan\n", nil, []string{"network:1: unterminated single quote"}},
		{"bad ipaddr", "config interface 'lan'\n\toption proto 'static'\n\toption ipaddr '192.168.1.300'\n", nil, []string{`network: interface 'lan': option ipaddr: "192.168.1.300" is not an IPv4 address with optional /prefix length`}},
		{"IPv6 in ipaddr", "config interface 'lan'\n\toption ipaddr 'fd00::1/64'\n", nil, []string{`option ipaddr: "fd00::1/64" is not an IPv4 address`}},
		{"IPv4 in ip6addr", "config interface 'lan'\n\toption ip6addr '10.0.0.1/8'\n", nil, []string{`option ip6addr: "10.0.0.1/8" is not an IPv6 address`}},
		{"bad prefix length", "config interface 'lan'\n\toption ipaddr '10.0.0.1/33'\n", nil, []string{`option ipaddr: "10.0.0.1/33" is not an IPv4 address with optional /prefix length`}},
		{"bad netmask", "config interface 'lan'\n\toption ipaddr '10.0.0.1'\n\toption netmask '255.0.255.0'\n", nil, []string{`option netmask: "255.0.255.0" is not a netmask`}},
		{"bad netmask length", "config interface 'lan'\n\toption ipaddr '10.0.0.1'\n\toption netmask '40'\n", nil, []string{`option netmask: "40" is not a prefix length (0-32)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.network != "-" {
				dir = writeNetwork(t, tt.network)
			}
			s := Defaults()
			if tt.setting != nil {
				tt.setting(&s)
			}
			_, err := s.LAN(dir, links.DevicePrefixes)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLANConfigForms(t *testing.T) {
	tests := []struct {
		body string
		want []netip.Prefix
	}{
		{"option ipaddr '192.168.5.1'", prefixes("192.168.5.1/32")}, // no netmask: a host route, as netifd
		{"option ipaddr '192.168.5.1'\n\toption netmask '255.255.0.0'", prefixes("192.168.0.0/16")},
		{"option ipaddr '192.168.5.1/24'\n\toption netmask '255.255.0.0'", prefixes("192.168.5.0/24")}, // explicit length wins
		{"option ipaddr '192.168.5.1/255.255.255.128'", prefixes("192.168.5.0/25")},
		{"option ip6addr 'fd00:5::1'", prefixes("fd00:5::1/128")},
		{"option ip6addr 'fd00:5::1/48 fd00:6::1/64'", prefixes("fd00:5::/48", "fd00:6::/64")},
		{"list ip6addr 'fd00:5::1/64'\n\toption ipaddr '10.5.0.1/16'", prefixes("10.5.0.0/16", "fd00:5::/64")},
	}
	for _, tt := range tests {
		dir := writeNetwork(t, "config interface 'lan'\n\toption device 'nonexistent9'\n\toption proto 'static'\n\t"+tt.body+"\n")
		l, err := Defaults().LAN(dir, links.DevicePrefixes)
		if err != nil {
			t.Errorf("%q: %v", tt.body, err)
			continue
		}
		if got := l.Prefixes(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: Prefixes() = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestContains(t *testing.T) {
	everything := newLAN(prefixes("0.0.0.0/0", "::/0"), true)
	lan := newLAN(prefixes("192.168.1.0/24", "fd00:1::/64", "2001:db8:1::/56"), true)
	noV6 := newLAN(prefixes("192.168.1.0/24", "fd00:1::/64"), false)
	a := netip.MustParseAddr
	tests := []struct {
		name string
		l    LAN
		addr netip.Addr
		want bool
	}{
		{"IPv4 host in the LAN", lan, a("192.168.1.20"), true},
		{"IPv6 ULA host in the LAN", lan, a("fd00:1::20"), true},
		{"IPv6 global host in the LAN", lan, a("2001:db8:1:ff::1"), true},
		{"WAN gateway", lan, a("203.0.113.1"), false},
		{"IPv6 outside", lan, a("2001:db8:2::1"), false},
		{"neighbouring IPv4 subnet", lan, a("192.168.2.1"), false},
		{"zero Addr", everything, netip.Addr{}, false},
		{"unspecified IPv4", everything, a("0.0.0.0"), false},
		{"unspecified IPv6", everything, a("::"), false},
		{"loopback IPv4", everything, a("127.0.0.1"), false},
		{"loopback IPv6", everything, a("::1"), false},
		{"multicast IPv4", everything, a("224.0.0.251"), false},
		{"multicast IPv6", everything, a("ff02::1"), false},
		{"link-local IPv4", everything, a("169.254.10.1"), false},
		{"link-local IPv6", everything, a("fe80::1"), false},
		{"link-local IPv6 inside an explicit prefix", newLAN(prefixes("fe80::/10"), true), a("fe80::1"), false},
		{"link-local IPv4 inside an explicit prefix", newLAN(prefixes("169.254.0.0/16"), true), a("169.254.1.1"), false},
		{"IPv4-mapped IPv6 of a LAN host", lan, a("::ffff:192.168.1.20"), false},
		{"zoned address", everything, a("fd00:1::20%br-lan"), false},
		{"IPv6 with IPv6 off", noV6, a("fd00:1::20"), false},
		{"IPv4 with IPv6 off", noV6, a("192.168.1.20"), true},
		{"zero LAN", LAN{}, a("192.168.1.20"), false},
		{"any global unicast", everything, a("8.8.8.8"), true},
	}
	for _, tt := range tests {
		if got := tt.l.Contains(tt.addr); got != tt.want {
			t.Errorf("%s: Contains(%v) = %v, want %v", tt.name, tt.addr, got, tt.want)
		}
	}
}
