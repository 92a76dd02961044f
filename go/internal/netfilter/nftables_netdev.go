package netfilter

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/transferometer/transferometer/internal/counter"
	"github.com/transferometer/transferometer/internal/links"
)

// The netdev placement (NFTablesOptions.Netdev) counts hosts where software
// flow offloading cannot hide their packets: on the LAN's lowest devices.
// fw4's flowtable hooks ingress at priority filter (0) and, for an
// offloaded flow, transmits straight out of the other device — past
// prerouting, forward and postrouting, but not past a netdev ingress chain
// of lower priority on the receiving device, nor the netdev egress hook of
// the sending one. So `table netdev NAME` holds:
//
//   - sets up4, down4, up6, down6 of host addresses with per-element
//     counters (one hash lookup per packet, as in the forward placement),
//     dynamic and bounded as there;
//   - per LAN device D, base chains in_D (hook ingress, priority -500)
//     and out_D (hook egress), which return for traffic that does not
//     cross the router (a LAN prefix on the other end, IPv6 link-local,
//     the router's own addresses by `fib ... type`, broadcast and
//     multicast) and then, for a LAN address inside a LAN prefix, add it
//     to its set or count its element (`ip saddr P add @up4 { ip saddr
//     counter } accept`; without prefixes, or where the kernel refuses
//     that, a lookup of the elements Sync added).
//
// Only packets past those filters create elements, so none is made for
// the router's addresses, link-local, broadcast or multicast ones. Egress
// sees only what the router really sends to a LAN host, after neighbour
// resolution: unlike the forward hook, no packet the firewall drops or
// that is addressed to no existing host gets there, so downloads create
// elements without the conntrack condition the forward placement needs.
//
// Egress sees Ethernet frames, ingress IP packets: Read takes 14 bytes per
// packet off the download counters, so both directions are IP-level bytes
// like the forward placement's. Only Ethernet devices are attached (every
// bridge port is one), so the 14 bytes hold for each of them.
//
// Devices come and go (Wi-Fi interfaces appear when hostapd starts): every
// Sync attaches to the current ports and detaches from former ones. The
// kernel itself deletes a device's chains when the device disappears; the
// counters live in the sets, so nothing counted is lost with a chain.

// NetdevOptions turns on the netdev placement.
type NetdevOptions struct {
	// LANDevice is the LAN bridge (its Ethernet ports are counted on) or a
	// plain LAN device (counted on itself).
	LANDevice string
	// Prefixes returns the LAN prefixes, asked at each Sync: traffic with
	// one of them on the far end stays in the LAN and is not counted.
	Prefixes func() ([]netip.Prefix, error)
}

const (
	ndPriority  = nftables.ChainPriority(-500) // below fw4's flowtable (0)
	ndIngress   = "in_"
	ndEgress    = "out_"
	ethHeader   = 14
	rtnUnicast  = 1 // RTN_UNICAST, as `fib ... type` reports it
	rtnLocal    = 2 // RTN_LOCAL
	ethertypeV4 = 0x0800
	ethertypeV6 = 0x86dd
)

// ndSets are the netdev table's sets: name, kind, IPv6.
var ndSets = [...]struct {
	name string
	kind counter.Kind
	v6   bool
}{
	{"up4", counter.Upload, false}, {"down4", counter.Download, false},
	{"up6", counter.Upload, true}, {"down6", counter.Download, true},
}

// ndState is what one read of the netdev table told us.
type ndState struct {
	table  *nftables.Table // nil: absent
	broken bool
	sets   map[string]*nftables.Set
	elems  map[counter.Key]bool
	chains map[string]*nftables.Chain
	rules  map[string][]*nftables.Rule
}

func (n *NFTables) readNetdev(c *nftables.Conn, counters map[counter.Key]counter.Counter) (*ndState, error) {
	st := &ndState{sets: map[string]*nftables.Set{}, elems: map[counter.Key]bool{}, chains: map[string]*nftables.Chain{}, rules: map[string][]*nftables.Rule{}}
	var chains []*nftables.Chain
	var err error
	if st.table, chains, err = n.ourTable(c, nftables.TableFamilyNetdev); err != nil || st.table == nil {
		return st, err
	}
	for _, ch := range chains {
		st.chains[ch.Name] = ch
		switch {
		case strings.HasPrefix(ch.Name, ndIngress) || strings.HasPrefix(ch.Name, ndEgress):
			hook := nftables.ChainHookIngress
			if strings.HasPrefix(ch.Name, ndEgress) {
				hook = nftables.ChainHookEgress
			}
			if ch.Hooknum == nil || *ch.Hooknum != *hook || ch.Priority == nil || *ch.Priority != ndPriority || ch.Type != nftables.ChainTypeFilter {
				st.broken = true
			}
		default:
			st.broken = true
		}
	}
	sets, err := c.GetSets(st.table)
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	for _, s := range sets {
		spec := -1
		for i, w := range ndSets {
			if s.Name == w.name {
				spec = i
			}
		}
		if spec < 0 || s.IsMap || s.Interval || s.KeyType.GetNFTMagic() != keyMagic(ndSets[spec].v6) {
			st.broken = true
			continue
		}
		st.sets[s.Name] = s
		elems, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("list set %s: %w", s.Name, err)
		}
		for _, e := range elems {
			a, ok := netip.AddrFromSlice(e.Key)
			if !ok || a.Is6() != ndSets[spec].v6 {
				continue
			}
			k := counter.Key{Kind: ndSets[spec].kind, Addr: a}
			st.elems[k] = true
			if e.Counter == nil {
				st.broken = true
				counters[k] = counter.Counter{}
				continue
			}
			cnt := counter.Counter{Packets: e.Counter.Packets, Bytes: e.Counter.Bytes}
			if k.Kind == counter.Download {
				// Egress counted Ethernet frames: 14 header bytes each.
				if h := cnt.Packets * ethHeader; cnt.Bytes >= h {
					cnt.Bytes -= h
				} else {
					cnt.Bytes = 0
				}
			}
			counters[k] = cnt
		}
	}
	for name, ch := range st.chains {
		rules, err := c.GetRules(st.table, ch)
		if err != nil {
			return nil, fmt.Errorf("list chain %s: %w", name, err)
		}
		st.rules[name] = rules
	}
	return st, nil
}

func keyMagic(v6 bool) uint32 {
	t := keyTypeOf(v6)
	return t.GetNFTMagic()
}

func keyTypeOf(v6 bool) nftables.SetDatatype {
	if v6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

// ndScope is what the netdev table must cover at one Sync.
type ndScope struct {
	devices  []string
	prefixes []netip.Prefix
	notes    []string
}

func (n *NFTables) netdevScope() (ndScope, error) {
	var sc ndScope
	all, err := links.List(n.netns)
	if err != nil {
		return sc, err
	}
	ports, skipped, found := links.Ports(all, n.netdev.LANDevice)
	if !found {
		sc.notes = append(sc.notes, fmt.Sprintf("LAN device %s does not exist (yet): nothing is counted until it does", n.netdev.LANDevice))
	} else if len(ports) == 0 {
		sc.notes = append(sc.notes, fmt.Sprintf("LAN device %s has no Ethernet device to count on", n.netdev.LANDevice))
	}
	for _, s := range skipped {
		sc.notes = append(sc.notes, "not counting on "+s)
	}
	sc.devices = ports
	if n.netdev.Prefixes != nil {
		if sc.prefixes, err = n.netdev.Prefixes(); err != nil {
			return sc, fmt.Errorf("LAN prefixes: %w", err)
		}
	}
	return sc, nil
}

// ndChainRules returns the rules each of our netdev chains must hold.
func (n *NFTables) ndChainRules(sc ndScope, sets map[string]*nftables.Set, hosts map[netip.Addr]bool, dyn bool) map[string][][]expr.Any {
	want := map[string][][]expr.Any{}
	for _, v6 := range []bool{false, true} {
		suffix, et := "4", uint16(ethertypeV4)
		if v6 {
			suffix, et = "6", ethertypeV6
		}
		local := localPrefixes(sc.prefixes, v6)
		for _, dir := range []string{"upload", "download"} {
			// The far end of the packet: destination for uploads,
			// source for downloads.
			far := dir == "download"
			// Each address match repeats the ethertype test the jump
			// already made: two cheap instructions that let `nft list`
			// print "ip daddr ..." instead of raw header offsets.
			proto := func(ex []expr.Any) []expr.Any { return append(etherMatch(et), ex...) }
			var rules [][]expr.Any
			for _, p := range local {
				rules = append(rules, proto(append(prefixMatch(p, !far), &expr.Verdict{Kind: expr.VerdictReturn})))
			}
			if dir == "upload" {
				// Router-local, broadcast, multicast, unroutable: not a
				// packet the router forwards.
				rules = append(rules, proto(fibType(false, expr.CmpOpNeq, rtnUnicast)))
			} else {
				rules = append(rules, proto(fibType(true, expr.CmpOpEq, rtnLocal)))
			}
			set := map[string]string{"upload": "up", "download": "down"}[dir] + suffix
			var id uint32
			if s := sets[set]; s != nil {
				id = s.ID
			}
			// accept ends only this chain (the flowtable and any other
			// hook still see the packet): an IPv4 packet that was
			// counted skips the IPv6 rules after it, and one whose
			// element a rule created skips the lookup after it.
			accept := &expr.Verdict{Kind: expr.VerdictAccept}
			ps := familyPrefixes(sc.prefixes, v6)
			if dyn {
				for _, p := range ps {
					rules = append(rules, proto(append(addrMatch(p, far, expr.CmpOpEq), n.addElement(set, id), accept)))
				}
			}
			if !dyn || len(ps) == 0 || uncovered(hosts, ps, v6) {
				lk := lookupRule(map[string]string{"upload": nftSetUp, "download": nftSetDown}[dir], id, v6)
				lk[1].(*expr.Lookup).SetName = set
				rules = append(rules, proto(append(lk, accept)))
			}
			// The filter sits in each device's base chain itself, IPv4
			// first: a jump to a shared chain and back costs more per
			// packet than the few rules cost in memory (measured in the
			// guest with a flowtable, where every instruction shows).
			prefix := ndIngress
			if dir == "download" {
				prefix = ndEgress
			}
			for _, d := range sc.devices {
				want[prefix+d] = append(want[prefix+d], rules...)
			}
		}
	}
	return want
}

// etherMatch is `meta protocol ip` (or ip6).
func etherMatch(et uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, et)},
	}
}

// prefixMatch loads the destination (dst) or source address and compares
// it with p.
func prefixMatch(p netip.Prefix, dst bool) []expr.Any {
	off, l := uint32(12), uint32(4)
	if p.Addr().Is6() {
		off, l = 8, 16
	}
	if dst {
		off += l
	}
	ex := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l}}
	if p.Bits() < p.Addr().BitLen() {
		mask := netip.PrefixFrom(p.Addr(), p.Bits())
		m := make([]byte, l)
		for i := 0; i < mask.Bits(); i++ {
			m[i/8] |= 0x80 >> (i % 8)
		}
		ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: l, Mask: m, Xor: make([]byte, l)})
	}
	return append(ex, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

// fibType is `fib saddr|daddr type OP T return`.
func fibType(saddr bool, op expr.CmpOp, t uint32) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, ResultADDRTYPE: true, FlagSADDR: saddr, FlagDADDR: !saddr},
		&expr.Cmp{Op: op, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, t)},
		&expr.Verdict{Kind: expr.VerdictReturn},
	}
}

// sameRules compares a chain's rules with the wanted expressions.
func sameRules(have []*nftables.Rule, want [][]expr.Any) bool {
	if len(have) != len(want) {
		return false
	}
	for i, r := range have {
		if len(r.Exprs) != len(want[i]) {
			return false
		}
		for j := range r.Exprs {
			if !sameExpr(r.Exprs[j], want[i][j]) {
				return false
			}
		}
	}
	return true
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
	for _, m := range sc.notes {
		ch.Notes = append(ch.Notes, Note{Code: NotePlacementDevice, Message: m})
	}
	sub, err := n.withFallback(func(dyn bool) (Changes, bool, error) {
		var sub Changes
		msgs, used, err := n.syncNetdev(c, st, sc, want, dyn, &sub)
		if err != nil || msgs == 0 {
			return sub, used, err
		}
		if err := c.Flush(); err != nil {
			return sub, used, fmt.Errorf("nftables: update table netdev %s (devices %s): %w (%s)", n.table, strings.Join(sc.devices, ", "), err, netdevHint)
		}
		sub.Batches++
		sub.Added, sub.Removed = ndHosts(st, want, n.ndFresh(st, dyn))
		return sub, used, nil
	})
	ch.merge(sub)
	return err
}

// ndFresh reports whether the netdev table is to be (re-)created: absent,
// of a wrong shape, or with sets of the other form.
func (n *NFTables) ndFresh(st *ndState, dyn bool) bool {
	if st.table == nil || st.broken {
		return true
	}
	for _, s := range st.sets {
		if !n.setFits(s, dyn) {
			return true
		}
	}
	return false
}

// syncNetdev queues the netdev table's changes; it returns the number of
// messages queued and whether they hold dynamic sets or rules.
func (n *NFTables) syncNetdev(c *nftables.Conn, st *ndState, sc ndScope, want map[netip.Addr]bool, dyn bool, ch *Changes) (int, bool, error) {
	msgs := 0
	used := false
	fresh := n.ndFresh(st, dyn)
	if fresh && st.table != nil {
		// Read has credited its counters; the new sets start at zero,
		// which the baselines take as re-created counters.
		c.DelTable(st.table)
		msgs++
	}
	t := &nftables.Table{Name: n.table, Family: nftables.TableFamilyNetdev}
	if fresh {
		c.AddTable(t)
		msgs++
		ch.Structural++
	}
	sets := map[string]*nftables.Set{}
	for _, spec := range ndSets {
		if s := st.sets[spec.name]; s != nil && !fresh {
			s.Table = t
			sets[spec.name] = s
			continue
		}
		s := n.hostSet(t, spec.name, spec.v6, dyn)
		if err := c.AddSet(s, nil); err != nil {
			return 0, false, fmt.Errorf("nftables: set %s: %w", spec.name, err)
		}
		sets[spec.name] = s
		msgs++
		ch.Structural++
		used = used || dyn
	}
	wantRules := n.ndChainRules(sc, sets, want, dyn)
	// Former devices' chains go (flushed first: a chain is deleted empty).
	names := make([]string, 0, len(wantRules))
	for name := range wantRules {
		names = append(names, name)
	}
	sort.Strings(names)
	if !fresh {
		var gone []string
		for name := range st.chains {
			if _, ok := wantRules[name]; !ok {
				gone = append(gone, name)
			}
		}
		sort.Strings(gone)
		for _, name := range gone {
			chain := &nftables.Chain{Name: name, Table: t}
			c.FlushChain(chain)
			c.DelChain(chain)
			msgs += 2
			ch.Structural++
		}
	}
	for _, name := range names {
		rules := wantRules[name]
		chain := &nftables.Chain{Name: name, Table: t}
		_, have := st.chains[name]
		switch {
		case fresh || !have:
			hook := nftables.ChainHookIngress
			dev := strings.TrimPrefix(name, ndIngress)
			if strings.HasPrefix(name, ndEgress) {
				hook, dev = nftables.ChainHookEgress, strings.TrimPrefix(name, ndEgress)
			}
			prio := ndPriority
			chain.Hooknum, chain.Priority, chain.Type, chain.Device = hook, &prio, nftables.ChainTypeFilter, dev
			c.AddChain(chain)
			msgs++
			ch.Structural++
		case sameRules(st.rules[name], rules):
			continue
		default:
			// Rules without counters: replacing them loses nothing.
			c.FlushChain(chain)
			msgs++
			ch.Structural++
		}
		for _, ex := range rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: ex})
			msgs++
		}
		used = used || hasDynset(rules)
	}
	for _, spec := range ndSets {
		var add, del []nftables.SetElement
		for _, h := range sortedAddrs(want) {
			if h.Is6() == spec.v6 && (fresh || !st.elems[counter.Key{Kind: spec.kind, Addr: h}]) {
				add = append(add, nftables.SetElement{Key: h.AsSlice()})
			}
		}
		if !fresh {
			for k := range st.elems {
				if k.Kind == spec.kind && k.Addr.Is6() == spec.v6 && !want[k.Addr] {
					del = append(del, nftables.SetElement{Key: k.Addr.AsSlice()})
				}
			}
		}
		// Deletions first: the set's bound counts what the batch removes.
		if len(del) > 0 {
			if err := setElements(c.SetDeleteElements, sets[spec.name], del); err != nil {
				return 0, false, fmt.Errorf("nftables: delete from set %s: %w", spec.name, err)
			}
			msgs++
		}
		if len(add) > 0 {
			if err := setElements(c.SetAddElements, sets[spec.name], add); err != nil {
				return 0, false, fmt.Errorf("nftables: add to set %s: %w", spec.name, err)
			}
			msgs++
		}
	}
	return msgs, used, nil
}

// ndHosts lists, for Changes, the wanted hosts missing a set element and
// the present hosts no longer wanted.
func ndHosts(st *ndState, want map[netip.Addr]bool, fresh bool) (adds, dels []netip.Addr) {
	present := map[netip.Addr]bool{}
	for k := range st.elems {
		present[k.Addr] = true
	}
	for _, h := range sortedAddrs(want) {
		if fresh || !st.elems[counter.Key{Kind: counter.Upload, Addr: h}] || !st.elems[counter.Key{Kind: counter.Download, Addr: h}] {
			adds = append(adds, h)
		}
	}
	for _, h := range sortedAddrs(present) {
		if !want[h] {
			dels = append(dels, h)
		}
	}
	return adds, dels
}

// localPrefixes are the LAN's prefixes of one family, and for IPv6 the
// link-local ones too: traffic within them stays on the LAN, neither
// counted nor held by a quota.
func localPrefixes(prefixes []netip.Prefix, v6 bool) []netip.Prefix {
	var local []netip.Prefix
	for _, p := range prefixes {
		if p.Addr().Is6() == v6 && !p.Addr().Is4In6() {
			local = append(local, p.Masked())
		}
	}
	if v6 {
		local = append(local, netip.MustParsePrefix("fe80::/10"))
	}
	return local
}
