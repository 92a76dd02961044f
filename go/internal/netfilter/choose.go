package netfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/transferometer/transferometer/internal/uci"
)

// Kind is a way of counting: which backend runs, and for nftables where
// it counts forwarded bytes. Every decision about backends is made here,
// in terms of Kind; other packages only pass it along.
type Kind uint8

const (
	// KindIPTablesLegacy is iptables' mangle chains through the legacy
	// (x_tables) binaries.
	KindIPTablesLegacy Kind = iota + 1
	// KindIPTablesNFT is the same rules through iptables-nft.
	KindIPTablesNFT
	// KindNFTables is our own nftables tables, counting in the forward hook.
	KindNFTables
	// KindNFTablesNetdev is our own nftables tables, counting forwarded bytes
	// on the LAN devices' ingress and egress hooks (the netdev placement).
	KindNFTablesNetdev
)

var kindNames = [...]string{KindIPTablesLegacy: "iptables-legacy", KindIPTablesNFT: "iptables-nft", KindNFTables: "nftables", KindNFTablesNetdev: "nftables-netdev"}

// String is the name usage reports, e.g. "iptables-nft".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IPTables reports whether k is one of the iptables variants.
func (k Kind) IPTables() bool { return k == KindIPTablesLegacy || k == KindIPTablesNFT }

// familyIPTables is the rule family both iptables variants share.
const familyIPTables = "iptables"

// Family names the rules whose counters k reads, as the ledger records it
// next to its baselines: both iptables variants read the same mangle
// rules, while a change of placement counts different packets and so is
// a switch of backend.
func (k Kind) Family() string {
	if k.IPTables() {
		return familyIPTables
	}
	return k.String()
}

// Placement says where forwarded bytes are counted.
type Placement string

const (
	// PlacementForward counts in the forward hook.
	PlacementForward Placement = "forward"
	// PlacementNetdev counts on the LAN devices' ingress and egress hooks.
	PlacementNetdev Placement = "netdev"
)

// Placement is where k counts forwarded bytes.
func (k Kind) Placement() Placement {
	if k == KindNFTablesNetdev {
		return PlacementNetdev
	}
	return PlacementForward
}

// The values the settings take (options backend, iptables_variant and
// placement); "auto" leaves the choice to Choose.
const (
	Auto            = "auto"
	backendIPTables = "iptables"
	backendNFTables = "nftables"
	variantLegacy   = "legacy"
	variantNFT      = "nft"
)

// CheckBackendOption, CheckVariantOption and CheckPlacementOption validate
// option values for the settings parser.
func CheckBackendOption(v string) error {
	return oneOf(v, Auto, backendIPTables, backendNFTables)
}

// CheckVariantOption validates option iptables_variant.
func CheckVariantOption(v string) error { return oneOf(v, Auto, variantLegacy, variantNFT) }

// CheckPlacementOption validates option placement.
func CheckPlacementOption(v string) error {
	return oneOf(v, Auto, string(PlacementForward), string(PlacementNetdev))
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("is not one of %s", strings.Join(allowed, ", "))
}

// Want is what the settings ask for: the values of options backend,
// iptables_variant and placement ("" means auto).
type Want struct {
	Backend   string
	Variant   string
	Placement string
}

// Host is where Choose looks at the router. The zero value looks at the
// real one; tests point it elsewhere.
type Host struct {
	// ConfigDir holds the firewall's UCI file (flow offloading options).
	ConfigDir string
	// FW4Path is the file whose presence makes backend 'auto' choose
	// nftables (fw4 means an nftables firewall); "" means /sbin/fw4.
	FW4Path string
	// KernelRelease replaces /proc/sys/kernel/osrelease.
	KernelRelease string
}

// Offload is the flow offloading state of the firewall (fw3 and fw4 read
// the same options of `config defaults` in /etc/config/firewall).
type Offload struct {
	Software bool // flow_offloading '1': a flowtable in the kernel
	Hardware bool // flow_offloading_hw '1': flows handed to the switch/NIC
}

// Choice is the kind that runs, and why.
type Choice struct {
	Kind    Kind
	Reason  string // one sentence for usage and the README's table
	Offload Offload
}

// Choose decides backend and placement from what the settings want, the
// firewall's flow offloading options and the running kernel. Backend
// 'auto' is nftables where fw4 is installed (OpenWrt 22.03+, where iptables
// is an extra package), else iptables. Placement 'auto' is netdev exactly
// when software flow offloading is on (offloaded packets skip the forward
// hook) and the kernel has the netdev egress hook (Linux 5.16; OpenWrt
// 23.05 runs 5.15, 24.10 runs 6.6). Forcing netdev where it cannot work is
// an error rather than silently wrong numbers.
func Choose(w Want, h Host) (Choice, error) {
	c := Choice{Offload: ReadOffload(h.ConfigDir)}
	nft := w.Backend == backendNFTables || (w.Backend == Auto || w.Backend == "") && h.hasFW4()
	if !nft {
		k, err := iptablesKind(w.Variant)
		c.Kind = k
		if err != nil {
			return c, err
		}
		if w.Placement == string(PlacementNetdev) {
			return c, errors.New("option placement 'netdev' needs the nftables backend (option backend 'nftables', or 'auto' on fw4)")
		}
		c.Reason = "the iptables backend counts in the forward hook"
		return c, nil
	}
	c.Kind = KindNFTables
	egress, rel := h.hasEgressHook()
	switch {
	case w.Placement == string(PlacementNetdev):
		if !egress {
			return c, fmt.Errorf("option placement 'netdev' needs the netdev egress hook of Linux 5.16 or later; this kernel is %s", rel)
		}
		c.Kind, c.Reason = KindNFTablesNetdev, "option placement is 'netdev'"
	case w.Placement == string(PlacementForward):
		c.Reason = "option placement is 'forward'"
	case !c.Offload.Software:
		c.Reason = "flow offloading is off, so the forward hook sees every forwarded packet"
	case !egress:
		c.Reason = fmt.Sprintf("flow offloading is on but kernel %s has no netdev egress hook (Linux 5.16+)", rel)
	default:
		c.Kind = KindNFTablesNetdev
		c.Reason = "software flow offloading is on: offloaded packets skip the forward hook but not the LAN devices' ingress and egress hooks"
	}
	return c, nil
}

// KindOfFamily returns the kind that reads the rules of a family the
// ledger recorded (an iptables family is read through the variant the
// settings want).
func KindOfFamily(family string, w Want) (Kind, error) {
	switch family {
	case familyIPTables:
		return iptablesKind(w.Variant)
	case KindNFTables.String():
		return KindNFTables, nil
	case KindNFTablesNetdev.String():
		return KindNFTablesNetdev, nil
	}
	return 0, fmt.Errorf("backend %q is not supported", family)
}

// iptablesKind names the variant option iptables_variant selects; 'auto'
// is whichever iptables-save is on PATH (a link to xtables-nft-multi or
// to xtables-legacy-multi; an older plain binary is legacy).
func iptablesKind(variant string) (Kind, error) {
	switch variant {
	case variantLegacy:
		return KindIPTablesLegacy, nil
	case variantNFT:
		return KindIPTablesNFT, nil
	case Auto, "":
		return kindOfBinary("iptables-save"), nil
	}
	return 0, fmt.Errorf("iptables: unknown variant %q", variant)
}

// kindOfBinary tells the variant of an iptables binary on PATH by the file
// it resolves to; KindIPTablesLegacy when it cannot tell.
func kindOfBinary(name string) Kind {
	p, err := exec.LookPath(name)
	if err != nil {
		return KindIPTablesLegacy
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if strings.Contains(filepath.Base(p), "nft") {
		return KindIPTablesNFT
	}
	return KindIPTablesLegacy
}

func (h Host) hasFW4() bool {
	p := h.FW4Path
	if p == "" {
		p = "/sbin/fw4"
	}
	_, err := os.Stat(p)
	return err == nil
}

// hasEgressHook reports whether the kernel is Linux 5.16 or later, the
// first with the netdev egress hook, and the release it read.
func (h Host) hasEgressHook() (bool, string) {
	rel := h.KernelRelease
	if rel == "" {
		b, err := os.ReadFile("/proc/sys/kernel/osrelease")
		if err != nil {
			return false, "unknown"
		}
		rel = strings.TrimSpace(string(b))
	}
	major, rest, _ := strings.Cut(rel, ".")
	minor, _, _ := strings.Cut(rest, ".")
	minor = strings.TrimRightFunc(minor, func(r rune) bool { return r < '0' || r > '9' })
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false, rel
	}
	return ma > 5 || ma == 5 && mi >= 16, rel
}

// ReadOffload reads <dir>/firewall. A missing or unreadable file means no
// offloading, as on a router without a firewall package.
func ReadOffload(dir string) Offload {
	var o Offload
	if dir == "" {
		return o
	}
	f, err := uci.ParseFile(filepath.Join(dir, "firewall"))
	if err != nil {
		return o
	}
	for _, sec := range f.SectionsOfType("defaults") {
		o.Software = o.Software || isOn(sec, "flow_offloading")
		o.Hardware = o.Hardware || isOn(sec, "flow_offloading_hw")
	}
	// Hardware offloading is an addition to software offloading: fw4 only
	// sets `flags offload` on a flowtable it creates for flow_offloading.
	o.Hardware = o.Hardware && o.Software
	return o
}

// isOn reads a UCI boolean with config_get_bool's true words (its first
// word: an option's value split at blanks, as the settings read lists).
func isOn(sec *uci.Section, name string) bool {
	o, ok := sec.Get(name)
	if !ok || len(o.Values) == 0 {
		return false
	}
	words := strings.Fields(o.Values[0])
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "1", "on", "true", "yes", "enabled":
		return true
	}
	return false
}

// What to install when the kernel or the system lacks a backend's parts,
// named by package as OpenWrt ships them (opkg on 21.02-24.10, apk from
// 25.12). The package does not depend on them: a stock fw4 image has
// nftables, and the netdev placement is chosen only where it is needed.
const (
	netdevHint = "the netdev placement needs the egress hook of Linux 5.16 or later and the kernel's nftables netdev family with the fib expression: " +
		"opkg install kmod-nft-netdev kmod-nft-fib (apk add on OpenWrt 25.12), or set option placement 'forward'"
	iptablesHintFW3 = "opkg install iptables ip6tables"
	iptablesHintFW4 = "opkg install iptables-nft ip6tables-nft (apk add iptables-nft ip6tables-nft on OpenWrt 25.12), " +
		"or set option backend 'auto' to count with nftables, which fw4 already has"
)

// iptablesHint names the packages that bring iptables to this router.
func (h Host) iptablesHint() string {
	if h.hasFW4() {
		return iptablesHintFW4
	}
	return iptablesHintFW3
}

// Options are what New builds a backend with.
type Options struct {
	ChainPrefix string
	IPv6        bool
	// Variant is option iptables_variant (iptables kinds only).
	Variant string
	// LANDevice names the device whose lowest devices the netdev
	// placement counts on; asked only when that placement is built.
	LANDevice func() (string, error)
	// Prefixes are the LAN prefixes: nftables counts every address in
	// them from its first packet, and the netdev placement skips traffic
	// between them.
	Prefixes func() ([]netip.Prefix, error)
	// Host is the router, for what errors tell to install.
	Host Host
}

// New builds the backend of kind k.
func New(k Kind, o Options) (Backend, error) {
	switch k {
	case KindIPTablesLegacy, KindIPTablesNFT:
		return NewIPTables(IPTablesOptions{ChainPrefix: o.ChainPrefix, Variant: o.Variant, IPv6: o.IPv6, Install: o.Host.iptablesHint(), Prefixes: o.Prefixes})
	case KindNFTables:
		return NewNFTables(NFTablesOptions{ChainPrefix: o.ChainPrefix, IPv6: o.IPv6, Prefixes: o.Prefixes})
	case KindNFTablesNetdev:
		if o.LANDevice == nil {
			return nil, errors.New("nftables: the netdev placement needs a LAN device")
		}
		dev, err := o.LANDevice()
		if err != nil {
			return nil, err
		}
		return NewNFTables(NFTablesOptions{ChainPrefix: o.ChainPrefix, IPv6: o.IPv6,
			Netdev: &NetdevOptions{LANDevice: dev, Prefixes: o.Prefixes}})
	}
	return nil, fmt.Errorf("backend %v is not supported", k)
}
