package account

import "testing"

func TestHookKind(t *testing.T) {
	for action, want := range map[string]EventKind{
		"arp-add": NeighAdd, "arp-del": NeighDel,
		"add": LeaseAdd, "old": LeaseAdd, "update": LeaseAdd, "del": LeaseDel,
	} {
		if got, ok := HookKind(action); !ok || got != want {
			t.Errorf("HookKind(%q) = %v %v, want %v", action, got, ok, want)
		}
	}
	for _, action := range []string{"", "collect", "ADD", "arp-", "tftp", "init"} {
		if _, ok := HookKind(action); ok {
			t.Errorf("HookKind(%q) took it", action)
		}
	}
}
