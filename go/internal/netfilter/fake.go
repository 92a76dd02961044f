package netfilter

import (
	"context"
	"net/netip"
	"sync"

	"github.com/transferometer/transferometer/internal/counter"
)

// Fake is an in-memory Backend for unit tests of pure logic (the core's
// crediting and planning). It is never the only test of a kernel path: the
// real backends run in network namespaces.
type Fake struct {
	mu       sync.Mutex
	set      bool
	counters map[counter.Key]counter.Counter
	Batches  int
	// FailSync makes the next Sync fail, to test crash ordering.
	FailSync error
	// As is the kind the fake stands in for (KindNFTables when zero).
	As Kind
	// Dynamic makes traffic to or from an address without a rule create
	// its counter, as the nftables sets that the packet path fills do.
	Dynamic bool
	// Teardowns counts Teardown calls.
	Teardowns int
	// QuotaRules are the quota rules of the last SyncQuotas (by name).
	QuotaRules []QuotaRule
	quotas     map[string]QuotaObject
}

// NewFake returns an empty fake kernel.
func NewFake() *Fake { return &Fake{counters: map[counter.Key]counter.Counter{}} }

// Kind implements Backend.
func (f *Fake) Kind() Kind {
	if f.As == 0 {
		return KindNFTables
	}
	return f.As
}

// Traffic adds to the counter of k if its rule exists (or, Dynamic, makes
// it), as the kernel would.
func (f *Fake) Traffic(k counter.Key, packets, bytes uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.counters[k]
	if !ok && !f.Dynamic {
		return false
	}
	f.counters[k] = counter.Counter{Packets: c.Packets + packets, Bytes: c.Bytes + bytes}
	return true
}

// Flush drops every rule, as a firewall restart on fw3 does.
func (f *Fake) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters = map[counter.Key]counter.Counter{}
	f.set = false
}

// Has reports whether a rule exists.
func (f *Fake) Has(k counter.Key) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.counters[k]
	return ok
}

// Read implements Backend.
func (f *Fake) Read(context.Context) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &Snapshot{Counters: map[counter.Key]counter.Counter{}}
	for k, c := range f.counters {
		s.Counters[k] = c
	}
	return s, nil
}

// Sync implements Backend.
func (f *Fake) Sync(_ context.Context, snap *Snapshot, hosts []netip.Addr) (Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ch Changes
	if f.FailSync != nil {
		err := f.FailSync
		f.FailSync = nil
		return ch, err
	}
	want := map[netip.Addr]bool{}
	for _, h := range hosts {
		want[h] = true
	}
	if !f.set {
		for _, a := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
			f.counters[counter.Key{Kind: counter.RouterIn, Addr: a}] = counter.Counter{}
			f.counters[counter.Key{Kind: counter.RouterOut, Addr: a}] = counter.Counter{}
		}
		f.set = true
		ch.Structural++
	}
	for _, h := range sortedAddrs(want) {
		if _, ok := f.counters[counter.Key{Kind: counter.Upload, Addr: h}]; !ok {
			f.counters[counter.Key{Kind: counter.Upload, Addr: h}] = counter.Counter{}
			f.counters[counter.Key{Kind: counter.Download, Addr: h}] = counter.Counter{}
			ch.Added = append(ch.Added, h)
		}
	}
	for k := range f.counters {
		if (k.Kind == counter.Upload || k.Kind == counter.Download) && !want[k.Addr] {
			delete(f.counters, k)
			if k.Kind == counter.Upload {
				ch.Removed = append(ch.Removed, k.Addr)
			}
		}
	}
	if ch.Structural > 0 || len(ch.Added) > 0 || len(ch.Removed) > 0 {
		ch.Batches = 1
		f.Batches++
	}
	return ch, nil
}

// Teardown implements Backend.
func (f *Fake) Teardown(context.Context) error {
	f.Flush()
	f.mu.Lock()
	f.Teardowns++
	f.mu.Unlock()
	return nil
}
