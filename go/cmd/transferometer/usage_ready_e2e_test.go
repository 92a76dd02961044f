package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRPCDUsageReadyBytes: while the daemon runs, ubus usage with the
// default arguments is the daemon's snapshot byte for byte (and a newline),
// as before the plugin answered it without building a core — also while
// this test holds the lock (nothing can write, nothing waits); a query the
// snapshot cannot answer (one device) still gets the core's.
func TestRPCDUsageReadyBytes(t *testing.T) {
	r := newRig(t, "nftables", 1)
	r.handoffConfig(t)
	// A device known before the start, so that the snapshot lists a host
	// and the core's answer for another device cannot equal it.
	h1 := r.lan.Hosts[0]
	r.ok(t, "arp-add", h1.MAC.String(), h1.IP4.String())
	d := r.startHandoffDaemon(t)
	plugin := rpcdPlugin(t, r.bin)
	call := func(stdin string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := r.lan.Exec(ctx, r.lan.Router, plugin, "call", "usage")
		cmd.Env = r.env()
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("call usage: %v", err)
		}
		return out
	}
	release := r.holdLock(t)
	defer release()
	snap, err := os.ReadFile(filepath.Join(r.dbDir, "usage.snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(snap, []byte("\n"))
	for _, stdin := range []string{"{ }", "", `{"ubus_rpc_session":"x"}`} {
		if got := call(stdin); !bytes.Equal(got, append(body, '\n')) {
			t.Fatalf("usage with %q is not the snapshot:\n%s\nwant\n%s", stdin, got, body)
		}
	}
	release()
	other := "02:00:00:aa:00:09" // no such device: the core's answer lists none
	if !bytes.Contains(body, []byte(h1.MAC.String())) {
		t.Fatalf("the snapshot does not list %s:\n%s", h1.MAC, body)
	}
	if one := call(`{"mac":"` + other + `"}`); bytes.Equal(one, append(body, '\n')) || !bytes.Contains(one, []byte(`"hosts":[]`)) {
		t.Fatalf("usage of a device the snapshot cannot answer for: %s", one)
	}
	d.stop(t)
}
