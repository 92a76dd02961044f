package netfilter

import (
	"context"
	"net/netip"
	"sync"
)

// Fake is an in-memory Backend for unit tests of pure logic (the core's
// crediting and planning). It is never the only test of a kernel path: the
// real backends run in network namespaces.
type Fake struct {
	mu       sync.Mutex
	set      bool
	counters map[Key]Counter
	Batches  int
	// FailSync makes the next Sync fail, to test crash ordering.
	FailSync error
}

// NewFake returns an empty fake kernel.
func NewFake() *Fake { return &Fake{counters: map[Key]Counter{}} }

// Name implements Backend.
func (f *Fake) Name() string { return "fake" }

// Traffic adds to the counter of k if its rule exists, as the kernel would.
func (f *Fake) Traffic(k Key, packets, bytes uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.counters[k]
	if !ok {
		return false
	}
	f.counters[k] = Counter{Packets: c.Packets + packets, Bytes: c.Bytes + bytes}
	return true
}

// Flush drops every rule, as a firewall restart on fw3 does.
func (f *Fake) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters = map[Key]Counter{}
	f.set = false
}

// Has reports whether a rule exists.
func (f *Fake) Has(k Key) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.counters[k]
	return ok
}

// Read implements Backend.
func (f *Fake) Read(context.Context) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &Snapshot{Counters: map[Key]Counter{}}
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
			f.counters[Key{RouterIn, a}] = Counter{}
			f.counters[Key{RouterOut, a}] = Counter{}
		}
		f.set = true
		ch.Structural++
	}
	for _, h := range sortedAddrs(want) {
		if _, ok := f.counters[Key{Upload, h}]; !ok {
			f.counters[Key{Upload, h}] = Counter{}
			f.counters[Key{Download, h}] = Counter{}
			ch.Added = append(ch.Added, h)
		}
	}
	for k := range f.counters {
		if (k.Kind == Upload || k.Kind == Download) && !want[k.Addr] {
			delete(f.counters, k)
			if k.Kind == Upload {
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
	return nil
}
