package neigh

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func ndmsg(state uint16, attrs ...[]byte) []byte {
	b := make([]byte, ndmsgLen)
	binary.NativeEndian.PutUint16(b[8:10], state)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

func TestParse(t *testing.T) {
	mac := []byte{2, 0x77, 0, 0, 0, 1}
	v4 := netip.MustParseAddr("10.77.0.11")
	v6 := netip.MustParseAddr("fd77::11")
	e, ok := parse(ndmsg(nudStale, attr(ndaDst, v4.AsSlice()), attr(ndaLLAddr, mac)))
	if !ok || e.Addr != v4 || e.MAC.String() != "02:77:00:00:00:01" {
		t.Fatalf("v4: %+v %v", e, ok)
	}
	e, ok = parse(ndmsg(nudReachable, attr(ndaLLAddr, mac), attr(ndaDst, v6.AsSlice())))
	if !ok || e.Addr != v6 {
		t.Fatalf("v6: %+v %v", e, ok)
	}
	for name, b := range map[string][]byte{
		"failed":     ndmsg(0x20, attr(ndaDst, v4.AsSlice()), attr(ndaLLAddr, mac)),
		"incomplete": ndmsg(0x01, attr(ndaDst, v4.AsSlice())),
		"no mac":     ndmsg(nudStale, attr(ndaDst, v4.AsSlice())),
		"zero mac":   ndmsg(nudStale, attr(ndaDst, v4.AsSlice()), attr(ndaLLAddr, make([]byte, 6))),
		"short":      {1, 2, 3},
		"bad len":    append(ndmsg(nudStale), 200, 0, 1, 0),
	} {
		if _, ok := parse(b); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestReadHere reads this namespace's real table: it must not fail.
func TestReadHere(t *testing.T) {
	if _, err := Read(); err != nil {
		t.Fatal(err)
	}
}
