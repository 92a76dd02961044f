package metrics

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The parser below reads back what Write produces, strictly; the tests use
// it to hold the output to the format, and a scraper-side tool could too.

// Sample is one parsed sample line.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  uint64
}

// Parse reads the text format strictly: every sample's family must have
// HELP and TYPE lines before it; label values are unescaped.
func Parse(text string) ([]Sample, error) {
	// Compiled here, not at package init: every hook run would pay for it.
	sampleRE := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([0-9]+)$`)
	labelRE := regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)`)
	typed := map[string]bool{}
	var out []Sample
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			if len(f) != 4 || (f[3] != "counter" && f[3] != "gauge") {
				return nil, fmt.Errorf("line %d: bad TYPE %q", n, line)
			}
			typed[f[2]] = true
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: not a sample: %q", n, line)
		}
		if !typed[m[1]] {
			return nil, fmt.Errorf("line %d: %s has no TYPE", n, m[1])
		}
		s := Sample{Name: m[1], Labels: map[string]string{}}
		for rest := m[3]; rest != ""; {
			l := labelRE.FindStringSubmatch(rest)
			if l == nil {
				return nil, fmt.Errorf("line %d: bad labels %q", n, m[3])
			}
			v := strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(l[2])
			s.Labels[l[1]] = v
			rest = rest[len(l[0]):]
		}
		v, err := strconv.ParseUint(m[4], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, nil
}
