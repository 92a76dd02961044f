package netfilter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"

	"github.com/transferometer/transferometer/internal/counter"
)

// IPTables is the iptables backend. It reads counters with one
// `iptables-save -t mangle -c` per family and applies every change of an
// event with one `iptables-restore --noflush` per family: go-iptables runs
// one process per rule and has no batch, which would blow the per-event
// process budget (and each extra exec widens the window between read and
// change).
//
// Counters are never zeroed: iptables-nft's read-and-zero is not atomic
// (it lost bytes under load here), so the ledger keeps each rule's last
// value as a baseline instead.
type IPTables struct {
	prefix   string
	families []family
	// seen is the variant the last save's header named (0 before a read).
	seen     Kind
	prefixes func() ([]netip.Prefix, error)
}

type family struct {
	v6      bool
	save    string
	restore string
	// active is false for IPv6 with option ipv6 '0': it is still read (to
	// credit what it counted) and torn down, but gets no rules.
	active bool
}

// IPTablesOptions selects the binaries and the chain names.
type IPTablesOptions struct {
	ChainPrefix string
	// Variant is option iptables_variant: auto (iptables-save as on PATH),
	// legacy or nft.
	Variant string
	IPv6    bool
	// Install says how to get the binaries when they are missing.
	Install string
	// Prefixes are the LAN prefixes: after the per-host rules, one
	// catch-all rule per prefix and direction counts the addresses that
	// have no rules yet (their bytes are unattributed, not lost). nil:
	// no catch-alls.
	Prefixes func() ([]netip.Prefix, error)
}

// NewIPTables checks the options and finds the binaries.
func NewIPTables(o IPTablesOptions) (*IPTables, error) {
	if o.ChainPrefix == "" {
		return nil, errors.New("iptables: empty chain prefix")
	}
	infix := ""
	switch o.Variant {
	case "", Auto:
	case variantLegacy, variantNFT:
		infix = "-" + o.Variant
	default:
		return nil, fmt.Errorf("iptables: unknown variant %q", o.Variant)
	}
	t := &IPTables{prefix: o.ChainPrefix, prefixes: o.Prefixes}
	for _, b := range []string{"iptables", "ip6tables"} {
		f := family{v6: b == "ip6tables", active: b == "iptables" || o.IPv6}
		save, err1 := exec.LookPath(b + infix + "-save")
		restore, err2 := exec.LookPath(b + infix + "-restore")
		if err1 != nil || err2 != nil {
			if !f.active {
				continue // IPv6 off and no ip6tables: nothing to read or clean
			}
			hint := o.Install
			if hint == "" {
				hint = iptablesHintFW3
			}
			switch {
			case infix == "-nft":
				hint = "install iptables-nft and ip6tables-nft, or set option iptables_variant 'legacy' or 'auto'"
			case infix == "-legacy":
				hint = "install iptables-zz-legacy and ip6tables-zz-legacy, or set option iptables_variant 'nft' or 'auto'"
			case f.v6:
				hint += "; or set option ipv6 '0'"
			}
			return nil, fmt.Errorf("iptables: %s%s-save/-restore not found: %s", b, infix, hint)
		}
		f.save, f.restore = save, restore
		t.families = append(t.families, f)
	}
	return t, nil
}

// Kind reports the variant the last save's header named, or before a
// read the variant of the binaries in use.
func (t *IPTables) Kind() Kind {
	if t.seen != 0 {
		return t.seen
	}
	return kindOfBinary(t.families[0].save)
}

func (t *IPTables) chain(builtin string) string { return t.prefix + "_" + builtin }

var builtins = [...]string{"INPUT", "OUTPUT", "FORWARD"}

// tableState is what one save of the mangle table told us about our parts.
type tableState struct {
	chains map[string]bool
	// jumps[builtin] lists the 1-based positions of our plain jump rules.
	jumps map[string][]int
	// rules counts copies of each of our rules, to find duplicates.
	rules map[counter.Key]int
	// routerRules counts copies of the router counter rule per chain.
	routerRules map[string]int
	// rest counts copies of each catch-all rule; restFirst says a host
	// rule comes after one (it would never see a packet), so the
	// catch-alls are moved back to the end.
	rest      map[counter.Key]int
	restFirst bool
}

type plan struct{ tables []*tableState } // index = family index

// Read saves the mangle table of each family once and keeps our counters.
func (t *IPTables) Read(ctx context.Context) (*Snapshot, error) {
	snap := &Snapshot{Counters: make(map[counter.Key]counter.Counter)}
	p := &plan{}
	for _, f := range t.families {
		out, err := run(ctx, f.save, nil, "-t", "mangle", "-c")
		if err != nil {
			return nil, err
		}
		if !f.v6 {
			// iptables-nft-save's header says "(nf_tables)"; legacy's
			// says nothing (1.8.7) or "(legacy)".
			t.seen = KindIPTablesLegacy
			if first, _, _ := strings.Cut(string(out), "\n"); strings.Contains(first, "nf_tables") {
				t.seen = KindIPTablesNFT
			}
		}
		st, err := t.parseSave(out, f.v6, snap.Counters)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.save, err)
		}
		p.tables = append(p.tables, st)
	}
	snap.plan = p
	return snap, nil
}

// parseSave reads `iptables-save -c` output. Lines look like
// "[12:3456] -A TRANSFEROMETER_FORWARD -s 10.0.0.5/32 -j RETURN".
func (t *IPTables) parseSave(out []byte, v6 bool, counters map[counter.Key]counter.Counter) (*tableState, error) {
	st := &tableState{chains: map[string]bool{}, jumps: map[string][]int{}, rules: map[counter.Key]int{}, routerRules: map[string]int{}, rest: map[counter.Key]int{}}
	seenRest := false
	pos := map[string]int{}
	unspec := netip.IPv4Unspecified()
	if v6 {
		unspec = netip.IPv6Unspecified()
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, ":") {
			name, _, _ := strings.Cut(line[1:], " ")
			st.chains[name] = true
			continue
		}
		if !strings.HasPrefix(line, "[") {
			continue
		}
		cnt, rule, ok := strings.Cut(line, "] ")
		if !ok {
			continue
		}
		f := strings.Fields(rule)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		chain := f[1]
		pos[chain]++
		args := f[2:]
		switch chain {
		case "INPUT", "OUTPUT", "FORWARD":
			if len(args) == 2 && args[0] == "-j" && args[1] == t.chain(chain) {
				st.jumps[chain] = append(st.jumps[chain], pos[chain])
			}
			continue
		case t.chain("INPUT"), t.chain("OUTPUT"), t.chain("FORWARD"):
		default:
			continue
		}
		c, err := parseCounter(cnt[1:])
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		var key counter.Key
		switch {
		case chain == t.chain("INPUT") && strings.Join(args, " ") == routerRule("INPUT"),
			chain == t.chain("OUTPUT") && strings.Join(args, " ") == routerRule("OUTPUT"):
			kind := counter.RouterIn
			if chain == t.chain("OUTPUT") {
				kind = counter.RouterOut
			}
			key = counter.Key{Kind: kind, Addr: unspec}
			st.routerRules[chain]++
		case len(args) == 4 && (args[0] == "-s" || args[0] == "-d") && args[2] == "-j" && args[3] == "RETURN" && chain == t.chain("FORWARD"):
			pfx, err := netip.ParsePrefix(args[1])
			if err != nil || pfx.Addr().Is6() != v6 || pfx != pfx.Masked() {
				continue // not a rule we write: leave it alone
			}
			if !pfx.IsSingleIP() {
				kind := counter.RestUp
				if args[0] == "-d" {
					kind = counter.RestDown
				}
				key = counter.RestKey(kind, pfx)
				st.rest[key]++
				seenRest = true
				break
			}
			kind := counter.Upload
			if args[0] == "-d" {
				kind = counter.Download
			}
			key = counter.Key{Kind: kind, Addr: pfx.Addr()}
			st.rules[key]++
			st.restFirst = st.restFirst || seenRest
		default:
			continue
		}
		// Duplicates can only come from outside interference; sum them
		// so that no counted byte is dropped before Sync removes them.
		old := counters[key]
		counters[key] = counter.Counter{Packets: old.Packets + c.Packets, Bytes: old.Bytes + c.Bytes}
	}
	return st, nil
}

func parseCounter(s string) (counter.Counter, error) {
	p, b, ok := strings.Cut(s, ":")
	if !ok {
		return counter.Counter{}, errors.New("bad counter")
	}
	var c counter.Counter
	if _, err := fmt.Sscan(p, &c.Packets); err != nil {
		return counter.Counter{}, fmt.Errorf("bad packet count: %w", err)
	}
	if _, err := fmt.Sscan(b, &c.Bytes); err != nil {
		return counter.Counter{}, fmt.Errorf("bad byte count: %w", err)
	}
	return c, nil
}

// Sync writes one restore batch per family that needs a change.
func (t *IPTables) Sync(ctx context.Context, snap *Snapshot, hosts []netip.Addr) (Changes, error) {
	var ch Changes
	p, ok := snap.plan.(*plan)
	if !ok || len(p.tables) != len(t.families) {
		return ch, errors.New("iptables: snapshot is not from this backend")
	}
	want := map[netip.Addr]bool{}
	for _, h := range hosts {
		want[h] = true
	}
	for i, f := range t.families {
		st := p.tables[i]
		var b strings.Builder
		n := 0
		emit := func(format string, a ...any) {
			fmt.Fprintf(&b, format+"\n", a...)
			n++
		}
		for _, bi := range builtins {
			c := t.chain(bi)
			if !st.chains[c] && f.active {
				emit(":%s - [0:0]", c)
				ch.Structural++
			}
		}
		if !f.active {
			n += t.teardownLines(&b, st)
			if n > 0 {
				if _, err := run(ctx, f.restore, []byte("*mangle\n"+b.String()+"COMMIT\n"), "--noflush", "--wait=10"); err != nil {
					return ch, err
				}
				ch.Batches++
			}
			continue
		}
		// Router counter rules: exactly one each.
		for _, bi := range []string{"INPUT", "OUTPUT"} {
			c := t.chain(bi)
			switch k := st.routerRules[c]; {
			case k == 0:
				emit("-A %s %s", c, routerRule(bi))
				ch.Structural++
			case k > 1:
				for j := 1; j < k; j++ {
					emit("-D %s %s", c, routerRule(bi))
				}
				ch.Structural++
			}
		}
		// Catch-alls that go: not (or no longer) a LAN prefix, duplicates,
		// or all of them when a host rule sits below one.
		rest, restKnown := t.restWanted(f.v6)
		if restKnown {
			for _, k := range sortedKeys(st.rest) {
				keep := 0
				if rest[k] && !st.restFirst {
					keep = 1
				}
				for j := keep; j < st.rest[k]; j++ {
					emit("-D %s %s %s -j RETURN", t.chain("FORWARD"), matchFlag(k.Kind), k.Prefix())
					ch.Structural++
				}
			}
		}
		// Host rules: the FORWARD chain holds the wanted hosts of this
		// family, above the catch-alls (inserted at the top).
		var adds, dels []netip.Addr
		for _, h := range sortedAddrs(want) {
			if h.Is6() != f.v6 {
				continue
			}
			added := false
			for _, k := range []counter.Kind{counter.Upload, counter.Download} {
				if st.rules[counter.Key{Kind: k, Addr: h}] == 0 {
					emit("-I %s 1 %s %s -j RETURN", t.chain("FORWARD"), matchFlag(k), hostPrefix(h))
					added = true
				}
			}
			if added {
				adds = append(adds, h)
			}
		}
		present := map[netip.Addr]bool{}
		for k := range st.rules {
			present[k.Addr] = true
		}
		for _, h := range sortedAddrs(present) {
			for _, k := range []counter.Kind{counter.Upload, counter.Download} {
				copies := st.rules[counter.Key{Kind: k, Addr: h}]
				keep := 0
				if want[h] {
					keep = 1
				}
				for j := keep; j < copies; j++ {
					emit("-D %s %s %s -j RETURN", t.chain("FORWARD"), matchFlag(k), hostPrefix(h))
				}
			}
			if !want[h] {
				dels = append(dels, h)
			}
		}
		// Catch-alls last in the chain: what no host rule took.
		if restKnown {
			for _, k := range sortedKeys(rest) {
				if st.rest[k] == 0 || st.restFirst {
					emit("-A %s %s %s -j RETURN", t.chain("FORWARD"), matchFlag(k.Kind), k.Prefix())
					ch.Structural++
				}
			}
		}
		// Jumps last, so packets only reach complete chains: exactly one,
		// at position 1. Delete and insert sit in the same atomic batch.
		for _, bi := range builtins {
			js := st.jumps[bi]
			if len(js) == 1 && js[0] == 1 {
				continue
			}
			for range js {
				emit("-D %s -j %s", bi, t.chain(bi))
			}
			emit("-I %s 1 -j %s", bi, t.chain(bi))
			ch.Structural++
		}
		if n == 0 {
			continue
		}
		in := "*mangle\n" + b.String() + "COMMIT\n"
		if _, err := run(ctx, f.restore, []byte(in), "--noflush", "--wait=10"); err != nil {
			return ch, err
		}
		ch.Batches++
		ch.Added = append(ch.Added, adds...)
		ch.Removed = append(ch.Removed, dels...)
	}
	return ch, nil
}

// Teardown deletes our jumps, then flushes and deletes our chains, in one
// batch per family, touching nothing else.
func (t *IPTables) Teardown(ctx context.Context) error {
	snap, err := t.Read(ctx)
	if err != nil {
		return err
	}
	p := snap.plan.(*plan)
	for i, f := range t.families {
		var b strings.Builder
		if t.teardownLines(&b, p.tables[i]) == 0 {
			continue
		}
		if _, err := run(ctx, f.restore, []byte("*mangle\n"+b.String()+"COMMIT\n"), "--noflush", "--wait=10"); err != nil {
			return err
		}
	}
	return nil
}

// teardownLines writes the batch that removes our jumps, then our chains,
// and returns how many lines it wrote.
func (t *IPTables) teardownLines(b *strings.Builder, st *tableState) int {
	n := 0
	for _, bi := range builtins {
		for range st.jumps[bi] {
			fmt.Fprintf(b, "-D %s -j %s\n", bi, t.chain(bi))
			n++
		}
	}
	for _, bi := range builtins {
		if c := t.chain(bi); st.chains[c] {
			fmt.Fprintf(b, "-F %s\n-X %s\n", c, c)
			n += 2
		}
	}
	return n
}

// routerRule counts the router's own traffic, loopback excluded (LuCI
// talking to rpcd on 127.0.0.1 is not traffic anyone pays for).
func routerRule(builtin string) string {
	if builtin == "INPUT" {
		return "! -i lo -j RETURN"
	}
	return "! -o lo -j RETURN"
}

func matchFlag(k counter.Kind) string {
	if k == counter.Upload || k == counter.RestUp {
		return "-s"
	}
	return "-d"
}

// restWanted lists the catch-all counters the LAN prefixes of a family
// call for; known is false when the prefixes cannot be had (the rules
// there stay as they are).
func (t *IPTables) restWanted(v6 bool) (map[counter.Key]bool, bool) {
	if t.prefixes == nil {
		return nil, false
	}
	ps, err := t.prefixes()
	if err != nil {
		return nil, false
	}
	out := map[counter.Key]bool{}
	for _, p := range ps {
		if p.Addr().Is6() != v6 || p.IsSingleIP() || p.Addr().Is4In6() {
			continue
		}
		out[counter.RestKey(counter.RestUp, p)] = true
		out[counter.RestKey(counter.RestDown, p)] = true
	}
	return out, true
}

func sortedKeys[V any](m map[counter.Key]V) []counter.Key {
	out := make([]counter.Key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func hostPrefix(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

func sortedAddrs(m map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// run executes a binary directly (never through a shell) and returns stdout.
func run(ctx context.Context, bin string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		return nil, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}
