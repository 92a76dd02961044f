package owpkg

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestDependsPerRelease: what each release's package depends on, from the
// Makefile's two lists, as a table: the apk (25.12) and SDK packages get the
// fw4 list; the one .ipk for 21.02-24.10 gets a clause per fw3/fw4 pair, so
// that a stock image of either firewall already satisfies it.
func TestDependsPerRelease(t *testing.T) {
	for _, c := range []struct {
		name    string
		depends string // Package/transferometer DEPENDS
		fw3     string // TRANSFEROMETER_FW3_DEPENDS
		apk     []string
		opkg    string
	}{
		{
			name:    "shipped",
			depends: "$(GO_ARCH_DEPENDS) +kmod-nft-core",
			fw3:     "iptables ip6tables",
			apk:     []string{"libc", "kmod-nft-core"},
			opkg:    "libc, iptables | kmod-nft-core, ip6tables | kmod-nft-core",
		},
		{
			name:    "two fw4 dependencies: every pair",
			depends: "@(aarch64||arm) +kmod-nft-core +kmod-nft-fib",
			fw3:     "iptables",
			apk:     []string{"libc", "kmod-nft-core", "kmod-nft-fib"},
			opkg:    "libc, iptables | kmod-nft-core, iptables | kmod-nft-fib",
		},
		{
			name:    "no fw3 list: fw4 dependencies as they are",
			depends: "+kmod-nft-core",
			fw3:     "",
			apk:     []string{"libc", "kmod-nft-core"},
			opkg:    "libc, kmod-nft-core",
		},
		{
			name:    "conditions: CONFIG prefixes taken as set, selections dropped",
			depends: "$(GO_ARCH_DEPENDS) +@KERNEL_X +IPV6:kmod-nft-core +libc",
			fw3:     "iptables",
			apk:     []string{"libc", "kmod-nft-core"},
			opkg:    "libc, iptables | kmod-nft-core",
		},
		{
			name:    "only libc",
			depends: "$(GO_ARCH_DEPENDS)",
			fw3:     "iptables",
			apk:     []string{"libc"},
			opkg:    "libc, iptables",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "Makefile")
			mk := "TRANSFEROMETER_FW3_DEPENDS:=" + c.fw3 + "\n" +
				"define Package/transferometer\n  SECTION:=net\n  DEPENDS:=" + c.depends + "\nendef\n"
			if c.fw3 == "" {
				mk = "TRANSFEROMETER_FW3_DEPENDS:=x\n" + "define Package/transferometer\n  DEPENDS:=" + c.depends + "\nendef\n"
			}
			if err := os.WriteFile(p, []byte(mk), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := ReadMakefile(p)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ReadDeps(m, "transferometer")
			if err != nil {
				t.Fatal(err)
			}
			if c.fw3 == "" {
				d.FW3 = nil
			}
			if got := d.APK(); !reflect.DeepEqual(got, c.apk) {
				t.Errorf("apk depends %q, want %q", got, c.apk)
			}
			if got := d.Opkg(); got != c.opkg {
				t.Errorf("opkg Depends %q, want %q", got, c.opkg)
			}
		})
	}
}

// TestShippedMakefileDepends: the repository's own Makefile gives the
// dependencies the README promises: no iptables on fw4 releases.
func TestShippedMakefileDepends(t *testing.T) {
	m, err := ReadMakefile(filepath.Join("..", "..", "..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadDeps(m, "transferometer")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.APK(), []string{"libc", "kmod-nft-core"}; !reflect.DeepEqual(got, want) {
		t.Errorf("apk depends %q, want %q", got, want)
	}
	if got, want := d.Opkg(), "libc, iptables | kmod-nft-core, ip6tables | kmod-nft-core"; got != want {
		t.Errorf("opkg Depends %q, want %q", got, want)
	}
}

// TestReadDepsErrors: a Makefile without the lists is an error, not an
// empty dependency list.
func TestReadDepsErrors(t *testing.T) {
	for _, mk := range []string{
		"define Package/transferometer\n  DEPENDS:=+x\nendef\n",                        // no fw3 list
		"TRANSFEROMETER_FW3_DEPENDS:=iptables\ndefine Package/transferometer\nendef\n", // no DEPENDS
	} {
		p := filepath.Join(t.TempDir(), "Makefile")
		if err := os.WriteFile(p, []byte(mk), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMakefile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadDeps(m, "transferometer"); err == nil {
			t.Errorf("ReadDeps accepted %q", mk)
		}
	}
}
