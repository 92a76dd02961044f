package links

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestPorts(t *testing.T) {
	all := []Link{
		{Index: 1, Name: "lo", Type: unix.ARPHRD_LOOPBACK},
		{Index: 2, Name: "eth0", Type: unix.ARPHRD_ETHER},
		{Index: 3, Name: "br-lan", Kind: "bridge", Type: unix.ARPHRD_ETHER},
		{Index: 4, Name: "lan2", Master: 3, Type: unix.ARPHRD_ETHER},
		{Index: 5, Name: "lan1", Master: 3, Type: unix.ARPHRD_ETHER},
		{Index: 6, Name: "eth0.10", Kind: "vlan", Master: 3, Parent: 2, Type: unix.ARPHRD_ETHER},
		{Index: 7, Name: "wg0", Kind: "wireguard", Master: 0, Type: unix.ARPHRD_NONE},
		{Index: 8, Name: "tap0", Master: 3, Type: unix.ARPHRD_NONE},
		{Index: 9, Name: "lan9", Master: 10, Type: unix.ARPHRD_ETHER}, // another bridge's port
		// DSA: the LAN is VLAN 1 on a VLAN-filtering bridge of switch ports.
		{Index: 10, Name: "br-dsa", Kind: "bridge", Type: unix.ARPHRD_ETHER},
		{Index: 11, Name: "br-dsa.1", Kind: "vlan", Parent: 10, Type: unix.ARPHRD_ETHER},
		{Index: 12, Name: "sw1", Master: 10, Kind: "dsa", Type: unix.ARPHRD_ETHER},
	}
	// The VLAN port eth0.10 stands for eth0, where fw4 puts its flowtable.
	ports, skipped, found := Ports(all, "br-lan")
	if !found || len(ports) != 3 || ports[0] != "eth0" || ports[1] != "lan1" || ports[2] != "lan2" {
		t.Fatalf("bridge ports = %q (found %v)", ports, found)
	}
	if ports, _, _ := Ports(all, "br-dsa.1"); len(ports) != 2 || ports[0] != "lan9" || ports[1] != "sw1" {
		t.Fatalf("DSA VLAN on a bridge = %q", ports)
	}
	if len(skipped) != 1 {
		t.Fatalf("skipped = %q, want tap0", skipped)
	}
	if ports, _, found := Ports(all, "eth0"); !found || len(ports) != 1 || ports[0] != "eth0" {
		t.Fatalf("plain device = %q", ports)
	}
	if ports, skipped, found := Ports(all, "wg0"); !found || len(ports) != 0 || len(skipped) != 1 {
		t.Fatalf("non-Ethernet LAN device = %q %q", ports, skipped)
	}
	if _, _, found := Ports(all, "br-nope"); found {
		t.Fatal("missing device found")
	}
}

func TestListHere(t *testing.T) {
	all, err := List(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.Name == "lo" && l.Index > 0 && l.Type == unix.ARPHRD_LOOPBACK {
			return
		}
	}
	t.Fatalf("no lo in %+v", all)
}
