package account

import (
	"fmt"

	"github.com/transferometer/transferometer/internal/netfilter"
)

// The choice of backend and placement is netfilter.Choose's; the core
// keeps the one it runs with, builds backends through its factory and, in
// a resident core, follows a changed choice (the switch itself, crediting
// the old backend before removing it, is in switch.go).

// want is what the settings ask netfilter.Choose for.
func (c *Core) want() netfilter.Want {
	s := c.settings
	return netfilter.Want{Backend: s.Backend, Variant: s.IPTablesVariant, Placement: s.Placement}
}

// choose asks netfilter for the kind the settings and the router call for.
func (c *Core) choose() (netfilter.Choice, error) {
	return netfilter.Choose(c.want(), c.host)
}

// newBackend is the default factory: netfilter.New with the core's
// settings; the netdev placement counts on the LAN device's ports for the
// LAN the events were checked against (cached by lanSet), not a second
// derivation.
func (c *Core) newBackend(k netfilter.Kind) (netfilter.Backend, error) {
	s := c.settings
	return netfilter.New(k, netfilter.Options{
		ChainPrefix: s.ChainPrefix,
		IPv6:        s.IPv6,
		Variant:     s.IPTablesVariant,
		LANDevice:   func() (string, error) { return s.ResolveLANDevice(c.configDir) },
		Prefixes:    c.LANPrefixes,
		Host:        c.host,
	})
}

// backendOf builds the backend that reads a rule family the ledger
// recorded (a previous backend being retired).
func (c *Core) backendOf(family string) (netfilter.Backend, error) {
	k, err := netfilter.KindOfFamily(family, c.want())
	if err != nil {
		return nil, fmt.Errorf("previous backend: %w", err)
	}
	b, err := c.backends(k)
	if err != nil {
		return nil, fmt.Errorf("previous backend: %w", err)
	}
	return b, nil
}

// current returns the backend the core counts with now.
func (c *Core) current() netfilter.Backend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backend
}

// chosen returns the choice the current backend was made from.
func (c *Core) chosen() netfilter.Choice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.choice
}

// Kind names the backend the core counts with now.
func (c *Core) Kind() netfilter.Kind { return c.current().Kind() }

// Placement names where the current backend counts forwarded bytes.
func (c *Core) Placement() netfilter.Placement { return c.Kind().Placement() }

// rechoose chooses again and, when the choice now falls on another rule
// family, replaces the backend; the switch itself (credit the old, tear it
// down) is switchBackends'.
func (c *Core) rechoose() error {
	ch, err := c.choose()
	if err != nil {
		return err
	}
	var b netfilter.Backend
	if ch.Kind.Family() != c.Kind().Family() {
		if b, err = c.backends(ch.Kind); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.choice = ch
	if b != nil {
		c.backend = b
	}
	return nil
}

// placement reports where the backend counts and why, and warns where
// flow offloading makes numbers incomplete: never silently wrong.
func (c *Core) placement(w *[]Warning) (string, string) {
	ch := c.chosen()
	if ch.Offload.Hardware {
		*w = append(*w, Warning{Code: "flow_offloading_hw", Message: "Hardware flow offloading is on: flows handed to the switch or NIC never reach the CPU, so no kernel hook (forward or netdev) sees their packets and per-host numbers miss them. Turn it off in Network → Firewall for exact counts. (conntrack's flowtable counters — fw4 gives its flowtable a counter — do keep per-flow totals; per-host numbers from them would need a conntrack reader, which Transferometer does not have.)"})
	}
	switch {
	case ch.Kind.Placement() == netfilter.PlacementNetdev:
		*w = append(*w, Warning{Code: "placement_netdev", Message: "Counting on the LAN devices' ingress and egress hooks because " + ch.Reason + "."})
	case ch.Offload.Software:
		*w = append(*w, Warning{Code: "flow_offloading", Message: "Software flow offloading is on and counting happens in the forward hook (" + ch.Reason + "): established TCP/UDP flows bypass it, so per-host numbers miss most forwarded traffic. Use the nftables backend on Linux 5.16 or later (option placement 'auto' or 'netdev'), or turn offloading off in Network → Firewall."})
	}
	return string(ch.Kind.Placement()), ch.Reason
}
