package netfilter

import (
	"bytes"
	"context"
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
type NFTables struct {
	table    string
	families []nftFamily
	netns    int
	netdev   *NetdevOptions // nil: the forward placement
}

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
}

// NewNFTables checks the options. It opens no socket: each call does.
func NewNFTables(o NFTablesOptions) (*NFTables, error) {
	if o.ChainPrefix == "" {
		return nil, errors.New("nftables: empty chain prefix")
	}
	if o.Netdev != nil && o.Netdev.LANDevice == "" {
		return nil, errors.New("nftables: the netdev placement needs a LAN device")
	}
	return &NFTables{
		table:  strings.ToLower(o.ChainPrefix),
		netns:  o.NetNS,
		netdev: o.Netdev,
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
	// good holds the handles of our well-formed rules per purpose
	// ("up", "down", "input", "output"); stray holds every other rule in
	// our chains, to be deleted.
	good  map[string][]*nftables.Rule
	stray []*nftables.Rule
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
	case nftForward:
		want[nftSetUp] = lookupRule(nftSetUp, 0, v6)
		want[nftSetDown] = lookupRule(nftSetDown, 0, v6)
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
		msgs := 0
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
		adds, dels, k, err := n.syncFamily(c, f, st, want, &ch)
		if err != nil {
			return ch, err
		}
		msgs += k
		if msgs == 0 {
			continue
		}
		if err := c.Flush(); err != nil {
			return ch, fmt.Errorf("nftables: update table %s %s: %w", famName(f), n.table, err)
		}
		ch.Batches++
		ch.Added = append(ch.Added, adds...)
		ch.Removed = append(ch.Removed, dels...)
	}
	if n.netdev != nil {
		if err := n.syncNetdevBatch(ctx, c, p.nd, want, &ch); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// syncNetdevBatch brings the netdev table in line in one batch (none when
// nothing changes).
func (n *NFTables) syncNetdevBatch(ctx context.Context, c *nftables.Conn, st *ndState, want map[netip.Addr]bool, ch *Changes) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sc, err := n.netdevScope()
	if err != nil {
		return fmt.Errorf("nftables: netdev placement: %w", err)
	}
	ch.Notes = append(ch.Notes, sc.notes...)
	msgs, err := n.syncNetdev(c, st, sc, want, ch)
	if err != nil {
		return err
	}
	if msgs == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: update table netdev %s (devices %s): %w (%s)", n.table, strings.Join(sc.devices, ", "), err, netdevHint)
	}
	ch.Batches++
	adds, dels := ndHosts(st, want)
	ch.Added = append(ch.Added, adds...)
	ch.Removed = append(ch.Removed, dels...)
	return nil
}

// syncFamily queues the changes of one family and returns how many
// messages it queued.
func (n *NFTables) syncFamily(c *nftables.Conn, f nftFamily, st *nftState, want map[netip.Addr]bool, ch *Changes) (adds, dels []netip.Addr, msgs int, err error) {
	fresh := st.table == nil || st.broken
	if st.broken {
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
	keyType := nftables.TypeIPAddr
	if f.v6 {
		keyType = nftables.TypeIP6Addr
	}
	sets := map[string]*nftables.Set{}
	setNames, purposes := []string{nftSetUp, nftSetDown}, []string{nftSetUp, nftSetDown, nftInput, nftOutput}
	if n.netdev != nil {
		// Hosts are counted in the netdev table; this one holds the
		// router's own counters only.
		setNames, purposes = nil, purposes[2:]
	}
	for _, name := range setNames {
		if s := st.sets[name]; s != nil && !fresh {
			s.Table = t
			sets[name] = s
			continue
		}
		s := &nftables.Set{Table: t, Name: name, KeyType: keyType, Counter: true}
		if err := c.AddSet(s, nil); err != nil {
			return nil, nil, 0, fmt.Errorf("nftables: set %s: %w", name, err)
		}
		sets[name] = s
		msgs++
		ch.Structural++
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
				return nil, nil, 0, fmt.Errorf("nftables: delete stray rule: %w", err)
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
			chain, ex := nftForward, []expr.Any(nil)
			switch purpose {
			case nftSetUp, nftSetDown:
				ex = lookupRule(purpose, sets[purpose].ID, f.v6)
			default:
				chain, ex = purpose, routerRuleExprs(purpose)
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: chain, Table: t}, Exprs: ex})
			msgs++
			ch.Structural++
			continue
		}
		for _, r := range have[1:] {
			r.Table = t
			if err := c.DelRule(r); err != nil {
				return nil, nil, 0, fmt.Errorf("nftables: delete duplicate rule: %w", err)
			}
			msgs++
			ch.Structural++
		}
	}
	// Elements: exactly the wanted hosts of this family in both sets.
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
		if len(add) > 0 {
			if err := setElements(c.SetAddElements, sets[name], add); err != nil {
				return nil, nil, 0, fmt.Errorf("nftables: add to set %s: %w", name, err)
			}
			msgs++
		}
		if len(del) > 0 {
			if err := setElements(c.SetDeleteElements, sets[name], del); err != nil {
				return nil, nil, 0, fmt.Errorf("nftables: delete from set %s: %w", name, err)
			}
			msgs++
		}
	}
	if n.netdev != nil {
		return nil, nil, msgs, nil
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
	return adds, dels, msgs, nil
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
