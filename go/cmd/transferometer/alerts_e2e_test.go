package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// Alerts from real traffic, through the real binary: a quota of 100,000
// bytes on host 1 (both directions, action none, thresholds 50, 80 and
// 100 %), crossed by pings in steps; each threshold must reach a hotplug.d
// script exactly once, and a second host appearing while the daemon runs
// must reach it as a new device, once. No daemon for the thresholds: the
// door that queued them starts the detached deliverer.
//
// OpenWrt's /sbin/hotplug-call (base-files) sources every script in
// /etc/hotplug.d/SUBSYSTEM in a subshell; the stand-in here does the same
// for the test's own config dir, since this machine has neither it nor
// /lib/functions.sh. The stand-in ubus records `ubus send`.
func TestAlertsE2E(t *testing.T) {
	for _, v := range []string{"nftables", "legacy"} {
		t.Run(v, func(t *testing.T) { testAlertsE2E(t, v) })
	}
}

// alertCapture is the stand-in hotplug-call and ubus of a rig, and the
// test's own hotplug.d script capturing one line per alert.
type alertCapture struct {
	path    string // PATH= with the stand-ins first
	out     string
	capture string
}

func newAlertCapture(t *testing.T, r *rig) *alertCapture {
	t.Helper()
	bin, out := t.TempDir(), t.TempDir()
	scripts := filepath.Join(r.cfgDir, "hotplug.d", "transferometer")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &alertCapture{path: "PATH=" + bin + ":" + os.Getenv("PATH"), out: out, capture: filepath.Join(out, "captured")}
	files := map[string]string{
		filepath.Join(bin, "hotplug-call"): "#!/bin/sh\nexport HOTPLUG_TYPE=\"$1\"\n" +
			"for script in $(ls " + filepath.Dir(scripts) + "/$1/* 2>&-); do (\n\t[ -f $script ] && . $script\n); done\n",
		filepath.Join(bin, "ubus"): "#!/bin/sh\n[ \"$1 $2\" = 'send transferometer.alert' ] && printf '%s\\n' \"$3\" >> " + filepath.Join(out, "ubus") + "\n",
		// The user's script: one line per alert.
		filepath.Join(scripts, "50-capture"): "echo \"$ACTION quota=$TRANSFEROMETER_QUOTA percent=$TRANSFEROMETER_PERCENT mac=$TRANSFEROMETER_MAC used=$TRANSFEROMETER_USED limit=$TRANSFEROMETER_LIMIT\" >> " + c.capture + "\n",
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *alertCapture) lines() []string {
	b, _ := os.ReadFile(c.capture)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// want waits for the captured lines to be exactly want (delivery is
// asynchronous), then a little longer for a repeat that must not come.
func (c *alertCapture) want(t *testing.T, what string, lines ...string) {
	t.Helper()
	ok := func() bool { return strings.Join(c.lines(), "\n") == strings.Join(lines, "\n") }
	deadline := time.Now().Add(20 * time.Second)
	for !ok() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if !ok() {
		t.Fatalf("%s: captured\n%s\nwant\n%s", what, strings.Join(c.lines(), "\n"), strings.Join(lines, "\n"))
	}
}

func testAlertsE2E(t *testing.T, variant string) {
	r := newRig(t, variant, 2)
	h1, h2 := r.lan.Hosts[0], r.lan.Hosts[1]
	c := newAlertCapture(t, r)
	path, out := c.path, c.out
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\toption refresh_interval '1'\n\toption live_port '0'\n\toption live_tls_port '0'\n\n"+
		"config quota 'h1'\n\tlist mac '%s'\n\toption limit '100000'\n\toption per 'period'\n\toption direction 'both'\n\toption action 'none'\n"+
		"\tlist notify '50'\n\tlist notify '80'\n\tlist notify '100'\n", filepath.Join(t.TempDir(), "flash"), h1.MAC))
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := r.lan.Exec(ctx, r.lan.Router, r.bin, args...)
		cmd.Env = append(r.env(), path)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("transferometer %v: %v\n%s", args, err, b)
		}
	}
	want := func(what string, lines ...string) { t.Helper(); c.want(t, what, lines...) }
	mac := h1.MAC.String()
	line := func(pct int, used uint64) string {
		return fmt.Sprintf("threshold quota=h1 percent=%d mac=%s used=%d limit=100000", pct, mac, used)
	}
	const round = 2 * 10280 // ping -s 1000 -c 10: 10,280 bytes each way
	run("arp-add", mac, h1.IP4.String())
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	run("collect")
	want("20,560 of 100,000 bytes", "")
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	run("collect")
	want("61,680 bytes", line(50, 3*round))
	run("collect")
	want("61,680 bytes, again", line(50, 3*round))
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	run("collect")
	want("82,240 bytes", line(50, 3*round), line(80, 4*round))
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	run("collect")
	want("102,800 bytes", line(50, 3*round), line(80, 4*round), line(100, 5*round))

	// The daemon from here on: it refires nothing, and a second host that
	// appears (the kernel's neighbour announcement) is a new device.
	d := r.startDaemon(t, path)
	h2.Ping(t, r.lan.Internet4, 100, 3)
	h1.Ping(t, r.lan.Internet4, 1000, 10)
	want("a new device", line(50, 3*round), line(80, 4*round), line(100, 5*round),
		fmt.Sprintf("new_device quota= percent=0 mac=%s used=0 limit=0", h2.MAC))
	d.stop(t)

	// The same alerts went out as ubus events, with the JSON body.
	b, err := os.ReadFile(filepath.Join(out, "ubus"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var a struct {
			Kind    string `json:"kind"`
			Percent int    `json:"percent"`
			Period  string `json:"period"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(l, &a); err != nil || a.Period == "" || a.Message == "" {
			t.Fatalf("ubus event %s: %v", l, err)
		}
		kinds = append(kinds, fmt.Sprintf("%s/%d", a.Kind, a.Percent))
	}
	if got := strings.Join(kinds, " "); got != "threshold/50 threshold/80 threshold/100 new_device/0" {
		t.Fatalf("ubus events: %s", got)
	}
	if es := r.ok(t, "alerts", "list"); strings.TrimSpace(es) != "[]" {
		t.Fatalf("outbox not empty: %s", es)
	}
}

// A block the kernel enforces: a 20 MB download against a 1 MB download
// quota (action block, thresholds 50, 80 and 100 %) is stopped a packet
// short of the allowance, and the script hears of each threshold and of
// the block exactly once, from the daemon, though the ledger never counts
// the 100 % itself.
func TestAlertsBlockedE2E(t *testing.T) {
	testlan.RequireTools(t, "nft")
	r := newRig(t, "nftables", 1)
	h1 := r.lan.Hosts[0]
	c := newAlertCapture(t, r)
	r.writeConfig(t, fmt.Sprintf("\toption persist_dir '%s'\n\toption refresh_interval '1'\n\toption live_port '0'\n\toption live_tls_port '0'\n\n"+
		"config quota 'h1'\n\tlist mac '%s'\n\toption limit '1MB'\n\toption direction 'down'\n\toption action 'block'\n"+
		"\tlist notify '50'\n\tlist notify '80'\n\tlist notify '100'\n", filepath.Join(t.TempDir(), "flash"), h1.MAC))
	r.ok(t, "arp-add", h1.MAC.String(), h1.IP4.String())
	d := r.startDaemon(t, c.path)
	got := download(t, r.lan, h1, r.lan.Internet4, 5311, 20_000_000)
	if got >= 2_000_000 {
		t.Fatalf("the download was not stopped: %d bytes", got)
	}
	prefix := func(kind string, pct int) string {
		return fmt.Sprintf("%s quota=h1 percent=%d mac=%s used=", kind, pct, h1.MAC)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(c.lines()) < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // three more collections: nothing again
	lines := c.lines()
	if len(lines) != 4 {
		t.Fatalf("captured\n%s\nwant thresholds 50, 80, 100 and the block, once each", strings.Join(lines, "\n"))
	}
	for i, w := range []string{prefix("threshold", 50), prefix("threshold", 80), prefix("threshold", 100), prefix("blocked", 0)} {
		if !strings.HasPrefix(lines[i], w) || !strings.HasSuffix(lines[i], " limit=1000000") {
			t.Fatalf("alert %d: %q, want %q…", i, lines[i], w)
		}
	}
	d.stop(t)
}
