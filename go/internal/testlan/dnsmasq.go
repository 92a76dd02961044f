package testlan

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DnsmasqOptions configures StartDnsmasq.
type DnsmasqOptions struct {
	// Script is the --dhcp-script hook (absolute path, executable), run
	// with --script-arp so it gets arp-add/arp-del as well as DHCP events.
	// Empty: no script.
	Script string
	// Env is added to dnsmasq's environment (which starts as the test's).
	// Measured: the script inherits dnsmasq's whole environment, so this is
	// how to hand the hook e.g. TRANSFEROMETER_CONFIG_DIR.
	Env []string
	// Faketime runs dnsmasq 30× fast (libfaketime "+0 x30") so its 90 s
	// neighbour rescans happen every 3 s. Leases age 30× too, and lease
	// times handed to the script are in fake time. The script itself runs
	// on real time (FAKETIME_ONLY_CMDS=dnsmasq), though LD_PRELOAD and
	// FAKETIME* are in its environment.
	Faketime bool
	// LeaseFile is --dhcp-leasefile; empty: a file in t.TempDir().
	LeaseFile string
	// DHCP serves 10.77.0.100–10.77.0.150 (12h leases) on br-lan.
	// Without it dnsmasq still reports arp events to the script.
	DHCP bool
	// Args are extra dnsmasq arguments.
	Args []string
}

// Dnsmasq is a dnsmasq running in the router namespace, bound to br-lan,
// with DNS off (--port=0) so it never touches the host's resolver.
type Dnsmasq struct {
	cmd      *exec.Cmd
	faketime bool
	log      lockedBuffer
	done     chan struct{}
	once     sync.Once
}

// StartDnsmasq starts dnsmasq in the router namespace and waits until it
// has started. It is stopped at cleanup. The first neighbour scan right
// after start reports every neighbour the router already knows as arp-add —
// WAN side (10.78.0.2) and link-local included, so consumers must filter
// by LAN prefix.
func (l *LAN) StartDnsmasq(t testing.TB, o DnsmasqOptions) *Dnsmasq {
	t.Helper()
	RequireTools(t, "dnsmasq")
	lease := o.LeaseFile
	if lease == "" {
		lease = filepath.Join(t.TempDir(), "dnsmasq.leases")
	}
	args := []string{
		"--no-daemon", "--conf-file=/dev/null", "--port=0", "--no-hosts", "--no-resolv",
		"--interface=" + Bridge, "--bind-interfaces", "--pid-file",
		"--dhcp-leasefile=" + lease, "--user=root", "--log-facility=-", "--log-dhcp",
	}
	if o.DHCP {
		args = append(args, "--dhcp-range=10.77.0.100,10.77.0.150,12h")
	}
	if o.Script != "" {
		args = append(args, "--script-arp", "--dhcp-script="+o.Script)
	}
	args = append(args, o.Args...)

	env := append(os.Environ(), o.Env...)
	if o.Faketime {
		// The preload library directly, not the faketime wrapper: the
		// wrapper forks, so its PID would not be dnsmasq's and HUP would
		// not reach dnsmasq. ld.so expands $LIB to the multiarch dir.
		matches, _ := filepath.Glob("/usr/lib*/*/faketime/libfaketime.so.1")
		if len(matches) == 0 {
			unavailable(t, "libfaketime not installed (Debian package faketime)")
		}
		env = append(env,
			"LD_PRELOAD=/usr/$LIB/faketime/libfaketime.so.1",
			"FAKETIME=+0 x30",
			"FAKETIME_ONLY_CMDS=dnsmasq",
			"FAKETIME_DISABLE_SHM=1",
		)
	}

	d := &Dnsmasq{done: make(chan struct{}), faketime: o.Faketime}
	d.cmd = l.Exec(context.Background(), l.Router, "dnsmasq", args...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("testlan: starting dnsmasq: %v", err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.Stop)

	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-d.done:
			t.Fatalf("testlan: dnsmasq exited at start:\n%s", d.Log())
		default:
		}
		if strings.Contains(d.Log(), "started, version") {
			return d
		}
		if time.Now().After(end) {
			d.Stop()
			t.Fatalf("testlan: dnsmasq did not start within 10 s:\n%s", d.Log())
		}
	}
}

// Rescan makes dnsmasq report neighbour changes now: it waits out the
// rescan interval (3.5 s under Faketime, 91 s without) and sends HUP.
// dnsmasq does not watch the neighbour table: it rescans only when its loop
// wakes (a DHCP packet, a signal) and the last scan is 90 s old, so without
// this a neighbour that appears or leaves while dnsmasq runs may go
// unreported indefinitely.
func (d *Dnsmasq) Rescan(t testing.TB) {
	t.Helper()
	wait := 91 * time.Second
	if d.faketime {
		wait = 3500 * time.Millisecond
	}
	time.Sleep(wait)
	d.HUP(t)
}

// HUP sends SIGHUP. Besides rereading files it wakes dnsmasq's loop, which
// rescans neighbours if the last scan is 90 s (3 s under Faketime) old.
func (d *Dnsmasq) HUP(t testing.TB) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("testlan: HUP dnsmasq: %v\n%s", err, d.Log())
	}
}

// Stop terminates dnsmasq (SIGKILL after 5 s) and waits for it. Safe to
// call more than once.
func (d *Dnsmasq) Stop() {
	d.once.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
}

// Log returns everything dnsmasq has printed so far.
func (d *Dnsmasq) Log() string { return d.log.String() }

// lockedBuffer is an io.Writer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
