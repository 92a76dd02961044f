package ledger

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// A file that fails to decode as a whole may still be mostly good: one bad
// entry (a key that is no address, a device with a null record, a MAC of
// all zeros) must not cost every other device its history. salvage drops
// the entries that do not decode or validate on their own, one by one, and
// keeps the rest; only a file that is no JSON object of this version at all
// is lost as a whole (kept aside, as before).

// entryMaps lists, per file, where its maps are, as paths of JSON object
// keys ("*": every key at that level). Entries are tried innermost first.
var entryMaps = map[string][][]string{
	HostsFile:    {{"ips"}, {"devices"}},
	TransferFile: {{"totals"}, {"baselines"}, {"day", "usage"}, {"period", "usage"}, {"retired", "baselines"}, {"pending"}, {"hour", "usage"}},
	HistoryFile:  {{"days", "*"}, {"periods", "*"}, {"days"}, {"periods"}},
	HoursFile:    {{"hours"}},
}

// maxDropped bounds how many dropped entries are named in a warning.
const maxDropped = 5

// salvage decodes data into into, dropping map entries that fail on their
// own. It returns what it dropped; an error means nothing could be kept.
func salvage(name string, data []byte, into versioned, fresh func() versioned) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	var dropped []string
	for _, path := range entryMaps[name] {
		prune(top, path, nil, fresh, &dropped)
	}
	cleaned, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(cleaned, into); err != nil {
		return nil, err
	}
	return dropped, nil
}

// prune walks obj along path and drops the entries of the maps it leads
// to that do not decode and validate alone (at their place, inside an
// otherwise empty file).
func prune(obj map[string]json.RawMessage, path, prefix []string, fresh func() versioned, dropped *[]string) {
	keys := []string{path[0]}
	if path[0] == "*" {
		keys = sortedKeys(obj)
	}
	for _, k := range keys {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || m == nil {
			continue // not an object: the level above drops it, or the file fails
		}
		here := append(append([]string(nil), prefix...), k)
		if len(path) > 1 {
			prune(m, path[1:], here, fresh, dropped)
		} else {
			for _, e := range sortedKeys(m) {
				doc := nest(here, map[string]json.RawMessage{e: m[e]})
				if err := decodeStrict(doc, fresh()); err != nil {
					delete(m, e)
					*dropped = append(*dropped, fmt.Sprintf("%s %q (%v)", strings.Join(here, "."), e, err))
				}
			}
		}
		obj[k] = mustMarshal(m)
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// nest builds {"version": Version, path[0]: {path[1]: ... leaf}}.
func nest(path []string, leaf map[string]json.RawMessage) []byte {
	v := mustMarshal(leaf)
	for i := len(path) - 1; i >= 0; i-- {
		v = mustMarshal(map[string]json.RawMessage{path[i]: v})
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(v, &top)
	top["version"] = mustMarshal(Version)
	return mustMarshal(top)
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of raw JSON and ints: cannot fail
	}
	return b
}

// summary names what salvage dropped, bounded.
func summary(dropped []string) string {
	s := strings.Join(dropped[:min(len(dropped), maxDropped)], "; ")
	if len(dropped) > maxDropped {
		s += fmt.Sprintf("; and %d more", len(dropped)-maxDropped)
	}
	return fmt.Sprintf("%d bad entries dropped: %s", len(dropped), s)
}
