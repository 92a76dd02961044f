package account

// HookKind is the event kind of a dhcp-script action (dnsmasq's words,
// which the hotplug handlers use too); ok is false for any other word.
// The hook and the daemon applying a handed-over event both ask it, so
// the two cannot read an action differently.
func HookKind(action string) (kind EventKind, ok bool) {
	switch action {
	case "arp-add":
		return NeighAdd, true
	case "arp-del":
		return NeighDel, true
	case "add", "old", "update":
		return LeaseAdd, true
	case "del":
		return LeaseDel, true
	}
	return Collect, false
}
