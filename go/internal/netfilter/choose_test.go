package netfilter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChooseBackend(t *testing.T) {
	dir := t.TempDir()
	fw4 := filepath.Join(dir, "fw4")
	h := Host{ConfigDir: dir, FW4Path: fw4, KernelRelease: "6.6.73"}
	choose := func(backend string) Kind {
		t.Helper()
		c, err := Choose(Want{Backend: backend, Variant: "legacy", Placement: "auto"}, h)
		if err != nil {
			t.Fatal(err)
		}
		return c.Kind
	}
	if got := choose("auto"); got != KindIPTablesLegacy {
		t.Errorf("auto without fw4 = %v, want iptables-legacy", got)
	}
	if err := os.WriteFile(fw4, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := choose("auto"); got != KindNFTables {
		t.Errorf("auto with fw4 = %v, want nftables", got)
	}
	if got := choose("iptables"); got != KindIPTablesLegacy {
		t.Errorf("explicit iptables with fw4 = %v", got)
	}
	h.FW4Path = filepath.Join(dir, "missing")
	if got := choose("nftables"); got != KindNFTables {
		t.Errorf("explicit nftables = %v", got)
	}
	c, err := Choose(Want{Backend: "iptables", Variant: "nft"}, h)
	if err != nil || c.Kind != KindIPTablesNFT {
		t.Errorf("variant nft = %v, %v", c.Kind, err)
	}
}

func TestChoosePlacement(t *testing.T) {
	dir := t.TempDir()
	fw := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "firewall"), []byte("config defaults\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, backend, placement, kernel, firewall string
		kind                                       Kind
		err                                        string
	}{
		{"auto off", "nftables", "auto", "6.6.73", "\toption flow_offloading '0'\n", KindNFTables, ""},
		{"auto on", "nftables", "auto", "6.6.73", "\toption flow_offloading '1'\n", KindNFTablesNetdev, ""},
		{"auto on 5.16", "nftables", "auto", "5.16.0-rc1", "\toption flow_offloading 'on'\n", KindNFTablesNetdev, ""},
		{"auto on 5.15", "nftables", "auto", "5.15.167", "\toption flow_offloading '1'\n", KindNFTables, ""},
		{"auto hw only", "nftables", "auto", "6.6.73", "\toption flow_offloading_hw '1'\n", KindNFTables, ""},
		{"forced forward", "nftables", "forward", "6.6.73", "\toption flow_offloading '1'\n", KindNFTables, ""},
		{"forced netdev", "nftables", "netdev", "6.6.73", "", KindNFTablesNetdev, ""},
		{"forced netdev old kernel", "nftables", "netdev", "5.10.201", "", 0, "5.16"},
		{"netdev on iptables", "iptables", "netdev", "6.6.73", "", 0, "nftables backend"},
		{"iptables auto on", "iptables", "auto", "6.6.73", "\toption flow_offloading '1'\n", KindIPTablesLegacy, ""},
		{"garbage kernel", "nftables", "auto", "x.y", "\toption flow_offloading '1'\n", KindNFTables, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw(tc.firewall)
			h := Host{ConfigDir: dir, FW4Path: filepath.Join(dir, "no-fw4"), KernelRelease: tc.kernel}
			ch, err := Choose(Want{Backend: tc.backend, Variant: "legacy", Placement: tc.placement}, h)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Kind != tc.kind || ch.Reason == "" {
				t.Fatalf("kind = %v (%q), want %v", ch.Kind, ch.Reason, tc.kind)
			}
			if (ch.Kind.Placement() == PlacementNetdev) != (tc.kind == KindNFTablesNetdev) {
				t.Fatalf("placement %q for %v", ch.Kind.Placement(), ch.Kind)
			}
		})
	}
}

func TestKindFamily(t *testing.T) {
	for k, fam := range map[Kind]string{KindIPTablesLegacy: "iptables", KindIPTablesNFT: "iptables", KindNFTables: "nftables", KindNFTablesNetdev: "nftables-netdev"} {
		if k.Family() != fam {
			t.Errorf("%v.Family() = %q, want %q", k, k.Family(), fam)
		}
		back, err := KindOfFamily(fam, Want{Variant: "nft"})
		if err != nil || back.Family() != fam {
			t.Errorf("KindOfFamily(%q) = %v, %v", fam, back, err)
		}
	}
	if _, err := KindOfFamily("ipset", Want{}); err == nil {
		t.Error("KindOfFamily(ipset): want an error")
	}
}

func TestReadOffload(t *testing.T) {
	dir := t.TempDir()
	if o := ReadOffload(dir); o.Software || o.Hardware {
		t.Errorf("no firewall file: %+v", o)
	}
	for body, want := range map[string]Offload{
		"\toption flow_offloading '1'\n\toption flow_offloading_hw '1'\n": {Software: true, Hardware: true},
		"\toption flow_offloading_hw '1'\n":                               {},
		"\toption flow_offloading 'yes'\n":                                {Software: true},
		"\toption flow_offloading 'maybe'\n":                              {},
	} {
		if err := os.WriteFile(filepath.Join(dir, "firewall"), []byte("config defaults\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := ReadOffload(dir); got != want {
			t.Errorf("%q: %+v, want %+v", body, got, want)
		}
	}
}

// Choosing iptables where its tools are missing names what to install on
// this release: fw3's packages, or on fw4 the nft variants (and the way
// back to nftables).
func TestIPTablesMissingNamesPackages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir) // no iptables anywhere
	fw4 := filepath.Join(dir, "fw4")
	for _, tc := range []struct {
		fw4  bool
		want string
	}{
		{false, "opkg install iptables ip6tables"},
		{true, "opkg install iptables-nft ip6tables-nft (apk add iptables-nft ip6tables-nft on OpenWrt 25.12)"},
	} {
		if tc.fw4 {
			if err := os.WriteFile(fw4, nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_, err := New(KindIPTablesLegacy, Options{ChainPrefix: "T", IPv6: true, Host: Host{FW4Path: fw4}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fw4 %v: %v, want it to say %q", tc.fw4, err, tc.want)
		}
	}
	_, err := New(KindIPTablesNFT, Options{ChainPrefix: "T", Variant: "nft", Host: Host{FW4Path: fw4}})
	if err == nil || !strings.Contains(err.Error(), "install iptables-nft and ip6tables-nft") {
		t.Errorf("variant nft: %v", err)
	}
}
