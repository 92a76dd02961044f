package links

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

// The router namespace's default routes go out of wan: its addresses are
// the WAN's, br-lan's are not.
func TestWANAddrs(t *testing.T) {
	lan := testlan.New(t, testlan.Options{NumHosts: 1})
	f, err := os.Open(filepath.Join("/run/netns", lan.Router))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := WANAddrs(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	has := map[netip.Addr]bool{}
	for _, a := range got {
		has[a] = true
	}
	if !has[lan.RouterWAN4] || !has[lan.RouterWAN6] {
		t.Errorf("WAN addresses %v lack %v, %v", got, lan.RouterWAN4, lan.RouterWAN6)
	}
	if has[lan.RouterLAN4] || has[lan.RouterLAN6] {
		t.Errorf("WAN addresses %v include a LAN address", got)
	}
}
