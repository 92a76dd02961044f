package config

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/names"
	"github.com/transferometer/transferometer/internal/uci"
)

// QuotaSectionType is the type of the sections that set data allowances.
const QuotaSectionType = "quota"

// maxQuotas bounds the quota sections read: each is a kernel object and a
// rule pair, and the page lists them all.
const maxQuotas = 64

// maxQuotaName is the longest quota name: it becomes part of nftables
// object and set names ("q_" + name + "_4"), which the kernel caps at 256
// but nft's listing and the page read better short.
const maxQuotaName = 32

// maxRateKbit caps a throttle rate at 10 Gbit/s.
const maxRateKbit = 10_000_000

// QuotaPer says how long an allowance lasts.
type QuotaPer string

// QuotaDirection says which traffic an allowance counts.
type QuotaDirection string

// QuotaAction says what happens when an allowance is used up.
type QuotaAction string

// The values of option per, direction and action.
const (
	QuotaPerPeriod QuotaPer = "period"
	QuotaPerDay    QuotaPer = "day"

	QuotaBoth QuotaDirection = "both"
	QuotaDown QuotaDirection = "down"
	QuotaUp   QuotaDirection = "up"

	QuotaNone     QuotaAction = "none"
	QuotaThrottle QuotaAction = "throttle"
	QuotaBlock    QuotaAction = "block"
)

// Quota is one `config quota` section: a data allowance for a set of
// devices together (MACs and the devices of Groups), or, with neither, for
// every device on its own.
type Quota struct {
	Name      string // section name; [a-z0-9_]{1,32}
	MACs      []macaddr.MAC
	Groups    []string
	Limit     uint64 // bytes, > 0
	Per       QuotaPer
	Direction QuotaDirection
	Action    QuotaAction
	RateKbit  uint64 // throttle only
	Notify    []int  // sorted, unique, 1..100
}

// PerDevice reports whether the quota gives every device an allowance of
// its own (it names no devices and no groups).
func (q Quota) PerDevice() bool { return len(q.MACs) == 0 && len(q.Groups) == 0 }

// parseQuotas reads every `config quota` section. A bad section is an error
// naming it and the option; nothing is taken from a file with one.
func parseQuotas(path string, f *uci.File) ([]Quota, error) {
	secs := f.SectionsOfType(QuotaSectionType)
	if len(secs) == 0 {
		return nil, nil
	}
	if len(secs) > maxQuotas {
		return nil, fmt.Errorf("%s: %d quota sections, at most %d", path, len(secs), maxQuotas)
	}
	out := make([]Quota, 0, len(secs))
	for _, sec := range secs {
		q, err := parseQuota(sec)
		if err != nil {
			return nil, fmt.Errorf("%s: quota section '%s': %w", path, sec.Name, err)
		}
		out = append(out, q)
	}
	return out, nil
}

func parseQuota(sec *uci.Section) (Quota, error) {
	q := Quota{Name: sec.Name, Per: QuotaPerPeriod, Direction: QuotaBoth, Action: QuotaBlock}
	if sec.Anonymous {
		return q, fmt.Errorf("needs a name (config quota 'kids'): it names the quota's kernel objects")
	}
	if !validQuotaName(sec.Name) {
		return q, fmt.Errorf("the name must be 1 to %d of a-z, 0-9 and _", maxQuotaName)
	}
	single := func(opt string) (string, bool, error) {
		o, ok := sec.Get(opt)
		if !ok {
			return "", false, nil
		}
		if o.IsList && len(o.Values) > 1 {
			return "", false, fmt.Errorf("list %s: takes a single value, not a list of %d", opt, len(o.Values))
		}
		return o.Values[0], true, nil
	}
	list := func(opt string) []string {
		o, ok := sec.Get(opt)
		if !ok {
			return nil
		}
		return listValues(o)
	}

	seenMAC := map[macaddr.MAC]bool{}
	for _, v := range list("mac") {
		m, err := macaddr.Parse(v)
		if err != nil || !m.IsDevice() {
			return q, fmt.Errorf("mac: %q is not a device's MAC address", v)
		}
		if !seenMAC[m] {
			seenMAC[m] = true
			q.MACs = append(q.MACs, m)
		}
	}
	seenGroup := map[string]bool{}
	for _, v := range list("group") {
		if _, err := names.Parse(v); err != nil || len(v) > maxNameLen {
			return q, fmt.Errorf("group: %q is not a group name", v)
		}
		if !seenGroup[v] {
			seenGroup[v] = true
			q.Groups = append(q.Groups, v)
		}
	}

	v, ok, err := single("limit")
	if err != nil {
		return q, err
	}
	if !ok {
		return q, fmt.Errorf("option limit is missing")
	}
	if q.Limit, err = ParseSize(v); err != nil {
		return q, fmt.Errorf("option limit: %q %w", v, err)
	}

	type choice struct {
		opt  string
		dst  *string
		vals []string
	}
	var per, dir, act string
	for _, c := range []choice{
		{"per", &per, []string{"period", "day"}},
		{"direction", &dir, []string{"both", "down", "up"}},
		{"action", &act, []string{"none", "throttle", "block"}},
	} {
		v, ok, err := single(c.opt)
		if err != nil {
			return q, err
		}
		if !ok {
			continue
		}
		found := false
		for _, w := range c.vals {
			found = found || v == w
		}
		if !found {
			return q, fmt.Errorf("option %s: %q is not one of %s", c.opt, v, strings.Join(c.vals, ", "))
		}
		*c.dst = v
	}
	if per != "" {
		q.Per = QuotaPer(per)
	}
	if dir != "" {
		q.Direction = QuotaDirection(dir)
	}
	if act != "" {
		q.Action = QuotaAction(act)
	}

	v, ok, err = single("rate")
	if err != nil {
		return q, err
	}
	switch {
	case ok && q.Action != QuotaThrottle:
		return q, fmt.Errorf("option rate: only with action 'throttle' (action is '%s')", q.Action)
	case !ok && q.Action == QuotaThrottle:
		return q, fmt.Errorf("option rate is missing (action 'throttle' needs a rate in kbit/s)")
	case ok:
		n, err := parseInt(v, 1, maxRateKbit)
		if err != nil {
			return q, fmt.Errorf("option rate: %q %w (kbit/s)", v, err)
		}
		q.RateKbit = uint64(n)
	}

	seenPct := map[int]bool{}
	for _, v := range list("notify") {
		n, err := parseInt(strings.TrimSuffix(v, "%"), 1, 100)
		if err != nil {
			return q, fmt.Errorf("notify: %q %w (percent)", v, err)
		}
		if !seenPct[n] {
			seenPct[n] = true
			q.Notify = append(q.Notify, n)
		}
	}
	sort.Ints(q.Notify)
	return q, nil
}

func validQuotaName(s string) bool {
	if s == "" || len(s) > maxQuotaName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// sizeUnit is the multiplier of a suffix ParseSize takes: SI (kB, MB,
// GB, TB, powers of 1000) and IEC (KiB, MiB, GiB, TiB, powers of 1024),
// as OpenWrt's and most tools' sizes are written. "KB" is refused: it
// means either.
func sizeUnit(u string) (uint64, bool) {
	switch u {
	case "", "B":
		return 1, true
	case "kB":
		return 1000, true
	case "MB":
		return 1000 * 1000, true
	case "GB":
		return 1000 * 1000 * 1000, true
	case "TB":
		return 1000 * 1000 * 1000 * 1000, true
	case "KiB":
		return 1 << 10, true
	case "MiB":
		return 1 << 20, true
	case "GiB":
		return 1 << 30, true
	case "TiB":
		return 1 << 40, true
	}
	return 0, false
}

// ParseSize reads a byte count: digits, optionally with a decimal fraction
// and one unit ("5MB", "1.5GiB", "1048576"). The result must be a whole
// number of bytes, above zero and below 2^64.
func ParseSize(v string) (uint64, error) {
	bad := fmt.Errorf("is not a size (bytes, or a number with kB, MB, GB, TB or KiB, MiB, GiB, TiB)")
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	num, unit := v[:i], strings.TrimSpace(v[i:])
	mult, ok := sizeUnit(unit)
	if !ok || num == "" || len(num) > 24 || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, bad
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("is too large (at most %d bytes)", uint64(math.MaxUint64))
		}
		if n == 0 {
			return 0, fmt.Errorf("is zero: an allowance must be above 0 bytes")
		}
		if n > math.MaxUint64/mult {
			return 0, fmt.Errorf("is too large (at most %d bytes)", uint64(math.MaxUint64))
		}
		return n * mult, nil
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, bad
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).SetUint64(mult)))
	if !r.IsInt() {
		return 0, fmt.Errorf("is not a whole number of bytes")
	}
	n := r.Num()
	if n.Sign() == 0 {
		return 0, fmt.Errorf("is zero: an allowance must be above 0 bytes")
	}
	if !n.IsUint64() {
		return 0, fmt.Errorf("is too large (at most %d bytes)", uint64(math.MaxUint64))
	}
	return n.Uint64(), nil
}

// FormatSize writes a byte count the way ParseSize reads it back, in the
// largest unit that keeps it whole.
func FormatSize(n uint64) string {
	for _, u := range []string{"TiB", "TB", "GiB", "GB", "MiB", "MB", "KiB", "kB"} {
		if m, _ := sizeUnit(u); n >= m && n%m == 0 {
			return strconv.FormatUint(n/m, 10) + u
		}
	}
	return strconv.FormatUint(n, 10)
}
