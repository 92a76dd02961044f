package neigh

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink"
	"golang.org/x/sys/unix"

	"github.com/transferometer/transferometer/internal/testlan"
)

func TestEntry(t *testing.T) {
	mac := net.HardwareAddr{2, 0x77, 0, 0, 0, 1}
	for _, tc := range []struct {
		name string
		m    rtnetlink.NeighMessage
		want string // "" means refused
	}{
		{"v4", rtnetlink.NeighMessage{Attributes: &rtnetlink.NeighAttributes{Address: net.ParseIP("10.77.0.11"), LLAddress: mac}}, "02:77:00:00:00:01 10.77.0.11"},
		{"v6", rtnetlink.NeighMessage{Attributes: &rtnetlink.NeighAttributes{Address: net.ParseIP("fd77::11"), LLAddress: mac}}, "02:77:00:00:00:01 fd77::11"},
		{"no attributes", rtnetlink.NeighMessage{}, ""},
		{"no mac", rtnetlink.NeighMessage{Attributes: &rtnetlink.NeighAttributes{Address: net.ParseIP("10.77.0.11")}}, ""},
		{"zero mac", rtnetlink.NeighMessage{Attributes: &rtnetlink.NeighAttributes{Address: net.ParseIP("10.77.0.11"), LLAddress: make(net.HardwareAddr, 6)}}, ""},
		{"infiniband", rtnetlink.NeighMessage{Attributes: &rtnetlink.NeighAttributes{Address: net.ParseIP("10.77.0.11"), LLAddress: make(net.HardwareAddr, 20)}}, ""},
		{"no address", rtnetlink.NeighMessage{Attributes: &rtnetlink.NeighAttributes{LLAddress: mac}}, ""},
	} {
		e, ok := entry(&tc.m)
		got := ""
		if ok {
			got = e.MAC.String() + " " + e.Addr.String()
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The real kernel: a router namespace's table read whole, and its changes
// announced to a watcher as they happen.
func TestReadAndWatch(t *testing.T) {
	lan := testlan.New(t, testlan.Options{NumHosts: 1})
	f, err := os.Open(filepath.Join("/run/netns", lan.Router))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ns := int(f.Fd())

	events := make(chan Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, ns, func(e Event) { events <- e }) }()
	time.Sleep(100 * time.Millisecond) // subscribed before the change

	want := netip.MustParseAddr("10.77.0.200")
	lan.Run(t, lan.Router, "ip", "neigh", "replace", want.String(), "lladdr", "02:77:00:00:00:c8", "nud", "reachable", "dev", testlan.Bridge)
	wait := func(gone bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Addr == want && e.Gone == gone && (gone || e.MAC.String() == "02:77:00:00:00:c8") {
					return
				}
			case <-deadline:
				t.Fatalf("no event for %v (gone %v)", want, gone)
			}
		}
	}
	wait(false)
	all, err := ReadIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range all {
		found = found || e.Addr == want
	}
	if !found {
		t.Fatalf("Read: %v lacks %v", all, want)
	}
	lan.Run(t, lan.Router, "ip", "neigh", "del", want.String(), "dev", testlan.Bridge)
	wait(true)

	// A failed neighbour is no event, and not in the table we read.
	lan.Run(t, lan.Router, "ip", "neigh", "replace", "10.77.0.201", "nud", "failed", "dev", testlan.Bridge)
	if all, _ := ReadIn(ns); len(all) > 0 {
		for _, e := range all {
			if e.Addr == netip.MustParseAddr("10.77.0.201") {
				t.Fatal("a failed neighbour was read")
			}
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not end with its context")
	}
}

// TestReadHere reads this namespace's real table: it must not fail.
func TestReadHere(t *testing.T) {
	if _, err := Read(); err != nil {
		t.Fatal(err)
	}
	_ = unix.NUD_REACHABLE
}
