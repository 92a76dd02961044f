package netfilter

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/transferometer/transferometer/internal/counter"
)

// NFTables is the native nftables backend (netlink through
// github.com/google/nftables; no nft binary). Each family gets its own
// table — `table ip NAME` and `table ip6 NAME`, never fw4's `inet fw4` —
// holding:
//
//   - sets `up` and `down` of host addresses whose elements carry a counter
//     (nft: `set up { type ipv4_addr; counter; }`): one hash lookup per
//     packet however many hosts there are, where iptables walks one rule
//     per host;
//   - chain `forward` (hook forward) with `ip saddr @up` and `ip daddr @down`:
//     the lookup's matching element counts the packet;
//   - chains `input`/`output` with `iifname != "lo" counter` and
//     `oifname != "lo" counter`, the router's own traffic.
//
// All chains sit at priority mangle (-150), like the iptables backend's
// mangle chains: at the forward hook a packet already carries its LAN
// destination (de-NAT happened in prerouting) and still its LAN source
// (SNAT happens in postrouting), so both directions see real LAN addresses
// under NAT. They only count (no verdict), so their priority relative to
// fw4's filter chains (0) does not change what fw4 decides.
//
// Counters are never reset (nft cannot reset one element): the ledger's
// baselines make counting lossless, as with iptables.
//
// Addresses nobody told us of yet are counted from their first packet: the
// host sets are dynamic (`flags dynamic`, bounded by `size`), and for a
// packet whose LAN-side address lies in a LAN prefix the rule adds the
// address with a counter of its own (`ip saddr P add @up { ip saddr
// counter }`; an element that exists, from Sync or an earlier packet, just
// counts). Which kernel takes which form, read in the kernel sources:
//
//   - A set-level counter (`set up { ...; counter; }`, NFTA_SET_EXPR) is
//     Linux 5.7 (65038428b2c6): elements added from userspace get a copy,
//     and a lookup that matches an element runs it. That is what Sync's
//     elements and the lookup rules below rely on.
//   - A counter on the dynset statement itself (NFTA_DYNSET_EXPR, which
//     google/nftables v0.3.0 sends for a one-element expr.Dynset.Exprs)
//     is in 5.10's nft_dynset.c (and older); the set must carry NFT_SET_EVAL
//     (nftables.Set.Dynamic) and, when it has a set-level expression, of
//     the same type. Elements the statement creates get that counter, and
//     one that exists (also one Sync added) runs its own. This is the form
//     used here: it works on OpenWrt 22.03's 5.10 and every later kernel.
//   - `update @up { ip saddr }` with only the set-level counter (no
//     expression on the statement) gives created elements the set's
//     counter only since fca05d4d61e6 ("nft_dynset: honor stateful
//     expressions in set definition", 5.11-rc, backported to 5.10.y only
//     in 2025, after the last OpenWrt 22.03 kernel); 5.10 before that
//     creates elements with no counter at all. Not used.
//   - The statement's operation is NFT_DYNSET_OP_ADD (nft's `add @set`):
//     5.10 refuses OP_UPDATE on a set without timeouts.
//
// Only packets that cannot be forged from the WAN create elements: a
// download (LAN address as destination) only when conntrack has seen the
// flow's other direction (`ct state established,related`), so a scan of
// the LAN's IPv6 prefix, which fw4 drops after our chain has seen it,
// creates nothing; the first packet of a flow opened from the WAN is
// counted only if the address already has its element. Uploads are taken
// by their source address alone (the forward hook does not know which side
// is the LAN), so the LAN prefixes must not cover WAN-side addresses; the
// set's bound caps what forged sources can add. Where the kernel
// refuses the dynamic form (detected once, by the batch failing) the
// backend falls back to the static sets of before and says so
// (CountsUnknownAddresses, a note on every Sync).
type NFTables struct {
	table    string
	families []nftFamily
	netns    int
	netdev   *NetdevOptions // nil: the forward placement
	prefixes func() ([]netip.Prefix, error)
	setSize  uint32
	dynamic  dynState
	// refuseDynamic makes the dynamic form one the kernel refuses (tests
	// of the fallback on a kernel that has the feature).
	refuseDynamic bool
}

// dynState is what this process learned of the kernel's dynamic sets.
type dynState uint8

const (
	dynUnknown dynState = iota // not tried yet
	dynWorks                   // a batch with dynamic sets or rules went in
	dynRefused                 // refused: static sets, Sync's addresses only
)

// DefaultSetSize bounds each host set (up, down, and up4...down6 in the
// netdev table): the kernel's own default for a set filled by packets.
// Sync deletes every element the core no longer wants, so the bound is
// reached only by a LAN that sends from that many addresses between two
// collections; packets of further addresses are then not counted until
// Sync makes room.
const DefaultSetSize = 65535

// CountsUnknownAddresses reports whether packets create their address's
// elements (false once the kernel refused the dynamic sets: only addresses
// given to Sync are counted).
func (n *NFTables) CountsUnknownAddresses() bool { return n.dynamic != dynRefused }

type nftFamily struct {
	fam nftables.TableFamily
	v6  bool
	// active is false for IPv6 with option ipv6 '0': read (to credit what
	// it counted) and torn down, but given no table.
	active bool
}

// NFTablesOptions names the tables and says whether IPv6 is accounted.
type NFTablesOptions struct {
	// ChainPrefix, lowercased, is the table name (nft names are
	// conventionally lowercase; fw4 uses "fw4").
	ChainPrefix string
	IPv6        bool
	// NetNS is an open network namespace fd to work in (tests drive a
	// router namespace from outside); 0 means the process's own.
	NetNS int
	// Netdev, when set, counts hosts on the LAN devices' netdev hooks
	// (see nftables_netdev.go) instead of the forward hook.
	Netdev *NetdevOptions
	// Prefixes returns the LAN prefixes, asked at each Sync (the forward
	// placement; the netdev placement asks NetdevOptions.Prefixes): a
	// packet whose LAN-side address lies in one creates the address's
	// elements. Nil, or none of a family, counts only Sync's addresses.
	Prefixes func() ([]netip.Prefix, error)
	// SetSize bounds each host set; 0 means DefaultSetSize.
	SetSize uint32
}

// NewNFTables checks the options. It opens no socket: each call does.
func NewNFTables(o NFTablesOptions) (*NFTables, error) {
	if o.ChainPrefix == "" {
		return nil, errors.New("nftables: empty chain prefix")
	}
	if o.Netdev != nil && o.Netdev.LANDevice == "" {
		return nil, errors.New("nftables: the netdev placement needs a LAN device")
	}
	size := o.SetSize
	if size == 0 {
		size = DefaultSetSize
	}
	return &NFTables{
		table:    strings.ToLower(o.ChainPrefix),
		netns:    o.NetNS,
		netdev:   o.Netdev,
		prefixes: o.Prefixes,
		setSize:  size,
		families: []nftFamily{
			{fam: nftables.TableFamilyIPv4, active: true},
			{fam: nftables.TableFamilyIPv6, v6: true, active: o.IPv6},
		},
	}, nil
}

// conn opens one netlink socket for a whole read or batch.
func (n *NFTables) conn() (*nftables.Conn, error) {
	// Every message of a batch is acknowledged with the request echoed
	// back: a batch adding thousands of set elements gets acks as large as
	// itself, which overflow the default receive buffer (ENOBUFS at 4096
	// hosts). A larger one (forced: we run as root; best effort) holds them.
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigReceiveBuffer)}
	if n.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(n.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	return c, nil
}

// nftRcvBuf holds the acknowledgements of a batch for about 16k hosts.
const nftRcvBuf = 8 << 20

func bigReceiveBuffer(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	_ = raw.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nftRcvBuf) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, nftRcvBuf)
		}
	})
	return nil
}

// Kind implements Backend.
func (n *NFTables) Kind() Kind {
	if n.netdev != nil {
		return KindNFTablesNetdev
	}
	return KindNFTables
}

// Table returns the name of our table in each family.
func (n *NFTables) Table() string { return n.table }

const (
	nftSetUp    = "up"
	nftSetDown  = "down"
	nftForward  = "forward"
	nftInput    = "input"
	nftOutput   = "output"
	nftPriority = nftables.ChainPriority(-150) // mangle: see the type comment
)

// nftChainSpec is what each of our chains must be.
var nftChainSpecs = [...]struct {
	name string
	hook nftables.ChainHook
}{
	{nftForward, *nftables.ChainHookForward},
	{nftInput, *nftables.ChainHookInput},
	{nftOutput, *nftables.ChainHookOutput},
}

// nftState is what one read of a family's table told us.
type nftState struct {
	table *nftables.Table // nil: absent
	// broken is set when a chain or set of ours has the wrong shape (made
	// by hand, or by an older version): the table is then re-created.
	broken bool
	sets   map[string]*nftables.Set
	chains map[string]bool
	elems  map[counter.Key]bool
	// good holds the handles of our well-formed router rules per purpose
	// ("input", "output"); stray holds every other rule in those chains,
	// to be deleted. fwd is the forward chain's rules, compared whole
	// (they hold no counters: those are in the set elements).
	good  map[string][]*nftables.Rule
	stray []*nftables.Rule
	fwd   []*nftables.Rule
}

type nftPlan struct {
	fams []*nftState
	nd   *ndState // the netdev table (netdev placement only)
}

// chainSpecs lists the chains each family table must have: in the netdev
// placement only the router's input and output.
func (n *NFTables) chainSpecs() []struct {
	name string
	hook nftables.ChainHook
} {
	if n.netdev != nil {
		return nftChainSpecs[1:]
	}
	return nftChainSpecs[:]
}

// Read dumps each family's table: its sets' elements with their counters
// and its chains' rules with theirs, on one netlink socket.
func (n *NFTables) Read(ctx context.Context) (*Snapshot, error) {
	snap := &Snapshot{Counters: make(map[counter.Key]counter.Counter)}
	p := &nftPlan{}
	c, err := n.conn()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	for _, f := range n.families {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := n.readFamily(c, f, snap.Counters)
		if err != nil {
			return nil, fmt.Errorf("nftables: read %s %s: %w", famName(f), n.table, err)
		}
		p.fams = append(p.fams, st)
	}
	if n.netdev != nil {
		nd, err := n.readNetdev(c, snap.Counters)
		if err != nil {
			return nil, fmt.Errorf("nftables: read netdev %s: %w", n.table, err)
		}
		p.nd = nd
	}
	snap.plan = p
	return snap, nil
}

func famName(f nftFamily) string {
	if f.v6 {
		return "ip6"
	}
	return "ip"
}

func (n *NFTables) readFamily(c *nftables.Conn, f nftFamily, counters map[counter.Key]counter.Counter) (*nftState, error) {
	st := &nftState{sets: map[string]*nftables.Set{}, chains: map[string]bool{}, elems: map[counter.Key]bool{}, good: map[string][]*nftables.Rule{}}
	var chains []*nftables.Chain
	var err error
	if st.table, chains, err = n.ourTable(c, f.fam); err != nil || st.table == nil {
		return st, err
	}
	for _, ch := range chains {
		st.chains[ch.Name] = true
		want := false
		for _, s := range n.chainSpecs() {
			if s.name == ch.Name {
				want = true
				if ch.Hooknum == nil || *ch.Hooknum != s.hook || ch.Priority == nil || *ch.Priority != nftPriority || ch.Type != nftables.ChainTypeFilter {
					st.broken = true
				}
			}
		}
		if !want {
			st.broken = true // not ours: start over
		}
	}
	sets, err := c.GetSets(st.table)
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	keyType := nftables.TypeIPAddr
	if f.v6 {
		keyType = nftables.TypeIP6Addr
	}
	for _, s := range sets {
		if n.netdev != nil || (s.Name != nftSetUp && s.Name != nftSetDown) || s.KeyType.GetNFTMagic() != keyType.GetNFTMagic() || s.IsMap || s.Interval {
			st.broken = true
			continue
		}
		st.sets[s.Name] = s
		kind := counter.Upload
		if s.Name == nftSetDown {
			kind = counter.Download
		}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("list set %s: %w", s.Name, err)
		}
		for _, e := range elems {
			a, ok := netip.AddrFromSlice(e.Key)
			if !ok || a.Is6() != f.v6 {
				continue
			}
			if e.Counter == nil {
				// A set without per-element counters counts nothing.
				st.broken = true
			}
			k := counter.Key{Kind: kind, Addr: a}
			st.elems[k] = true
			if e.Counter != nil {
				counters[k] = counter.Counter{Packets: e.Counter.Packets, Bytes: e.Counter.Bytes}
			} else {
				counters[k] = counter.Counter{}
			}
		}
	}
	unspec := netip.IPv4Unspecified()
	if f.v6 {
		unspec = netip.IPv6Unspecified()
	}
	for _, s := range n.chainSpecs() {
		if !st.chains[s.name] {
			continue
		}
		rules, err := c.GetRules(st.table, &nftables.Chain{Name: s.name, Table: st.table})
		if err != nil {
			return nil, fmt.Errorf("list chain %s: %w", s.name, err)
		}
		if s.name == nftForward {
			st.fwd = rules
			continue
		}
		for _, r := range rules {
			purpose, cnt := classifyRule(s.name, r.Exprs, f.v6)
			if purpose == "" {
				st.stray = append(st.stray, r)
				continue
			}
			st.good[purpose] = append(st.good[purpose], r)
			if purpose == nftInput || purpose == nftOutput {
				kind := counter.RouterIn
				if purpose == nftOutput {
					kind = counter.RouterOut
				}
				// Duplicates (outside interference) are summed, so
				// no counted byte is dropped before Sync removes them.
				k := counter.Key{Kind: kind, Addr: unspec}
				old := counters[k]
				counters[k] = counter.Counter{Packets: old.Packets + cnt.Packets, Bytes: old.Bytes + cnt.Bytes}
			}
		}
	}
	return st, nil
}

// ourTable finds our table in family fam (nil when absent) and its chains.
func (n *NFTables) ourTable(c *nftables.Conn, fam nftables.TableFamily) (*nftables.Table, []*nftables.Chain, error) {
	tables, err := c.ListTablesOfFamily(fam)
	if err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	var table *nftables.Table
	for _, t := range tables {
		if t.Name == n.table {
			table = t
		}
	}
	if table == nil {
		return nil, nil, nil
	}
	all, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return nil, nil, fmt.Errorf("list chains: %w", err)
	}
	var chains []*nftables.Chain
	for _, ch := range all {
		if ch.Table != nil && ch.Table.Name == n.table {
			chains = append(chains, ch)
		}
	}
	return table, chains, nil
}

// classifyRule names the purpose of one of our rules ("" if it is not one
// we write) and returns its counter.
func classifyRule(chain string, ex []expr.Any, v6 bool) (string, counter.Counter) {
	want := map[string][]expr.Any{}
	switch chain {
	case nftInput:
		want[nftInput] = routerRuleExprs(nftInput)
	case nftOutput:
		want[nftOutput] = routerRuleExprs(nftOutput)
	}
	for purpose, w := range want {
		if len(ex) != len(w) {
			continue
		}
		var cnt counter.Counter
		same := true
		for i := range ex {
			if c, ok := ex[i].(*expr.Counter); ok {
				if _, ok := w[i].(*expr.Counter); !ok {
					same = false
				}
				cnt = counter.Counter{Packets: c.Packets, Bytes: c.Bytes}
				continue
			}
			if !sameExpr(ex[i], w[i]) {
				same = false
			}
		}
		if same {
			return purpose, cnt
		}
	}
	return "", counter.Counter{}
}

// sameExpr compares the parts of an expression that decide what it
// matches (set IDs and handles are the kernel's business).
func sameExpr(a, b expr.Any) bool {
	switch x := a.(type) {
	case *expr.Payload:
		y, ok := b.(*expr.Payload)
		return ok && x.Base == y.Base && x.Offset == y.Offset && x.Len == y.Len && x.DestRegister == y.DestRegister && x.OperationType == y.OperationType
	case *expr.Lookup:
		y, ok := b.(*expr.Lookup)
		return ok && x.SetName == y.SetName && x.SourceRegister == y.SourceRegister && x.Invert == y.Invert && !x.IsDestRegSet
	case *expr.Meta:
		y, ok := b.(*expr.Meta)
		return ok && x.Key == y.Key && x.Register == y.Register && !x.SourceRegister
	case *expr.Cmp:
		y, ok := b.(*expr.Cmp)
		return ok && x.Op == y.Op && x.Register == y.Register && bytes.Equal(x.Data, y.Data)
	case *expr.Bitwise:
		y, ok := b.(*expr.Bitwise)
		return ok && x.SourceRegister == y.SourceRegister && x.DestRegister == y.DestRegister && x.Len == y.Len && bytes.Equal(x.Mask, y.Mask) && bytes.Equal(x.Xor, y.Xor)
	case *expr.Fib:
		y, ok := b.(*expr.Fib)
		return ok && *x == *y
	case *expr.Verdict:
		y, ok := b.(*expr.Verdict)
		return ok && x.Kind == y.Kind && x.Chain == y.Chain
	case *expr.Ct:
		y, ok := b.(*expr.Ct)
		return ok && x.Key == y.Key && x.Register == y.Register && x.SourceRegister == y.SourceRegister && x.Direction == y.Direction
	case *expr.Dynset:
		// Its counter is not compared: kernels since 5.11 do not list a
		// statement's expression when the set has one of its own.
		y, ok := b.(*expr.Dynset)
		return ok && x.SetName == y.SetName && x.SrcRegKey == y.SrcRegKey && x.SrcRegData == y.SrcRegData &&
			x.Operation == y.Operation && x.Invert == y.Invert && x.Timeout == y.Timeout
	}
	return false
}

// lookupRule is `ip saddr @up` / `ip daddr @down` (ip6 likewise).
func lookupRule(set string, setID uint32, v6 bool) []expr.Any {
	// Offsets in the IPv4 header: saddr 12, daddr 16 (4 bytes); IPv6:
	// saddr 8, daddr 24 (16 bytes).
	off, l := uint32(12), uint32(4)
	if v6 {
		off, l = 8, 16
	}
	if set == nftSetDown {
		off += l
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l},
		&expr.Lookup{SourceRegister: 1, SetName: set, SetID: setID},
	}
}

// routerRuleExprs is `iifname != "lo" counter` / `oifname != "lo" counter`:
// loopback (LuCI talking to rpcd) is not traffic anyone pays for.
func routerRuleExprs(chain string) []expr.Any {
	key := expr.MetaKeyIIFNAME
	if chain == nftOutput {
		key = expr.MetaKeyOIFNAME
	}
	lo := make([]byte, 16) // IFNAMSIZ, zero-padded, as nft writes it
	copy(lo, "lo")
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: lo},
		&expr.Counter{},
	}
}

// Sync sends one netlink batch per family that needs a change.
func (n *NFTables) Sync(ctx context.Context, snap *Snapshot, hosts []netip.Addr) (Changes, error) {
	var ch Changes
	p, ok := snap.plan.(*nftPlan)
	if !ok || len(p.fams) != len(n.families) {
		return ch, errors.New("nftables: snapshot is not from this backend")
	}
	want := map[netip.Addr]bool{}
	for _, h := range hosts {
		want[h] = true
	}
	var prefixes []netip.Prefix
	if n.netdev == nil && n.prefixes != nil {
		var err error
		if prefixes, err = n.prefixes(); err != nil {
			// Sync's addresses are still counted, by lookup.
			ch.Notes = append(ch.Notes, Note{Code: NoteFirstPacket, Message: fmt.Sprintf("LAN prefixes unknown (%v): counting only addresses the events gave", err)})
			prefixes = nil
		}
	}
	c, err := n.conn()
	if err != nil {
		return ch, err
	}
	defer c.CloseLasting()
	for i, f := range n.families {
		if err := ctx.Err(); err != nil {
			return ch, err
		}
		st := p.fams[i]
		if !f.active {
			if st.table != nil {
				c.DelTable(st.table)
				ch.Structural++
				if err := c.Flush(); err != nil {
					return ch, fmt.Errorf("nftables: delete table %s %s: %w", famName(f), n.table, err)
				}
				ch.Batches++
			}
			continue
		}
		sub, err := n.withFallback(func(dyn bool) (Changes, bool, error) {
			var sub Changes
			adds, dels, msgs, used, err := n.syncFamily(c, f, st, want, prefixes, dyn, &sub)
			if err != nil || msgs == 0 {
				return sub, used, err
			}
			if err := c.Flush(); err != nil {
				return sub, used, fmt.Errorf("nftables: update table %s %s: %w", famName(f), n.table, err)
			}
			sub.Batches++
			sub.Added, sub.Removed = adds, dels
			return sub, used, nil
		})
		ch.merge(sub)
		if err != nil {
			return ch, err
		}
	}
	if n.netdev != nil {
		if err := n.syncNetdevBatch(ctx, c, p.nd, want, &ch); err != nil {
			return ch, err
		}
	}
	if n.dynamic == dynRefused {
		ch.Notes = append(ch.Notes, Note{Code: NoteFirstPacket, Message: staticSetsNote})
	}
	return ch, nil
}

// staticSetsNote is the Changes note of a kernel that refused the sets
// filled by packets: only the addresses Sync gave are counted.
const staticSetsNote = "this kernel refused host sets filled by packets (a dynamic set whose add statement carries a counter): " +
	"only addresses the events gave are counted, from their event on"

func (ch *Changes) merge(o Changes) {
	ch.Added = append(ch.Added, o.Added...)
	ch.Removed = append(ch.Removed, o.Removed...)
	ch.Structural += o.Structural
	ch.Batches += o.Batches
	ch.Notes = append(ch.Notes, o.Notes...)
}

// withFallback runs batch (which queues and flushes one batch, reporting
// whether it holds dynamic sets or rules) in the dynamic form, unless the
// kernel refused that form before. The first time a dynamic batch is
// refused for a missing feature, it runs again in the static form: if the
// kernel takes that, the refusal holds for the rest of the process. A
// failed batch changed nothing (a batch is one transaction).
func (n *NFTables) withFallback(batch func(dyn bool) (Changes, bool, error)) (Changes, error) {
	dyn := n.dynamic != dynRefused
	sub, used, err := batch(dyn)
	if err == nil {
		if used && n.dynamic == dynUnknown {
			n.dynamic = dynWorks
		}
		return sub, nil
	}
	if !dyn || !used || n.dynamic != dynUnknown || !featureMissing(err) {
		return sub, err
	}
	sub2, _, err2 := batch(false)
	if err2 != nil {
		return sub2, err
	}
	n.dynamic = dynRefused
	return sub2, nil
}

// featureMissing tells a kernel refusing what it does not have (an
// unknown attribute value or expression) from other failures.
func featureMissing(err error) bool {
	for _, e := range []error{unix.EOPNOTSUPP, unix.EINVAL, unix.ENOENT, unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// hostSet is one of our host sets: a counter per element and, in the
// dynamic form, the flag that lets packets add elements and the bound.
func (n *NFTables) hostSet(t *nftables.Table, name string, v6, dyn bool) *nftables.Set {
	s := &nftables.Set{Table: t, Name: name, KeyType: keyTypeOf(v6), Counter: true}
	if dyn {
		s.Dynamic, s.Size = true, n.setSize
	}
	return s
}

// setFits reports whether an existing set has the form wanted (a set of
// the other form is replaced with its table, after Read credited it).
func (n *NFTables) setFits(s *nftables.Set, dyn bool) bool {
	if !dyn {
		return !s.Dynamic
	}
	return s.Dynamic && s.Size == n.setSize
}

// familyPrefixes returns the prefixes of one family in which packets
// create elements (masked; never link-local or multicast).
func familyPrefixes(ps []netip.Prefix, v6 bool) []netip.Prefix {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for _, p := range ps {
		a := p.Addr()
		if !p.IsValid() || a.Is6() != v6 || a.Is4In6() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsLoopback() {
			continue
		}
		if m := p.Masked(); !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// uncovered reports whether a wanted host of the family lies outside
// every prefix: it is then counted by lookup (the core never gives one;
// tests and a LAN that changed under it might).
func uncovered(want map[netip.Addr]bool, ps []netip.Prefix, v6 bool) bool {
	for h := range want {
		if h.Is6() != v6 {
			continue
		}
		in := false
		for _, p := range ps {
			in = in || p.Contains(h)
		}
		if !in {
			return true
		}
	}
	return false
}

// addrMatch loads the source (or destination, dst) address into register
// 1 and compares it, masked into register 2, with p (op: eq or neq):
// register 1 keeps the address for the dynset statement after it.
func addrMatch(p netip.Prefix, dst bool, op expr.CmpOp) []expr.Any {
	off, l := uint32(12), uint32(4)
	if p.Addr().Is6() {
		off, l = 8, 16
	}
	if dst {
		off += l
	}
	ex := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l}}
	reg := uint32(1)
	if p.Bits() < p.Addr().BitLen() {
		m := make([]byte, l)
		for i := 0; i < p.Bits(); i++ {
			m[i/8] |= 0x80 >> (i % 8)
		}
		ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 2, Len: l, Mask: m, Xor: make([]byte, l)})
		reg = 2
	}
	return append(ex, &expr.Cmp{Op: op, Register: reg, Data: p.Addr().AsSlice()})
}

// addElement is `add @set { ip saddr counter }` (the key in register 1):
// the address's element is created if missing, and its counter counts.
func (n *NFTables) addElement(set string, id uint32) *expr.Dynset {
	op := uint32(unix.NFT_DYNSET_OP_ADD)
	if n.refuseDynamic {
		op = 0xff // no such operation: EOPNOTSUPP from every kernel
	}
	return &expr.Dynset{SrcRegKey: 1, SetName: set, SetID: id, Operation: op, Exprs: []expr.Any{&expr.Counter{}}}
}

// ctReplied is `ct state established,related`: conntrack has seen the
// other direction of the flow (or the packet belongs to one that has).
func ctReplied() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 3, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 3, DestRegister: 3, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 3, Data: make([]byte, 4)},
	}
}

// forwardRules returns the forward chain's rules for one family. Static
// form (or no LAN prefix of the family): `ip saddr @up`, `ip daddr @down`.
// Dynamic form, per LAN prefix P:
//
//	ip saddr P add @up { ip saddr counter }
//	ip daddr P ct state established,related add @down { ip daddr counter } accept
//	ip daddr @down
//
// An upload's source and a download's destination may both be LAN
// addresses (one LAN prefix to another), so the upload rules end in no
// verdict; the download rule's accept (which ends only this chain) keeps
// the closing lookup, which counts the elements that exist (a flow opened
// from the WAN, Sync's addresses outside every prefix), from counting a
// packet twice. Sync's addresses outside every prefix also get `ip saddr
// != P ... ip saddr @up`.
func (n *NFTables) forwardRules(v6 bool, ps []netip.Prefix, outside bool, sets map[string]*nftables.Set, dyn bool) [][]expr.Any {
	id := func(name string) uint32 {
		if s := sets[name]; s != nil {
			return s.ID
		}
		return 0
	}
	if !dyn || len(ps) == 0 {
		return [][]expr.Any{lookupRule(nftSetUp, id(nftSetUp), v6), lookupRule(nftSetDown, id(nftSetDown), v6)}
	}
	var rules [][]expr.Any
	for _, p := range ps {
		rules = append(rules, append(addrMatch(p, false, expr.CmpOpEq), n.addElement(nftSetUp, id(nftSetUp))))
	}
	if outside {
		var r []expr.Any
		for _, p := range ps {
			r = append(r, addrMatch(p, false, expr.CmpOpNeq)...)
		}
		rules = append(rules, append(r, lookupRule(nftSetUp, id(nftSetUp), v6)...))
	}
	for _, p := range ps {
		r := append(addrMatch(p, true, expr.CmpOpEq), ctReplied()...)
		rules = append(rules, append(r, n.addElement(nftSetDown, id(nftSetDown)), &expr.Verdict{Kind: expr.VerdictAccept}))
	}
	return append(rules, lookupRule(nftSetDown, id(nftSetDown), v6))
}

// hasDynset reports whether rules add elements from the packet path.
func hasDynset(rules [][]expr.Any) bool {
	for _, r := range rules {
		for _, e := range r {
			if _, ok := e.(*expr.Dynset); ok {
				return true
			}
		}
	}
	return false
}

// syncFamily queues the changes of one family and returns how many
// messages it queued and whether they hold dynamic sets or rules.
func (n *NFTables) syncFamily(c *nftables.Conn, f nftFamily, st *nftState, want map[netip.Addr]bool, prefixes []netip.Prefix, dyn bool, ch *Changes) (adds, dels []netip.Addr, msgs int, used bool, err error) {
	setNames, purposes := []string{nftSetUp, nftSetDown}, []string{nftInput, nftOutput}
	if n.netdev != nil {
		// Hosts are counted in the netdev table; this one holds the
		// router's own counters only.
		setNames = nil
	}
	fresh := st.table == nil || st.broken
	for _, name := range setNames {
		if s := st.sets[name]; s != nil && !n.setFits(s, dyn) {
			fresh = true
		}
	}
	if fresh && st.table != nil {
		// Everything in it was read and credited; the re-created table
		// starts at zero, which the baselines take as new counters.
		c.DelTable(st.table)
		msgs++
	}
	t := &nftables.Table{Name: n.table, Family: f.fam}
	if fresh {
		c.AddTable(t)
		msgs++
		ch.Structural++
	}
	sets := map[string]*nftables.Set{}
	for _, name := range setNames {
		if s := st.sets[name]; s != nil && !fresh {
			s.Table = t
			sets[name] = s
			continue
		}
		s := n.hostSet(t, name, f.v6, dyn)
		if err := c.AddSet(s, nil); err != nil {
			return nil, nil, 0, false, fmt.Errorf("nftables: set %s: %w", name, err)
		}
		sets[name] = s
		msgs++
		ch.Structural++
		used = used || dyn
	}
	for _, spec := range n.chainSpecs() {
		if st.chains[spec.name] && !fresh {
			continue
		}
		hook := spec.hook
		prio := nftPriority
		c.AddChain(&nftables.Chain{Name: spec.name, Table: t, Hooknum: &hook, Priority: &prio, Type: nftables.ChainTypeFilter})
		msgs++
		ch.Structural++
	}
	if !fresh {
		for _, r := range st.stray {
			r.Table = t
			if err := c.DelRule(r); err != nil {
				return nil, nil, 0, false, fmt.Errorf("nftables: delete stray rule: %w", err)
			}
			msgs++
			ch.Structural++
		}
	}
	for _, purpose := range purposes {
		var have []*nftables.Rule
		if !fresh {
			have = st.good[purpose]
		}
		if len(have) == 0 {
			c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: purpose, Table: t}, Exprs: routerRuleExprs(purpose)})
			msgs++
			ch.Structural++
			continue
		}
		for _, r := range have[1:] {
			r.Table = t
			if err := c.DelRule(r); err != nil {
				return nil, nil, 0, false, fmt.Errorf("nftables: delete duplicate rule: %w", err)
			}
			msgs++
			ch.Structural++
		}
	}
	if n.netdev == nil {
		ps := familyPrefixes(prefixes, f.v6)
		rules := n.forwardRules(f.v6, ps, uncovered(want, ps, f.v6), sets, dyn)
		chain := &nftables.Chain{Name: nftForward, Table: t}
		rewrite := false
		switch {
		case fresh || !st.chains[nftForward]:
		case sameRules(st.fwd, rules):
			rules = nil
		default:
			// No counters in these rules: replacing them loses nothing.
			c.FlushChain(chain)
			msgs++
			ch.Structural++
			rewrite = true
		}
		for _, ex := range rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: ex})
			msgs++
			if !rewrite {
				ch.Structural++
			}
		}
		used = used || hasDynset(rules)
	}
	// Elements: exactly the wanted hosts of this family in both sets.
	// Deletions go first: the set's bound counts what the batch removes.
	present := map[netip.Addr]bool{}
	if !fresh {
		for k := range st.elems {
			present[k.Addr] = true
		}
	}
	for _, name := range setNames {
		kind := counter.Upload
		if name == nftSetDown {
			kind = counter.Download
		}
		var add, del []nftables.SetElement
		for _, h := range sortedAddrs(want) {
			if h.Is6() == f.v6 && (fresh || !st.elems[counter.Key{Kind: kind, Addr: h}]) {
				add = append(add, nftables.SetElement{Key: h.AsSlice()})
			}
		}
		for _, h := range sortedAddrs(present) {
			if !want[h] && !fresh && st.elems[counter.Key{Kind: kind, Addr: h}] {
				del = append(del, nftables.SetElement{Key: h.AsSlice()})
			}
		}
		if len(del) > 0 {
			if err := setElements(c.SetDeleteElements, sets[name], del); err != nil {
				return nil, nil, 0, false, fmt.Errorf("nftables: delete from set %s: %w", name, err)
			}
			msgs++
		}
		if len(add) > 0 {
			if err := setElements(c.SetAddElements, sets[name], add); err != nil {
				return nil, nil, 0, false, fmt.Errorf("nftables: add to set %s: %w", name, err)
			}
			msgs++
		}
	}
	if n.netdev != nil {
		return nil, nil, msgs, used, nil
	}
	for _, h := range sortedAddrs(want) {
		if h.Is6() == f.v6 && (fresh || !st.elems[counter.Key{Kind: counter.Upload, Addr: h}] || !st.elems[counter.Key{Kind: counter.Download, Addr: h}]) {
			adds = append(adds, h)
		}
	}
	for _, h := range sortedAddrs(present) {
		if !want[h] {
			dels = append(dels, h)
		}
	}
	return adds, dels, msgs, used, nil
}

// Teardown deletes our table in each family, in one batch, touching
// nothing else.
func (n *NFTables) Teardown(ctx context.Context) error {
	snap, err := n.Read(ctx)
	if err != nil {
		return err
	}
	c, err := n.conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	p := snap.plan.(*nftPlan)
	for _, st := range p.fams {
		if st.table != nil {
			c.DelTable(st.table)
		}
	}
	if p.nd != nil && p.nd.table != nil {
		c.DelTable(p.nd.table)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete tables %s: %w", n.table, err)
	}
	return nil
}

// elemChunk bounds the elements of one message: their list is one netlink
// attribute, whose length is 16 bits (4096 IPv4 elements overflow it, and
// the kernel then reads a truncated list).
const elemChunk = 512

// setElements queues elems for s in messages of at most elemChunk elements,
// all in the same batch (so still one transaction).
func setElements(op func(*nftables.Set, []nftables.SetElement) error, s *nftables.Set, elems []nftables.SetElement) error {
	for len(elems) > 0 {
		n := min(len(elems), elemChunk)
		if err := op(s, elems[:n]); err != nil {
			return err
		}
		elems = elems[n:]
	}
	return nil
}
