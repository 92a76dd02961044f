package account

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/transferometer/transferometer/internal/config"
	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/netfilter"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeKernel hands out one fake backend per rule family, as the kernel
// keeps one set of rules per family: both iptables variants read the same
// fake.
type fakeKernel struct {
	fakes map[string]*netfilter.Fake
	// built counts backends made per kind.
	built map[netfilter.Kind]int
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{fakes: map[string]*netfilter.Fake{}, built: map[netfilter.Kind]int{}}
}

func (k *fakeKernel) backend(kind netfilter.Kind) (netfilter.Backend, error) {
	k.built[kind]++
	return k.fake(kind), nil
}

func (k *fakeKernel) fake(kind netfilter.Kind) *netfilter.Fake {
	f := k.fakes[kind.Family()]
	if f == nil {
		f = netfilter.NewFake()
		f.As = kind
		k.fakes[kind.Family()] = f
	}
	return f
}

// testHost is a router with fw4 absent, a 6.6 kernel and the firewall
// file (if any) in dir.
func testHost(dir string) netfilter.Host {
	return netfilter.Host{ConfigDir: dir, FW4Path: filepath.Join(dir, "no-fw4"), KernelRelease: "6.6.73"}
}

// openFake opens a core on the fake kernel; o.Host defaults to testHost.
func openFake(t *testing.T, s config.Settings, dir string, k *fakeKernel, o Options) *Core {
	t.Helper()
	o.Backends = k.backend
	if o.Host == (netfilter.Host{}) {
		o.Host = testHost(dir)
	}
	c, err := Open(s, dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// fresh is the CLI's usage: collected first.
func fresh(c *Core, mac *macaddr.MAC, sel string) (Report, error) {
	r, err := c.Usage(context.Background(), UsageQuery{MAC: mac, Period: sel, Fresh: true})
	if err != nil {
		return Report{}, err
	}
	return r.Report()
}
