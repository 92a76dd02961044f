package testlan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PingResult is ping's own summary: an independent count of what crossed.
type PingResult struct {
	Transmitted, Received int
}

// ParsePing reads the "N packets transmitted, M received" line of iputils
// ping output.
func ParsePing(out string) (PingResult, error) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, " packets transmitted, ") {
			continue
		}
		var r PingResult
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%d packets transmitted, %d", &r.Transmitted, &r.Received); err != nil {
			return PingResult{}, fmt.Errorf("parsing ping summary %q: %w", line, err)
		}
		return r, nil
	}
	return PingResult{}, fmt.Errorf("no ping summary in output:\n%s", out)
}

// EchoPacketBytes is the IP-level size of one echo request or reply sent by
// `ping -s size` to dst: size plus the ICMP (8) and IP (20, IPv6 40)
// headers. Netfilter counters count exactly this.
func EchoPacketBytes(dst netip.Addr, size int) int {
	if dst.Is4() {
		return size + 28
	}
	return size + 48
}

func pingArgs(dst netip.Addr) []string {
	fam := "-6"
	if dst.Is4() {
		fam = "-4"
	}
	return []string{fam, "-n", "-q"}
}

// Ping sends count echo requests of size payload bytes to dst, 10 ms apart,
// and fails the test unless every one is answered.
func (h *Host) Ping(t testing.TB, dst netip.Addr, size, count int) PingResult {
	t.Helper()
	deadline := 5 + count/50 // -w: bound the whole run even if replies stop
	args := append(pingArgs(dst), "-s", strconv.Itoa(size), "-c", strconv.Itoa(count),
		"-i", "0.01", "-W", "2", "-w", strconv.Itoa(deadline), dst.String())
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// ping exits 1 on loss; the summary says more, so parse it either way.
	out, err := run(ctx, nil, "ip", append([]string{"netns", "exec", h.NS, "ping"}, args...)...)
	r, perr := ParsePing(out)
	if perr != nil {
		t.Fatalf("testlan: ping %s from %s: %v (%v)", dst, h.NS, perr, err)
	}
	if r.Transmitted != count || r.Received != count {
		t.Fatalf("testlan: ping %s from %s: %d transmitted, %d received, want %d (%v)", dst, h.NS, r.Transmitted, r.Received, count, err)
	}
	return r
}

// Flood is a running `ping -f`.
type Flood struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// Flood starts `ping -f -s size -c packets dst` from h: as fast as replies
// come back, packets requests in all. Wait returns ping's own count of what
// was sent and answered, to compare with the product's counters (each
// packet is EchoPacketBytes each way). ctx cancellation kills it.
func (h *Host) Flood(ctx context.Context, dst netip.Addr, size, packets int) (*Flood, error) {
	args := append(pingArgs(dst), "-f", "-s", strconv.Itoa(size), "-c", strconv.Itoa(packets), "-W", "2", dst.String())
	f := &Flood{cmd: h.lan.Exec(ctx, h.NS, "ping", args...)}
	f.cmd.Stdout = &f.out
	f.cmd.Stderr = &f.out
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting flood ping from %s: %w", h.NS, err)
	}
	return f, nil
}

// Wait waits for the flood to end and returns ping's summary. Loss is not
// an error: compare Received with Transmitted. Call it once.
func (f *Flood) Wait() (PingResult, error) {
	err := f.cmd.Wait()
	r, perr := ParsePing(f.out.String())
	if perr != nil {
		return r, fmt.Errorf("flood ping: %w (exit: %v)", perr, err)
	}
	return r, nil
}

// LinkStats are a device's kernel counters. Bytes are Ethernet frame bytes:
// 14 per packet more than IP level.
type LinkStats struct {
	RxBytes, RxPackets, TxBytes, TxPackets uint64
}

// LinkStats reads dev's counters in namespace ns.
func (l *LAN) LinkStats(t testing.TB, ns, dev string) LinkStats {
	t.Helper()
	var files []string
	for _, f := range []string{"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"} {
		files = append(files, "/sys/class/net/"+dev+"/statistics/"+f)
	}
	// ip netns exec remounts /sys, so these are ns's devices.
	fields := strings.Fields(l.Run(t, ns, "cat", files...))
	if len(fields) != 4 {
		t.Fatalf("testlan: stats of %s in %s: got %q", dev, ns, fields)
	}
	var v [4]uint64
	for i, s := range fields {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("testlan: stats of %s in %s: %v", dev, ns, err)
		}
		v[i] = n
	}
	return LinkStats{RxBytes: v[0], RxPackets: v[1], TxBytes: v[2], TxPackets: v[3]}
}

// LinkStats reads the counters of h's eth0.
func (h *Host) LinkStats(t testing.TB) LinkStats {
	t.Helper()
	return h.lan.LinkStats(t, h.NS, HostIf)
}

// FlushNeigh deletes the router's neighbour entries for h on br-lan — IPv4,
// IPv6 global and link-local, any lease address — so dnsmasq's next rescan
// reports arp-del. Entries come back as soon as h talks to the router again.
func (l *LAN) FlushNeigh(t testing.TB, h *Host) {
	t.Helper()
	out := l.Run(t, l.Router, "ip", "-j", "neigh", "show", "dev", Bridge)
	var entries []struct {
		Dst    string `json:"dst"`
		LLAddr string `json:"lladdr"`
	}
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("testlan: parsing ip -j neigh: %v\n%s", err, out)
	}
	var del []string
	for _, e := range entries {
		if strings.EqualFold(e.LLAddr, h.MAC.String()) || e.Dst == h.IP4.String() || e.Dst == h.IP6.String() {
			del = append(del, fmt.Sprintf("neigh del %s dev %s", e.Dst, Bridge))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if err := ipBatch(ctx, l.Router, del); err != nil {
		t.Fatalf("testlan: flushing neighbours of %s: %v", h.NS, err)
	}
}

// DHCP runs busybox udhcpc on h's eth0, asking for hostname, waits until it
// holds a lease and returns the leased address. The lease is added next to
// the static address (which stays primary, so traffic keeps using IP4).
// stop releases the lease (SIGUSR2, so dnsmasq sees a release and reports
// del) and ends udhcpc; it also runs at cleanup, and may be called twice.
func (h *Host) DHCP(t testing.TB, hostname string) (lease netip.Addr, stop func()) {
	t.Helper()
	RequireTools(t, "busybox")
	dir := t.TempDir()
	state := filepath.Join(dir, "lease")
	script := filepath.Join(dir, "udhcpc.sh")
	// udhcpc only reports; configuring the interface is the script's job.
	// Only the lease address is touched, never the static ones.
	body := `#!/bin/sh
state=` + shQuote(state) + `
case "$1" in
bound|renew)
	ip -4 addr replace "$ip/$mask" dev "$interface" || exit 1
	echo "$ip/$mask" >"$state.tmp" && mv "$state.tmp" "$state"
	;;
deconfig)
	if [ -s "$state" ]; then
		ip -4 addr del "$(cat "$state")" dev "$interface"
		rm -f "$state"
	fi
	;;
esac
exit 0
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatalf("testlan: writing udhcpc script: %v", err)
	}
	var out lockedBuffer
	cmd := h.lan.Exec(context.Background(), h.NS, "busybox", "udhcpc", "-i", HostIf, "-f",
		"-t", "5", "-T", "1", "-x", "hostname:"+hostname, "-s", script)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testlan: starting udhcpc in %s: %v", h.NS, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	var once sync.Once
	stop = func() {
		once.Do(func() {
			select {
			case <-done:
				return
			default:
			}
			// Release first: a plain kill would leave the lease in dnsmasq.
			_ = cmd.Process.Signal(syscall.SIGUSR2)
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
					break
				}
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)

	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("testlan: udhcpc in %s exited before getting a lease:\n%s", h.NS, out.String())
		default:
		}
		b, err := os.ReadFile(state)
		if err != nil {
			continue
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("testlan: udhcpc lease %q: %v", b, err)
		}
		return p.Addr(), stop
	}
	stop()
	t.Fatalf("testlan: no DHCP lease for %s within 15 s; udhcpc said:\n%s", h.NS, out.String())
	return netip.Addr{}, stop
}

// shQuote quotes s for sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
