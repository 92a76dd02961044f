package counter

import (
	"encoding/json"
	"net/netip"
	"testing"
)

func TestKeyText(t *testing.T) {
	for _, s := range []string{"up 10.0.0.5", "down fd00::5", "in 0.0.0.0", "out ::", "rest-up 10.0.0.0/24", "rest-down fd00::/64"} {
		k, err := ParseKey(s)
		if err != nil || k.String() != s {
			t.Errorf("ParseKey(%q) = %v, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "up", "up 10.0.0.0/8", "in 10.0.0.1", "up ::", "sideways 1.2.3.4", "up fe80::1%eth0", "rest-up 10.0.0.1/24", "rest-down 10.0.0.1", "rest-up 10.0.0.1/32", "up 10.0.0.0/24"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded", s)
		}
	}
}

// Keys are the ledger's JSON map keys: they must come back exactly, and a
// damaged key must fail the decode.
func TestKeyJSON(t *testing.T) {
	in := map[Key]Counter{
		HostKey(Upload, netip.MustParseAddr("10.0.0.5")):     {Packets: 1, Bytes: 100},
		RouterKey(RouterOut, netip.MustParseAddr("fd00::1")): {Packets: 2, Bytes: 200},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out map[Key]Counter
	if err := json.Unmarshal(b, &out); err != nil || len(out) != 2 || out[RouterKey(RouterOut, netip.IPv6Unspecified())].Bytes != 200 {
		t.Fatalf("round trip %s: %v, %v", b, out, err)
	}
	if err := json.Unmarshal([]byte(`{"up 10.0.0.0/8":{"packets":1,"bytes":1}}`), &out); err == nil {
		t.Fatal("a damaged key decoded")
	}
}
