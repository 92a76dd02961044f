// Package testlan builds a real routed LAN out of Linux network namespaces
// for integration tests: a router namespace with a bridge br-lan, host
// namespaces plugged into it by veth pairs, and a WAN namespace behind the
// router that also holds an "internet" address to ping.
//
//	[host h1 eth0]--lan1--+
//	[host h2 eth0]--lan2--+ br-lan 10.77.0.1/24 fd77::1/64   [router]
//	...                   |  wan 10.78.0.1/24 fd78::1/64 ---- eth0 10.78.0.2 fd78::2  [WAN]
//	                                                         lo   10.79.0.1 fd79::1
//
// Host N (1-based) has eth0 with MAC 02:77:00:00:00:NN (NN = N in hex),
// 10.77.0.(10+N)/24 and fd77::(10+N)/64 (decimal digits, so fd77::11 for
// host 1), and default routes via the router. The router forwards IPv4 and
// IPv6, has bridge-nf-call-ip(6)tables=0 so bridged frames skip iptables, and,
// when Options.Variant names an iptables backend, MASQUERADEs the LAN on wan
// with that backend (legacy and nft must never be mixed in one namespace).
// Offloads are off on every veth end unless KeepOffloads is set, so packet
// and byte counters see real wire packets. DAD is off everywhere, so every
// address is usable the moment New returns.
//
// API:
//
//	New(t, Options{NumHosts, Variant, KeepOffloads}) *LAN  // torn down by t.Cleanup
//	Require(t)                                             // skip (fail under CI) if unusable
//	lan.AddHost(t) *Host                                   // one more host, later
//	lan.Exec(ctx, ns, name, args...) *exec.Cmd             // ip netns exec, no shell
//	lan.Run(t, ns, name, args...) string                   // run or fail with all output
//	lan.IPTables(ipv6) string                              // "iptables-nft" etc. for Variant
//	lan.LinkStats(t, ns, dev), host.LinkStats(t)           // kernel counters (frame bytes)
//	lan.FlushNeigh(t, host)                                // router forgets host: arp-del
//	host.Ping(t, dst, size, count) PingResult              // fails unless all answered
//	host.Flood(ctx, dst, size, n) (*Flood, error)          // ping -f; Wait gives ping's count
//	host.DHCP(t, hostname) (lease, stop)                   // busybox udhcpc
//	lan.StartDnsmasq(t, DnsmasqOptions{...}) *Dnsmasq      // Rescan, HUP, Stop, Log
//	ParsePing(out), EchoPacketBytes(dst, size)
//
// Example:
//
//	lan := testlan.New(t, testlan.Options{NumHosts: 2, Variant: "nft"})
//	lan.Hosts[0].Ping(t, lan.Internet4, 1000, 10)
//	out := lan.Run(t, lan.Router, lan.IPTables(false)+"-save", "-c")
//
// Every namespace name is "tl" + 6 random hex digits + a role suffix (-r,
// -w, -hN), unique per LAN. t.Cleanup kills every process left in the LAN's
// namespaces (whoever started it) and deletes them, also when the test
// fails. A test binary killed hard (e.g. by -timeout) leaks them; remove
// leftovers with `ip netns list | grep '^tl'`.
//
// Traffic stays inside the namespaces. New checks what Require checks (its
// own first `ip netns add` serves as the probe): it skips the test unless it
// runs as root on Linux with working `ip netns`, and fails it instead when
// the CI environment variable is set, so CI never silently skips.
//
// Facts measured with this harness (see the package tests):
//   - `ping -s 1000 -c 10` from a host to Internet4 is 10 packets / 10280
//     bytes in the router's FORWARD chain each way, 10480 for IPv6, on
//     iptables-nft and iptables-legacy alike (EchoPacketBytes).
//   - Host-to-host traffic is bridged and never reaches FORWARD.
//   - dnsmasq passes its whole environment on to the --dhcp-script (arp
//     events get nothing else from it), so DnsmasqOptions.Env reaches the hook.
//   - br-lan has a fixed MAC (RouterMAC): a bridge that takes its lowest
//     port's MAC changes it when AddHost adds a lower one, and hosts' cached
//     ARP/ND entries for the router then black-hole traffic for ~30 s.
//   - dnsmasq does not watch the neighbour table: it scans once at start
//     (reporting every known neighbour, WAN gateway 10.78.0.2 and IPv6
//     link-local ones included) and afterwards only when its loop wakes and
//     90 s have passed. Use Faketime and Dnsmasq.Rescan to see a new or
//     vanished neighbour within ~3.5 s.
package testlan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Interface names, fixed so tests can refer to them.
const (
	Bridge  = "br-lan" // LAN bridge in the router namespace
	WANIf   = "wan"    // router's WAN veth end
	HostIf  = "eth0"   // a host's (and the WAN peer's) veth end
	MaxHost = 89       // 10.77.0.99 is the last static address; DHCP starts at .100
)

// runTimeout bounds every command the package runs for a test, so a hung
// tool fails the test instead of hanging it until the go test -timeout
// panic, which would skip cleanup and leak namespaces.
const runTimeout = 2 * time.Minute

// Options configures New. The zero value is a LAN with one host, offloads
// off and no NAT rules.
type Options struct {
	// NumHosts is the number of host namespaces, 1..20; 0 means 1.
	NumHosts int
	// Variant selects the iptables backend used for the router's
	// MASQUERADE rules: "legacy", "nft", or "" for no NAT at all (the WAN
	// peer has routes back to the LAN, so plain routing works too).
	Variant string
	// KeepOffloads leaves TSO/GSO/GRO on. By default they are turned off on
	// every veth end so counters see one entry per wire packet.
	KeepOffloads bool
	// Topology is how hosts attach: "" (TopoBridge) as ports of br-lan;
	// TopoPlain, one host whose veth lan1 is the router's LAN device
	// itself (no bridge); TopoVLAN, hosts tagging VLAN 10 on their veth,
	// the router's lanN.10 being the ports of br-lan.
	Topology string
}

// Topologies (Options.Topology).
const (
	TopoBridge = ""
	TopoPlain  = "plain"
	TopoVLAN   = "vlan"
	// VLANID is the tag of TopoVLAN.
	VLANID = 10
)

// LAN is a running test network. Its exported fields are read-only.
type LAN struct {
	Router, WAN string // namespace names

	LAN4, LAN6             netip.Prefix     // 10.77.0.0/24, fd77::/64
	RouterLAN4, RouterLAN6 netip.Addr       // 10.77.0.1, fd77::1 on br-lan
	RouterWAN4, RouterWAN6 netip.Addr       // 10.78.0.1, fd78::1 on wan
	WANPeer4, WANPeer6     netip.Addr       // 10.78.0.2, fd78::2: the router's gateway
	Internet4, Internet6   netip.Addr       // 10.79.0.1, fd79::1 in the WAN namespace, routed
	RouterMAC              net.HardwareAddr // 02:77:ff:00:00:01, br-lan's (fixed) MAC
	WANPeerMAC             net.HardwareAddr // 02:78:00:00:00:02, the WAN peer's eth0

	Variant string // iptables backend from Options ("" = none)

	// Hosts holds the hosts in creation order; Hosts[i] is host i+1.
	// AddHost appends to it: read it from the test goroutine only.
	Hosts []*Host

	base         string
	keepOffloads bool
	topology     string

	mu    sync.Mutex
	names []string // every namespace created, for cleanup
	next  int      // number of the next host
}

// Host is one LAN client namespace.
type Host struct {
	N          int              // 1-based host number
	NS         string           // namespace name
	MAC        net.HardwareAddr // eth0's MAC, 02:77:00:00:00:NN
	IP4, IP6   netip.Addr       // static addresses on eth0
	RouterPort string           // the router's veth end, a port of br-lan

	lan *LAN
}

// Require skips the test unless it can build a LAN: Linux, root, the tools
// on PATH and a working `ip netns add`. With CI set it fails instead.
// New checks the same (its first `ip netns add` is the probe).
func Require(t testing.TB) {
	t.Helper()
	requireBasics(t)
	probe := "tlprobe" + randomHex(t, 3)
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		unavailable(t, "ip netns add does not work: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "netns", "del", probe).CombinedOutput(); err != nil {
		t.Fatalf("testlan: deleting probe namespace %s: %v: %s", probe, err, out)
	}
}

func requireBasics(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		unavailable(t, "needs Linux, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		unavailable(t, "needs root for network namespaces")
	}
	RequireTools(t, "ip", "ping")
}

// netnsAddError marks a failed `ip netns add`: on a machine that cannot
// create namespaces at all, New skips (fails under CI) like Require.
type netnsAddError struct{ error }

func (e netnsAddError) Unwrap() error { return e.error }

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testlan: random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// New builds a LAN and registers its teardown with t.Cleanup.
func New(t testing.TB, o Options) *LAN {
	t.Helper()
	requireBasics(t)
	if o.NumHosts == 0 {
		o.NumHosts = 1
	}
	if o.NumHosts < 1 || o.NumHosts > 20 {
		t.Fatalf("testlan: NumHosts %d out of range 1..20", o.NumHosts)
	}
	switch o.Topology {
	case TopoBridge, TopoVLAN:
	case TopoPlain:
		if o.NumHosts != 1 {
			t.Fatalf("testlan: topology %q takes exactly one host", o.Topology)
		}
	default:
		t.Fatalf("testlan: unknown topology %q", o.Topology)
	}
	switch o.Variant {
	case "":
	case "legacy", "nft":
		RequireTools(t, "iptables-"+o.Variant, "ip6tables-"+o.Variant)
	default:
		t.Fatalf(`testlan: Variant %q: want "legacy", "nft" or ""`, o.Variant)
	}

	base := "tl" + randomHex(t, 3)
	l := &LAN{
		Router:       base + "-r",
		WAN:          base + "-w",
		LAN4:         netip.MustParsePrefix("10.77.0.0/24"),
		LAN6:         netip.MustParsePrefix("fd77::/64"),
		RouterLAN4:   netip.MustParseAddr("10.77.0.1"),
		RouterLAN6:   netip.MustParseAddr("fd77::1"),
		RouterWAN4:   netip.MustParseAddr("10.78.0.1"),
		RouterWAN6:   netip.MustParseAddr("fd78::1"),
		WANPeer4:     netip.MustParseAddr("10.78.0.2"),
		WANPeer6:     netip.MustParseAddr("fd78::2"),
		Internet4:    netip.MustParseAddr("10.79.0.1"),
		Internet6:    netip.MustParseAddr("fd79::1"),
		RouterMAC:    net.HardwareAddr{0x02, 0x77, 0xff, 0, 0, 0x01},
		WANPeerMAC:   net.HardwareAddr{0x02, 0x78, 0, 0, 0, 0x02},
		Variant:      o.Variant,
		base:         base,
		keepOffloads: o.KeepOffloads,
		topology:     o.Topology,
		next:         1,
	}
	// Registered before anything exists so a half-built LAN is torn down too.
	t.Cleanup(func() { l.teardown(t) })

	hosts := make([]*Host, 0, o.NumHosts)
	for i := 0; i < o.NumHosts; i++ {
		hosts = append(hosts, l.newHost())
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if err := l.build(ctx, true, hosts); err != nil {
		if errors.As(err, new(netnsAddError)) {
			unavailable(t, "%v", err)
		}
		if o.Topology == TopoVLAN && strings.Contains(err.Error(), "Unknown device type") {
			// A kernel capability, not a broken setup: this machine's
			// kernel has no 8021q and loads no modules. The guest-kernel
			// run (make test-offload), which has it, fails instead.
			SkipForGuest(t, "testlan: this kernel has no VLAN (8021q) support")
		}
		t.Fatalf("testlan: building LAN %s: %v", base, err)
	}
	l.Hosts = append(l.Hosts, hosts...)
	return l
}

// AddHost plugs one more host into br-lan, e.g. for tests of hosts that
// appear while the product is running.
func (l *LAN) AddHost(t testing.TB) *Host {
	t.Helper()
	h := l.newHost()
	if h == nil {
		t.Fatalf("testlan: at most %d hosts", MaxHost)
	}
	if l.topology == TopoPlain {
		t.Fatal("testlan: a plain LAN device has room for one host")
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if err := l.build(ctx, false, []*Host{h}); err != nil {
		t.Fatalf("testlan: adding host %s: %v", h.NS, err)
	}
	l.Hosts = append(l.Hosts, h)
	return h
}

// newHost allocates the next host number and its names and addresses; nil
// when all MaxHost numbers are taken.
func (l *LAN) newHost() *Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next > MaxHost {
		return nil
	}
	n := l.next
	l.next++
	h := &Host{
		N:          n,
		NS:         fmt.Sprintf("%s-h%d", l.base, n),
		MAC:        net.HardwareAddr{0x02, 0x77, 0, 0, 0, byte(n)},
		IP4:        netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + n)}),
		IP6:        netip.MustParseAddr(fmt.Sprintf("fd77::%d", 10+n)),
		RouterPort: fmt.Sprintf("lan%d", n),
		lan:        l,
	}
	return h
}

// build creates the namespaces and links. With core it also creates the
// router and WAN. Steps that touch different namespaces run in parallel:
// each is a separate process, and serial setup of a 3-host LAN would spend
// most of its time waiting on them.
func (l *LAN) build(ctx context.Context, core bool, hosts []*Host) error {
	var nss []string
	if core {
		nss = append(nss, l.Router, l.WAN)
	}
	for _, h := range hosts {
		nss = append(nss, h.NS)
	}
	l.mu.Lock()
	l.names = append(l.names, nss...)
	l.mu.Unlock()

	var add []string
	for _, ns := range nss {
		add = append(add, "netns add "+ns)
	}
	if err := ipBatch(ctx, "", add); err != nil {
		return netnsAddError{fmt.Errorf("creating namespaces: %w", err)}
	}

	// DAD off before any link exists, so link-local addresses are usable at
	// once too; the router also needs forwarding and must keep bridged
	// frames out of iptables (a new netns starts with bridge-nf-call=1).
	common := []string{"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"}
	var steps []func() error
	for _, ns := range nss {
		ns := ns
		keys, optional := common, map[string]bool(nil)
		if ns == l.Router {
			keys = append(append([]string(nil), common...),
				"net.ipv4.ip_forward=1",
				"net.ipv6.conf.all.forwarding=1",
				"net.bridge.bridge-nf-call-iptables=0",
				"net.bridge.bridge-nf-call-ip6tables=0",
				"net.bridge.bridge-nf-call-arptables=0",
			)
			// Without br_netfilter these keys do not exist, and bridged
			// frames skip iptables anyway.
			optional = map[string]bool{
				"net.bridge.bridge-nf-call-iptables":  true,
				"net.bridge.bridge-nf-call-ip6tables": true,
				"net.bridge.bridge-nf-call-arptables": true,
			}
		}
		steps = append(steps, func() error { return writeSysctls(ns, keys, optional) })
	}
	if err := parallel(steps...); err != nil {
		return err
	}

	// The router creates every veth so both ends are born in the right
	// namespace and no name ever exists in the caller's namespace.
	var r []string
	if core {
		r = append(r, "link set lo up")
	}
	if core && l.topology != TopoPlain {
		r = append(r,
			// A fixed MAC, as on a real router: otherwise the bridge takes
			// its lowest port's MAC, so a port added later (AddHost) can
			// change it, and hosts' cached ARP/ND entries for the router
			// then point nowhere for ~30 s.
			"link add "+Bridge+" address "+l.RouterMAC.String()+" type bridge mcast_snooping 0",
			"addr add 10.77.0.1/24 dev "+Bridge,
			"addr add fd77::1/64 dev "+Bridge+" nodad",
			"link set "+Bridge+" up",
		)
	}
	if core {
		r = append(r,
			"link add "+WANIf+" address 02:78:00:00:00:01 type veth peer name "+HostIf+" address "+l.WANPeerMAC.String()+" netns "+l.WAN,
			"addr add 10.78.0.1/24 dev "+WANIf,
			"addr add fd78::1/64 dev "+WANIf+" nodad",
			"link set "+WANIf+" up",
			// onlink: the WAN end may not be up yet, and the kernel would
			// otherwise refuse a gateway on a link without carrier.
			"route add default via 10.78.0.2 dev "+WANIf+" onlink",
			"route add default via fd78::2 dev "+WANIf+" onlink",
		)
	}
	for _, h := range hosts {
		switch l.topology {
		case TopoPlain:
			r = append(r,
				fmt.Sprintf("link add %s address %s type veth peer name %s address %s netns %s", h.RouterPort, l.RouterMAC, HostIf, h.MAC, h.NS),
				"addr add 10.77.0.1/24 dev "+h.RouterPort,
				"addr add fd77::1/64 dev "+h.RouterPort+" nodad",
				fmt.Sprintf("link set %s up", h.RouterPort),
			)
		case TopoVLAN:
			r = append(r,
				fmt.Sprintf("link add %s type veth peer name %s address %s netns %s", h.RouterPort, HostIf, h.MAC, h.NS),
				fmt.Sprintf("link add link %s name %s.%d type vlan id %d", h.RouterPort, h.RouterPort, VLANID, VLANID),
				fmt.Sprintf("link set %s.%d master %s", h.RouterPort, VLANID, Bridge),
				fmt.Sprintf("link set %s up", h.RouterPort),
				fmt.Sprintf("link set %s.%d up", h.RouterPort, VLANID),
			)
		default:
			r = append(r,
				fmt.Sprintf("link add %s type veth peer name %s address %s netns %s", h.RouterPort, HostIf, h.MAC, h.NS),
				fmt.Sprintf("link set %s master %s", h.RouterPort, Bridge),
				fmt.Sprintf("link set %s up", h.RouterPort),
			)
		}
	}
	if err := ipBatch(ctx, l.Router, r); err != nil {
		return fmt.Errorf("router links: %w", err)
	}

	if l.topology == TopoVLAN {
		steps = steps[:0]
		for _, h := range hosts {
			h := h
			steps = append(steps, func() error {
				return ipBatch(ctx, h.NS, []string{fmt.Sprintf("link add link %s name %s type vlan id %d", HostIf, l.hostDev(), VLANID)})
			})
		}
		if err := parallel(steps...); err != nil {
			return fmt.Errorf("host VLANs: %w", err)
		}
	}

	// Every veth end exists now (the router made both ends).
	if !l.keepOffloads {
		steps = steps[:0]
		var routerDevs []string
		if core {
			routerDevs = append(routerDevs, WANIf)
			steps = append(steps, func() error { return offloadsOff(ctx, l.WAN, HostIf) })
		}
		for _, h := range hosts {
			h := h
			routerDevs = append(routerDevs, h.RouterPort)
			devs := []string{HostIf}
			if l.topology == TopoVLAN {
				routerDevs = append(routerDevs, fmt.Sprintf("%s.%d", h.RouterPort, VLANID))
				devs = append(devs, l.hostDev())
			}
			steps = append(steps, func() error { return offloadsOff(ctx, h.NS, devs...) })
		}
		steps = append(steps, func() error { return offloadsOff(ctx, l.Router, routerDevs...) })
		if err := parallel(steps...); err != nil {
			return err
		}
	}

	steps = steps[:0]
	if core {
		steps = append(steps, func() error {
			return ipBatch(ctx, l.WAN, []string{
				"link set lo up",
				"addr add 10.79.0.1/32 dev lo",
				"addr add fd79::1/128 dev lo",
				"link set " + HostIf + " up",
				"addr add 10.78.0.2/24 dev " + HostIf,
				"addr add fd78::2/64 dev " + HostIf + " nodad",
				"route add 10.77.0.0/24 via 10.78.0.1 dev " + HostIf + " onlink",
				"route add fd77::/64 via fd78::1 dev " + HostIf + " onlink",
			})
		})
		if l.Variant != "" {
			steps = append(steps,
				l.natStep(ctx, "iptables-"+l.Variant, "10.77.0.0/24"),
				l.natStep(ctx, "ip6tables-"+l.Variant, "fd77::/64"))
		}
	}
	for _, h := range hosts {
		h := h
		steps = append(steps, func() error {
			dev := l.hostDev()
			cmds := []string{"link set lo up", "link set " + HostIf + " up"}
			if dev != HostIf {
				cmds = append(cmds, "link set "+dev+" up")
			}
			return ipBatch(ctx, h.NS, append(cmds,
				fmt.Sprintf("addr add %s/24 dev %s", h.IP4, dev),
				fmt.Sprintf("addr add %s/64 dev %s nodad", h.IP6, dev),
				"route add default via 10.77.0.1 dev "+dev+" onlink",
				"route add default via fd77::1 dev "+dev+" onlink",
			))
		})
	}
	if err := parallel(steps...); err != nil {
		return fmt.Errorf("configuring namespaces: %w", err)
	}
	return nil
}

// hostDev is the device carrying a host's addresses: eth0, or its VLAN.
func (l *LAN) hostDev() string {
	if l.topology == TopoVLAN {
		return fmt.Sprintf("%s.%d", HostIf, VLANID)
	}
	return HostIf
}

// offloadsOff disables offloads in-process, falling back to the ethtool
// binary where the ioctl is missing: qemu-user (used to run tests as a
// MIPS or ARM router would) does not emulate SIOCETHTOOL.
func offloadsOff(ctx context.Context, ns string, devs ...string) error {
	err := disableOffloads(ns, devs...)
	if !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.ENOTTY) {
		return err
	}
	for _, dev := range devs {
		if _, err := run(ctx, nil, "ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"); err != nil {
			return err
		}
	}
	return nil
}

func (l *LAN) natStep(ctx context.Context, bin, src string) func() error {
	return func() error {
		_, err := run(ctx, nil, "ip", "netns", "exec", l.Router, bin, "-w",
			"-t", "nat", "-A", "POSTROUTING", "-s", src, "-o", WANIf, "-j", "MASQUERADE")
		return err
	}
}

// teardown deletes the LAN's namespaces and kills every process in them.
// It reports problems with Errorf: Fatal is not allowed to stop the other
// cleanups.
func (l *LAN) teardown(t testing.TB) {
	l.mu.Lock()
	names := append([]string(nil), l.names...)
	l.mu.Unlock()
	if len(names) == 0 {
		return
	}
	// Identify the namespaces before their names go: a process keeps its
	// namespace alive after `ip netns del`, and is found by inode.
	keys := netnsKeys(names)
	var del []string
	for _, ns := range names {
		del = append(del, "netns del "+ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// Names first, so a process still starting (ip netns exec opens the name
	// before joining) fails instead of joining after the scan below.
	// -force: keep deleting the rest when one is already gone.
	if _, err := run(ctx, strings.NewReader(strings.Join(del, "\n")+"\n"), "ip", "-force", "-batch", "-"); err != nil {
		t.Errorf("testlan: deleting namespaces: %v", err)
	}
	if err := killNetnsProcesses(keys); err != nil {
		t.Errorf("testlan: killing processes in %s-*: %v", l.base, err)
	}
}

type nsKey struct{ dev, ino uint64 }

// netnsKeys identifies the named namespaces that exist.
func netnsKeys(names []string) map[nsKey]bool {
	keys := map[nsKey]bool{}
	for _, ns := range names {
		var st syscall.Stat_t
		if err := syscall.Stat("/run/netns/"+ns, &st); err != nil {
			continue // never created, or already gone
		}
		keys[nsKey{uint64(st.Dev), uint64(st.Ino)}] = true
	}
	return keys
}

// killNetnsProcesses SIGKILLs every process in the namespaces want — what
// `ip netns pids` does, without a process per namespace. It rescans until
// a scan finds none (and at least twice), since a process may fork (dnsmasq
// runs its script in a child) while its parent is being killed.
func killNetnsProcesses(want map[nsKey]bool) error {
	if len(want) == 0 {
		return nil
	}
	for round := 0; ; round++ {
		found, err := killIn(want)
		if err != nil || (found == 0 && round > 0) {
			return err
		}
		if round == 50 {
			return fmt.Errorf("processes still running after %d rounds of SIGKILL", round)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killIn SIGKILLs the processes in the namespaces want and returns how many
// it found.
func killIn(want map[nsKey]bool) (int, error) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("reading /proc: %w", err)
	}
	found := 0
	var errs []error
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil {
			continue // exited meanwhile, a zombie, or a kernel thread
		}
		if want[nsKey{uint64(st.Dev), uint64(st.Ino)}] {
			found++
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
			}
		}
	}
	return found, errors.Join(errs...)
}

// Exec returns `ip netns exec NS name args...` — no shell, so arguments
// need no quoting. ip execs name in place, so cmd.Process is name itself
// and signals reach it directly.
func (l *LAN) Exec(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Run runs name in ns and returns its stdout. It fails the test, showing
// stdout and stderr, if the command fails or runs longer than two minutes.
// Call it from the test goroutine only (it may call t.Fatal).
func (l *LAN) Run(t testing.TB, ns, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	out, err := run(ctx, nil, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	if err != nil {
		t.Fatalf("testlan: in %s: %v", ns, err)
	}
	return out
}

// IPTables returns the iptables (ipv6: ip6tables) binary for the LAN's
// Variant, e.g. "iptables-nft"; with no Variant the system default.
func (l *LAN) IPTables(ipv6 bool) string {
	bin := "iptables"
	if ipv6 {
		bin = "ip6tables"
	}
	if l.Variant == "" {
		return bin
	}
	return bin + "-" + l.Variant
}

// run runs a command and returns stdout; the error carries the command
// line, stdout and stderr, so a failure explains itself.
func run(ctx context.Context, stdin *strings.Reader, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\nstdout:\n%s\nstderr:\n%s",
			name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// ipBatch runs ip commands in one process (in ns unless ns is ""): one fork
// instead of one per command keeps setup fast.
func ipBatch(ctx context.Context, ns string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), "ip", args...)
	if err != nil {
		return fmt.Errorf("ip batch [%s]: %w", strings.Join(lines, "; "), err)
	}
	return nil
}

// parallel runs fns concurrently and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func(i int, fn func() error) {
			defer wg.Done()
			errs[i] = fn()
		}(i, fn)
	}
	wg.Wait()
	return errors.Join(errs...)
}
