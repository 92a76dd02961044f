package netfilter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Quotas are enforced in a table of their own, `table inet
// <prefix>_quota` (netdev placement: below): an inet table, because one quota is one kernel object
// that an allowance's IPv4 and IPv6 addresses use up together, and a named
// object is visible only inside its table. The table:
//
//	quota q_<instance> { over <allowance> bytes used <ledger's used> bytes }
//	limit q_<instance> { rate over <rate> bytes/second }      (throttle)
//	map down4 { ipv4_addr : verdict }  # member address : jump c_<hash>
//	map up4, down6, up6 likewise
//	chain c_<hash> { quota name q_a drop; quota name q_b limit name q_b drop }
//	chain forward { type filter hook forward priority -160
//	    meta nfproto ipv4 ip daddr vmap @down4
//	    meta nfproto ipv4 ip saddr vmap @up4  (and ip6) }
//
// An address maps to the chain of exactly the quotas it is a member of
// for that direction (a chain per distinct combination, named by a hash of
// it), so a packet costs one map lookup per direction however many
// devices are under quota. Each quota expression adds the packet's length
// to its object and, once the object is past its allowance, the rule's
// drop (after the limit's over-rate test for a throttle) applies: the
// packet that crosses the allowance is the first dropped, so a device
// gets its allowance plus less than one packet.
//
// The forward chain's priority is below our counting chain's (mangle,
// -150): a dropped packet is never counted as transferred, and before the
// allowance is reached the quota sees exactly the packets the counters do
// (forward hook, same length), so ledger and kernel agree to the byte.
// Only forwarded traffic is stopped: DHCP, DNS and LuCI are the router's
// own (input hook) and keep working.
//
// In the netdev placement (flow offloading takes established flows past
// the forward hook) the same objects, maps and chains are in `table netdev
// <prefix>_quota`, and the base chains are per LAN device: qin_<dev>
// (ingress, uploads by source) and qout_<dev> (egress, downloads by
// destination), below the counting chains' priority and the flowtable's,
// each first passing what the counting chains pass (LAN to LAN,
// link-local, the router's own addresses, broadcast, multicast). Egress
// sees Ethernet frames: there a download uses the allowance 14 bytes a
// packet faster than the ledger counts it. The table moves with the
// placement.

// QuotaRule is one quota instance the kernel is to enforce.
type QuotaRule struct {
	// Name is the object's name (q_<quota> or q_<quota>_<mac hex>).
	Name string
	// Bytes is the allowance: packets past it are dropped (or limited).
	Bytes uint64
	// Used is what the ledger says is used: the object starts from it
	// when it is made, and from the larger of it and what the kernel had
	// counted when the table is remade around it.
	Used uint64
	// Fresh makes the object start from Used even if it exists (a new
	// period or day, a reset): the kernel's count belongs to the old one.
	Fresh    bool
	Down, Up bool
	// RateKbit > 0 throttles to that rate instead of blocking.
	RateKbit uint64
	Addrs    []netip.Addr
}

// QuotaObject is what the kernel holds of one quota.
type QuotaObject struct {
	Bytes, Consumed uint64
}

// QuotaChanges reports what a SyncQuotas did.
type QuotaChanges struct {
	Rebuilt  bool // the table was (re)made whole
	Elements int  // map elements added or deleted
	Batches  int
}

// QuotaEnforcer is a backend that enforces quotas in the kernel.
type QuotaEnforcer interface {
	// SyncQuotas makes the kernel enforce exactly rules (none: no table).
	SyncQuotas(ctx context.Context, rules []QuotaRule) (QuotaChanges, error)
	// PlanQuotas is SyncQuotas with the rules plan makes from the quota
	// objects the kernel holds (one read of the table for both).
	PlanQuotas(ctx context.Context, plan func(map[string]QuotaObject) []QuotaRule) (QuotaChanges, error)
	// QuotaObjects reads every quota object (by name).
	QuotaObjects(ctx context.Context) (map[string]QuotaObject, error)
	// TeardownQuotas removes the quota table.
	TeardownQuotas(ctx context.Context) error
}

const (
	qChainForward = "forward"
	qPriority     = nftables.ChainPriority(-160) // before counting (-150)
	// qNetdevPriority puts the netdev placement's quota chains before its
	// counting chains (and fw4's flowtable, at 0).
	qNetdevPriority = ndPriority - 10
	qTableSuffix    = "_quota"
)

// qMap is one of the quota table's address maps.
type qMap struct {
	name     string
	v6, down bool
}

// qMaps lists the quota table's four address maps; the index is a map's
// number in qWant.elems and the rules. A function, not a variable: no
// package state anything could change.
func qMaps() [4]qMap {
	return [4]qMap{{"down4", false, true}, {"up4", false, false}, {"down6", true, true}, {"up6", true, false}}
}

// QuotaTable names the quota table (family inet).
func (n *NFTables) QuotaTable() string { return n.table + qTableSuffix }

// qWant is the table the rules call for.
type qWant struct {
	objs   map[string]QuotaRule
	chains map[string][]string      // chain → the quota names it applies, in order
	elems  [4]map[netip.Addr]string // per map: address → chain
}

// comboChain names the chain of a combination of quotas.
func comboChain(names []string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(names, ",")))
	return fmt.Sprintf("c_%016x", h.Sum64())
}

func planQuotas(rules []QuotaRule) (qWant, error) {
	w := qWant{objs: map[string]QuotaRule{}, chains: map[string][]string{}}
	per := [4]map[netip.Addr][]string{}
	for i := range per {
		per[i] = map[netip.Addr][]string{}
		w.elems[i] = map[netip.Addr]string{}
	}
	for _, r := range rules {
		if r.Name == "" || len(r.Name) > 200 {
			return w, fmt.Errorf("quota object name %q", r.Name)
		}
		if _, dup := w.objs[r.Name]; dup {
			return w, fmt.Errorf("quota object %q given twice", r.Name)
		}
		w.objs[r.Name] = r
		for _, a := range r.Addrs {
			a = a.Unmap()
			for i, m := range qMaps() {
				if m.v6 == a.Is6() && (m.down && r.Down || !m.down && r.Up) {
					per[i][a] = append(per[i][a], r.Name)
				}
			}
		}
	}
	for i := range per {
		for a, names := range per[i] {
			sort.Strings(names)
			c := comboChain(names)
			w.chains[c] = names
			w.elems[i][a] = c
		}
	}
	return w, nil
}

// qHave is what the kernel holds of the table.
type qHave struct {
	table  *nftables.Table
	quotas map[string]QuotaObject
	limits map[string]expr.Limit
	maps   [4]*nftables.Set
	elems  [4]map[netip.Addr]string
	chains map[string]*nftables.Chain
	// base holds the base chains (hooked) with their rules.
	base  map[string]*nftables.Chain
	rules map[string][]*nftables.Rule
	// other is a quota table of ours in the other family (the placement
	// changed): it goes.
	other *nftables.Table
}

func (n *NFTables) readQuotaTable(c *nftables.Conn) (*qHave, error) {
	h := &qHave{quotas: map[string]QuotaObject{}, limits: map[string]expr.Limit{}, chains: map[string]*nftables.Chain{},
		base: map[string]*nftables.Chain{}, rules: map[string][]*nftables.Rule{}}
	fam := n.quotaFamily()
	for _, f := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyNetdev} {
		tables, err := c.ListTablesOfFamily(f)
		if err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		for _, t := range tables {
			switch {
			case t.Name != n.QuotaTable():
			case f == fam:
				h.table = t
			default:
				h.other = t
			}
		}
	}
	if h.table == nil {
		return h, nil
	}
	objs, err := c.GetNamedObjects(h.table)
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	for _, o := range objs {
		no, ok := o.(*nftables.NamedObj)
		if !ok {
			continue
		}
		switch x := no.Obj.(type) {
		case *expr.Quota:
			h.quotas[no.Name] = QuotaObject{Bytes: x.Bytes, Consumed: x.Consumed}
		case *expr.Limit:
			h.limits[no.Name] = *x
		}
	}
	sets, err := c.GetSets(h.table)
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	for _, s := range sets {
		for i, m := range qMaps() {
			if s.Name != m.name {
				continue
			}
			h.maps[i] = s
			h.elems[i] = map[netip.Addr]string{}
			els, err := c.GetSetElements(s)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", s.Name, err)
			}
			for _, e := range els {
				a, ok := netip.AddrFromSlice(e.Key)
				if !ok {
					continue
				}
				h.elems[i][a.Unmap()] = jumpTarget(e)
			}
		}
	}
	chains, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != h.table.Name {
			continue
		}
		if ch.Hooknum == nil {
			h.chains[ch.Name] = ch
			continue
		}
		h.base[ch.Name] = ch
		rules, err := c.GetRules(h.table, ch)
		if err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		h.rules[ch.Name] = rules
	}
	return h, nil
}

// jumpTarget reads the chain of a verdict map element: the library
// hands the verdict back undecoded, as the element's data.
func jumpTarget(e nftables.SetElement) string {
	if e.VerdictData != nil {
		return e.VerdictData.Chain
	}
	ad, err := netlink.NewAttributeDecoder(e.Val)
	if err != nil {
		return ""
	}
	ad.ByteOrder = binary.BigEndian
	chain := ""
	for ad.Next() {
		if ad.Type() == unix.NFTA_VERDICT_CHAIN {
			chain = strings.TrimRight(ad.String(), "\x00")
		}
	}
	return chain
}

// qForwardRules are the forward chain's four map lookups.
func qForwardRules() [][]expr.Any {
	var out [][]expr.Any
	for i := range qMaps() {
		out = append(out, qMapRule(i, false))
	}
	return out
}

// qMapRule is map i's lookup (`ip daddr vmap @down4` ...), after a test of
// the family: of the packet (nfproto, inet) or of the frame (netdev).
func qMapRule(i int, netdev bool) []expr.Any {
	m := qMaps()[i]
	proto, off, l := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	et := uint16(ethertypeV4)
	if m.v6 {
		proto, off, l, et = unix.NFPROTO_IPV6, 8, 16, ethertypeV6
	}
	if m.down {
		off += l
	}
	r := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
	if netdev {
		r = etherMatch(et)
	}
	return append(r,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l},
		&expr.Lookup{SourceRegister: 1, SetName: m.name, DestRegister: 0, IsDestRegSet: true})
}

// quotaFamily is the quota table's family: inet (forward hook), or, in
// the netdev placement, netdev.
func (n *NFTables) quotaFamily() nftables.TableFamily {
	if n.netdev != nil {
		return nftables.TableFamilyNetdev
	}
	return nftables.TableFamilyINet
}

// qBase is one base chain of the quota table.
type qBase struct {
	name   string
	hook   *nftables.ChainHook
	device string
	prio   nftables.ChainPriority
	rules  [][]expr.Any
	maps   []int // the qMaps index each rule looks up (-1: none)
}

// sameBase compares a listed chain with the wanted one (the library
// lists no device: the name carries it).
func sameBase(have *nftables.Chain, b qBase) bool {
	return have.Hooknum != nil && *have.Hooknum == *b.hook && have.Priority != nil && *have.Priority == b.prio &&
		have.Type == nftables.ChainTypeFilter
}

// add queues the chain and its rules; maps, when the maps are made in the
// same batch, gives their IDs.
func (b qBase) add(c *nftables.Conn, t *nftables.Table, maps *[4]*nftables.Set) {
	pol := nftables.ChainPolicyAccept
	prio := b.prio
	cc := c.AddChain(&nftables.Chain{Name: b.name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: b.hook,
		Priority: &prio, Policy: &pol, Device: b.device})
	for i, r := range b.rules {
		if maps != nil && b.maps[i] >= 0 {
			r[len(r)-1].(*expr.Lookup).SetID = maps[b.maps[i]].ID
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: cc, Exprs: r})
	}
}

// quotaBaseChains are the base chains the table needs: the forward hook's,
// or per LAN device an ingress chain (uploads) and an egress chain
// (downloads) that skip, as the counting chains do, what does not cross
// the router (LAN to LAN, link-local, the router's own addresses,
// broadcast, multicast): DHCP, DNS and LuCI stay reachable.
func (n *NFTables) quotaBaseChains() (map[string]qBase, error) {
	if n.netdev == nil {
		b := qBase{name: qChainForward, hook: nftables.ChainHookForward, prio: qPriority, rules: qForwardRules(), maps: []int{0, 1, 2, 3}}
		return map[string]qBase{b.name: b}, nil
	}
	sc, err := n.netdevScope()
	if err != nil {
		return nil, fmt.Errorf("nftables: quota chains: %w", err)
	}
	out := map[string]qBase{}
	for _, dir := range []string{"upload", "download"} {
		var rules [][]expr.Any
		var maps []int
		for _, v6 := range []bool{false, true} {
			et := uint16(ethertypeV4)
			if v6 {
				et = ethertypeV6
			}
			proto := func(ex []expr.Any) []expr.Any { return append(etherMatch(et), ex...) }
			local := localPrefixes(sc.prefixes, v6)
			for _, p := range local {
				rules = append(rules, proto(append(prefixMatch(p, dir == "upload"), &expr.Verdict{Kind: expr.VerdictReturn})))
				maps = append(maps, -1)
			}
			if dir == "upload" {
				rules = append(rules, proto(fibType(false, expr.CmpOpNeq, rtnUnicast)))
			} else {
				rules = append(rules, proto(fibType(true, expr.CmpOpEq, rtnLocal)))
			}
			maps = append(maps, -1)
			for i, m := range qMaps() {
				if m.v6 == v6 && m.down == (dir == "download") {
					rules = append(rules, qMapRule(i, true))
					maps = append(maps, i)
				}
			}
		}
		for _, d := range sc.devices {
			b := qBase{name: "qin_" + d, hook: nftables.ChainHookIngress, device: d, prio: qNetdevPriority, maps: maps}
			if dir == "download" {
				b.name, b.hook = "qout_"+d, nftables.ChainHookEgress
			}
			b.rules = make([][]expr.Any, len(rules))
			for i, r := range rules {
				b.rules[i] = append([]expr.Any(nil), r...)
			}
			out[b.name] = b
		}
	}
	return out, nil
}

// qChainRules are a combination chain's rules.
func qChainRules(names []string, objs map[string]QuotaRule) [][]expr.Any {
	var out [][]expr.Any
	for _, name := range names {
		r := []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeQuota), Name: name}}
		if objs[name].RateKbit > 0 {
			r = append(r, &expr.Objref{Type: int(nftables.ObjTypeLimit), Name: name})
		}
		out = append(out, append(r, &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	return out
}

// qAddObjects queues r's quota object (and a throttle's limit), starting
// from startCount.
func qAddObjects(c *nftables.Conn, t *nftables.Table, r QuotaRule, have map[string]QuotaObject) {
	c.AddObj(&nftables.NamedObj{Table: t, Name: r.Name, Type: nftables.ObjTypeQuota,
		Obj: &expr.Quota{Bytes: r.Bytes, Consumed: startCount(r, have), Over: true}})
	if r.RateKbit > 0 {
		l := qLimit(r.RateKbit)
		c.AddObj(&nftables.NamedObj{Table: t, Name: r.Name, Type: nftables.ObjTypeLimit, Obj: &l})
	}
}

// qAddChain queues a combination chain with its rules.
func qAddChain(c *nftables.Conn, t *nftables.Table, name string, names []string, objs map[string]QuotaRule) {
	cc := c.AddChain(&nftables.Chain{Name: name, Table: t})
	for _, r := range qChainRules(names, objs) {
		c.AddRule(&nftables.Rule{Table: t, Chain: cc, Exprs: r})
	}
}

// qJump is a map element sending address a to chain.
func qJump(a netip.Addr, chain string) nftables.SetElement {
	return nftables.SetElement{Key: a.AsSlice(), VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

// qLimit is a throttle's limit: over the rate in bytes per second, with a
// burst of a tenth of a second's worth (at least one full-size packet) so
// that TCP's bursts at the rate are not cut.
func qLimit(kbit uint64) expr.Limit {
	rate := kbit * 1000 / 8
	burst := rate / 10
	if burst < 1514 {
		burst = 1514
	}
	if burst > 1<<31 {
		burst = 1 << 31
	}
	return expr.Limit{Type: expr.LimitTypePktBytes, Rate: rate, Unit: expr.LimitTimeSecond, Burst: uint32(burst), Over: true}
}

// needsRebuild says whether objects that stay must change (another
// allowance, a fresh count, another rate, a throttle's limit added or
// gone): objects in use by rules cannot be replaced in place, so the table
// is made again whole, in one batch. Objects only added or only removed
// are not a reason: those go in and out by themselves.
func needsRebuild(h *qHave, w qWant) bool {
	if h.table == nil {
		return true
	}
	for i := range h.maps {
		if h.maps[i] == nil {
			return true
		}
	}
	for name, r := range w.objs {
		o, ok := h.quotas[name]
		if !ok {
			continue
		}
		if r.Fresh || o.Bytes != r.Bytes {
			return true
		}
		l, ok := h.limits[name]
		if (r.RateKbit > 0) != ok || ok && l != qLimit(r.RateKbit) {
			return true
		}
	}
	return false
}

// SyncQuotas implements QuotaEnforcer: in one batch, map elements added
// and removed and combination chains made or dropped; the whole table
// made again when an object must change.
func (n *NFTables) SyncQuotas(ctx context.Context, rules []QuotaRule) (QuotaChanges, error) {
	return n.PlanQuotas(ctx, func(map[string]QuotaObject) []QuotaRule { return rules })
}

// PlanQuotas implements QuotaEnforcer: SyncQuotas with the rules made
// from the objects of the same read.
func (n *NFTables) PlanQuotas(ctx context.Context, plan func(map[string]QuotaObject) []QuotaRule) (QuotaChanges, error) {
	var ch QuotaChanges
	c, err := n.conn()
	if err != nil {
		return ch, err
	}
	defer c.CloseLasting()
	h, err := n.readQuotaTable(c)
	if err != nil {
		return ch, fmt.Errorf("nftables: read %s: %w", n.QuotaTable(), err)
	}
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	rules := plan(h.quotas)
	w, err := planQuotas(rules)
	if err != nil {
		return ch, err
	}
	if h.other != nil {
		c.DelTable(h.other)
	}
	if len(rules) == 0 {
		if h.table == nil && h.other == nil {
			return ch, nil
		}
		if h.table != nil {
			c.DelTable(h.table)
		}
		if err := c.Flush(); err != nil {
			return ch, fmt.Errorf("nftables: delete %s: %w", n.QuotaTable(), err)
		}
		ch.Batches = 1
		return ch, nil
	}
	base, err := n.quotaBaseChains()
	if err != nil {
		return ch, err
	}
	if needsRebuild(h, w) {
		if err := n.rebuildQuotas(c, h, w, base); err != nil {
			return ch, err
		}
		ch.Rebuilt, ch.Batches = true, 1
		return ch, nil
	}
	t := h.table
	msgs := 0
	if h.other != nil {
		msgs++
	}
	// New objects first (their chains refer to them), objects no longer
	// wanted last (after the chains and elements that refer to them).
	for name, r := range w.objs {
		if _, ok := h.quotas[name]; ok {
			continue
		}
		qAddObjects(c, t, r, h.quotas)
		msgs++
	}
	for name, names := range w.chains {
		if h.chains[name] != nil {
			continue
		}
		qAddChain(c, t, name, names, w.objs)
		msgs++
	}
	for i := range qMaps() {
		var add, del []nftables.SetElement
		for a, chain := range h.elems[i] {
			if w.elems[i][a] != chain {
				del = append(del, nftables.SetElement{Key: a.AsSlice()})
			}
		}
		for a, chain := range w.elems[i] {
			if h.elems[i][a] != chain {
				add = append(add, qJump(a, chain))
			}
		}
		if err := setElements(c.SetDeleteElements, h.maps[i], del); err != nil {
			return ch, err
		}
		if err := setElements(c.SetAddElements, h.maps[i], add); err != nil {
			return ch, err
		}
		ch.Elements += len(add) + len(del)
		msgs += len(add) + len(del)
	}
	// Base chains (the forward hook's, or the LAN devices' in the netdev
	// placement: devices come and go) follow their wanted form; they hold
	// no state.
	for name, b := range base {
		have := h.base[name]
		if have != nil && sameBase(have, b) && qSameRules(h.rules[name], b.rules) {
			continue
		}
		if have != nil {
			c.DelChain(have)
		}
		b.add(c, t, nil)
		msgs++
	}
	for name, cc := range h.base {
		if _, ok := base[name]; !ok {
			c.DelChain(cc)
			msgs++
		}
	}
	for name, cc := range h.chains {
		if w.chains[name] == nil {
			c.DelChain(cc)
			msgs++
		}
	}
	for name := range h.quotas {
		if _, ok := w.objs[name]; !ok {
			c.DeleteObject(&nftables.NamedObj{Table: t, Name: name, Type: nftables.ObjTypeQuota})
			msgs++
		}
	}
	for name := range h.limits {
		if _, ok := w.objs[name]; !ok {
			c.DeleteObject(&nftables.NamedObj{Table: t, Name: name, Type: nftables.ObjTypeLimit})
			msgs++
		}
	}
	if msgs == 0 {
		return ch, nil
	}
	if err := c.Flush(); err != nil {
		return ch, fmt.Errorf("nftables: update %s: %w", n.QuotaTable(), err)
	}
	ch.Batches = 1
	return ch, nil
}

// rebuildQuotas makes the table again in one batch (deleting the old one
// in the same transaction: no packet sees it half made). Objects start
// from the ledger's count, or, where the kernel's own is larger and not
// of an older period, from that.
func (n *NFTables) rebuildQuotas(c *nftables.Conn, h *qHave, w qWant, base map[string]qBase) error {
	if h.table != nil {
		c.DelTable(h.table)
	}
	t := c.AddTable(&nftables.Table{Name: n.QuotaTable(), Family: n.quotaFamily()})
	names := make([]string, 0, len(w.objs))
	for name := range w.objs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		qAddObjects(c, t, w.objs[name], h.quotas)
	}
	var maps [4]*nftables.Set
	for i, m := range qMaps() {
		kt := nftables.TypeIPAddr
		if m.v6 {
			kt = nftables.TypeIP6Addr
		}
		maps[i] = &nftables.Set{Table: t, Name: m.name, IsMap: true, KeyType: kt, DataType: nftables.TypeVerdict}
		if err := c.AddSet(maps[i], nil); err != nil {
			return fmt.Errorf("nftables: quota map %s: %w", m.name, err)
		}
	}
	chains := make([]string, 0, len(w.chains))
	for name := range w.chains {
		chains = append(chains, name)
	}
	sort.Strings(chains)
	for _, name := range chains {
		qAddChain(c, t, name, w.chains[name], w.objs)
	}
	for i := range qMaps() {
		var els []nftables.SetElement
		for a, chain := range w.elems[i] {
			els = append(els, qJump(a, chain))
		}
		if err := setElements(c.SetAddElements, maps[i], els); err != nil {
			return err
		}
	}
	names = names[:0]
	for name := range base {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		base[name].add(c, t, &maps)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: make %s: %w", n.QuotaTable(), err)
	}
	return nil
}

// qSameRules compares rules as sameRules does, map lookups included.
func qSameRules(have []*nftables.Rule, want [][]expr.Any) bool {
	if len(have) != len(want) {
		return false
	}
	for i, r := range have {
		if len(r.Exprs) != len(want[i]) {
			return false
		}
		for j, e := range r.Exprs {
			x, ok := e.(*expr.Lookup)
			if !ok {
				if !sameExpr(e, want[i][j]) {
					return false
				}
				continue
			}
			y, ok := want[i][j].(*expr.Lookup)
			if !ok || x.SetName != y.SetName || x.SourceRegister != y.SourceRegister || x.IsDestRegSet != y.IsDestRegSet ||
				x.DestRegister != y.DestRegister || x.Invert != y.Invert {
				return false
			}
		}
	}
	return true
}

// startCount is what a (re)made object starts from: the ledger's count,
// or the kernel's where it is larger (packets since the ledger's read) and
// the object is of the same period and has dropped nothing (the kernel
// lists a depleted object's count capped at its allowance, and its count
// holds the dropped packets); one used up at the same allowance stays used
// up. The kernel refuses a count above the allowance: the count is capped.
func startCount(r QuotaRule, have map[string]QuotaObject) uint64 {
	used := r.Used
	o, ok := have[r.Name]
	switch {
	case !ok || r.Fresh:
	case o.Consumed >= o.Bytes && o.Bytes == r.Bytes:
		used = r.Bytes // used up stays used up
	case o.Consumed < o.Bytes && o.Consumed > used:
		used = o.Consumed
	}
	if used > r.Bytes {
		used = r.Bytes
	}
	return used
}

// QuotaObjects implements QuotaEnforcer.
func (n *NFTables) QuotaObjects(ctx context.Context) (map[string]QuotaObject, error) {
	c, err := n.conn()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	h, err := n.readQuotaTable(c)
	if err != nil {
		return nil, fmt.Errorf("nftables: read inet %s: %w", n.QuotaTable(), err)
	}
	return h.quotas, nil
}

// TeardownQuotas implements QuotaEnforcer.
func (n *NFTables) TeardownQuotas(ctx context.Context) error {
	_, err := n.SyncQuotas(ctx, nil)
	return err
}

// ErrNoQuotaKernel is what the core reports for a backend that cannot
// enforce quotas (iptables).
var ErrNoQuotaKernel = errors.New("quotas are enforced with the nftables backend only")
