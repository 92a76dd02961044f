package config

import (
	"errors"
	"fmt"

	"github.com/transferometer/transferometer/internal/macaddr"
	"github.com/transferometer/transferometer/internal/names"
	"github.com/transferometer/transferometer/internal/uci"
)

// DeviceName is what the admin calls a device (`config host` sections,
// which the LuCI page writes): a name, which wins over every name the
// device gives itself, and a group it adds up under (a person, "kids",
// "IoT"), so that a phone that changes its MAC still counts for its owner.
type DeviceName struct {
	Name  string
	Group string
}

// HostSectionType is the type of the sections that name devices.
const HostSectionType = "host"

// maxNamedHosts bounds the host sections read.
const maxNamedHosts = 4096

// maxNameLen bounds a name or group as the page shows it.
const maxNameLen = 64

// parseHosts reads every `config host` section: option mac (required, a
// device's address), option name and option group (at least one). A bad
// section is an error naming it; a MAC named twice is one too.
func parseHosts(path string, f *uci.File) (map[macaddr.MAC]DeviceName, error) {
	secs := f.SectionsOfType(HostSectionType)
	if len(secs) == 0 {
		return nil, nil
	}
	if len(secs) > maxNamedHosts {
		return nil, fmt.Errorf("%s: %d host sections, at most %d", path, len(secs), maxNamedHosts)
	}
	out := map[macaddr.MAC]DeviceName{}
	where := map[macaddr.MAC]string{}
	for _, sec := range secs {
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s: host section '%s': %s", path, sec.Name, fmt.Sprintf(format, a...))
		}
		var raw [3]string
		for i, opt := range []string{"mac", "name", "group"} {
			o, ok := sec.Get(opt)
			if !ok {
				continue
			}
			if o.IsList {
				return nil, fail("list %s: takes a single value", opt)
			}
			raw[i] = o.Values[0]
		}
		if raw[0] == "" {
			return nil, fail("option mac is missing")
		}
		m, err := macaddr.Parse(raw[0])
		if err != nil || !m.IsDevice() {
			return nil, fail("option mac: %q is not a device's MAC address", raw[0])
		}
		var d DeviceName
		for i, dst := range []*string{&d.Name, &d.Group} {
			v := raw[i+1]
			if v == "" {
				continue
			}
			if _, err := names.Parse(v); err != nil || len(v) > maxNameLen {
				if err == nil {
					err = errors.New("too long")
				}
				return nil, fail("option %s: %v", []string{"name", "group"}[i], err)
			}
			*dst = v
		}
		if d == (DeviceName{}) {
			return nil, fail("neither option name nor option group")
		}
		if prev, dup := where[m]; dup {
			return nil, fail("mac %s is named in section '%s' already", m, prev)
		}
		out[m], where[m] = d, sec.Name
	}
	return out, nil
}
