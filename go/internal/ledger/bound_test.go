package ledger

import (
	"math/rand"
	"net/netip"
	"testing"

	"github.com/transferometer/transferometer/internal/macaddr"
)

func devMAC(i int) macaddr.MAC {
	return macaddr.MAC{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
}

func TestBoundExpiresIdleDevices(t *testing.T) {
	h, tr := NewHosts(), NewTransfer()
	old, recent, active, unknown := devMAC(1), devMAC(2), devMAC(3), devMAC(4)
	h.Devices[old] = &DeviceInfo{Hostname: "gone", LastSeen: 100}
	h.Devices[recent] = &DeviceInfo{LastSeen: 5000}
	h.Devices[active] = &DeviceInfo{LastSeen: 50}
	h.IPs[netip.MustParseAddr("10.0.0.3")] = IPEntry{MAC: active, LastSeen: 50}
	tr.Totals[old] = Usage{DownloadBytes: 10}
	tr.Totals[unknown] = Usage{DownloadBytes: 1}
	tr.Period.Usage[old] = Usage{DownloadBytes: 4}
	b := Bound(h, tr, Limits{MaxDevices: 100, MaxAddrs: 4, Since: 1000})
	if len(b.Expired) != 1 || b.Expired[0] != old || len(b.Evicted) != 0 || len(b.Dropped) != 0 {
		t.Fatalf("bounded %+v", b)
	}
	if _, ok := h.Devices[old]; ok || tr.Totals[ExpiredKey].DownloadBytes != 10 || tr.Period.Usage[ExpiredKey].DownloadBytes != 4 || tr.ExpiredDevices != 1 {
		t.Fatalf("old device not expired into the total: %+v %+v", tr.Totals, tr.Period.Usage)
	}
	if _, ok := tr.Totals[unknown]; !ok {
		t.Fatal("a device without info (host.db lost) expired")
	}
	if h.Devices[active] == nil || h.Devices[recent] == nil {
		t.Fatal("an active or recent device expired")
	}
}

func TestBoundAddressCap(t *testing.T) {
	h, tr := NewHosts(), NewTransfer()
	m := devMAC(1)
	h.Devices[m] = &DeviceInfo{LastSeen: 100}
	for i := 0; i < 20; i++ {
		h.IPs[netip.AddrFrom16([16]byte{0xfd, 15: byte(i)})] = IPEntry{MAC: m, LastSeen: int64(i)}
	}
	b := Bound(h, tr, Limits{MaxAddrs: 16})
	if len(b.Dropped) != 4 || len(h.IPs) != 16 {
		t.Fatalf("dropped %v, kept %d", b.Dropped, len(h.IPs))
	}
	for _, a := range b.Dropped {
		if h := a.As16()[15]; h >= 4 {
			t.Errorf("dropped %v, a recent address", a)
		}
	}
}

// Phones that randomise their MAC (or one client forging ARP) churn
// through thousands of MACs: the table stays bounded, idle and oldest go
// first, active devices stay, and every byte stays in the totals.
func TestBoundChurn(t *testing.T) {
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	h, tr := NewHosts(), NewTransfer()
	var want uint64
	const max = 64
	keepers := map[macaddr.MAC]bool{}
	for i := 0; i < 10; i++ { // long-lived devices, seen at every step
		keepers[devMAC(1_000_000+i)] = true
	}
	for step := 0; step < 3000; step++ {
		now := int64(10_000 + step)
		m := devMAC(step)
		a := netip.AddrFrom4([4]byte{10, 0, byte(rng.Intn(2)), byte(rng.Intn(100))})
		if e, ok := h.IPs[a]; ok && e.MAC != m {
			delete(h.IPs, a) // the address moved to the new MAC
		}
		h.IPs[a] = IPEntry{MAC: m, LastSeen: now}
		h.Devices[m] = &DeviceInfo{LastSeen: now}
		n := uint64(rng.Intn(1000))
		tr.Totals[m] = tr.Totals[m].Add(Usage{DownloadBytes: n})
		want += n
		for k := range keepers {
			h.Devices[k] = &DeviceInfo{LastSeen: now}
			ka := netip.AddrFrom4([4]byte{10, 1, 0, byte(k[5])})
			h.IPs[ka] = IPEntry{MAC: k, LastSeen: now}
			tr.Totals[k] = tr.Totals[k].Add(Usage{DownloadBytes: 1})
			want++
		}
		Bound(h, tr, Limits{MaxDevices: max, MaxAddrs: 16, Since: 0})
		if len(h.Devices) > max {
			t.Fatalf("step %d: %d devices", step, len(h.Devices))
		}
	}
	var got uint64
	for _, u := range tr.Totals {
		got += u.DownloadBytes
	}
	if got != want {
		t.Fatalf("totals %d, want %d (bytes lost or doubled)", got, want)
	}
	for k := range keepers {
		if h.Devices[k] == nil || tr.Totals[k].DownloadBytes != 3000 {
			t.Errorf("long-lived %v: %+v", k, tr.Totals[k])
		}
	}
	if len(tr.Totals) > max+1 {
		t.Errorf("%d totals entries", len(tr.Totals))
	}
	t.Logf("expired %d devices, %d bytes under expired", tr.ExpiredDevices, tr.Totals[ExpiredKey].DownloadBytes)
}
