//go:build linux

package testlan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// Setup does sysctls and offload changes in-process rather than through
// `ip netns exec sysctl` and `ip netns exec ethtool`: each of those is a
// namespace switch plus a process, mostly serialised in the kernel, which
// made building a LAN of many hosts slow.

// inNetns runs fn on an OS thread that has joined network namespace ns.
// fn must do its work on the calling goroutine (plain syscalls only).
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Locked and never unlocked: once moved to ns the thread must not
		// run other goroutines, so the runtime discards it when this
		// goroutine exits.
		runtime.LockOSThread()
		errc <- func() error {
			f, err := os.Open(filepath.Join("/run/netns", ns))
			if err != nil {
				return fmt.Errorf("opening namespace: %w", err)
			}
			defer f.Close()
			if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
				return fmt.Errorf("setns %s: %w", ns, e)
			}
			return fn()
		}()
	}()
	return <-errc
}

// writeSysctls sets keys ("net.ipv4.ip_forward=1") in ns. /proc/sys/net
// shows the namespace of the thread that opens it. Keys listed in optional
// are skipped when absent (br_netfilter's exist only when it is loaded).
func writeSysctls(ns string, keys []string, optional map[string]bool) error {
	return inNetns(ns, func() error {
		for _, kv := range keys {
			k, v, _ := strings.Cut(kv, "=")
			path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if errors.Is(err, fs.ErrNotExist) && optional[k] {
				continue
			}
			if err != nil {
				return fmt.Errorf("sysctl %s in %s: %w", k, ns, err)
			}
			_, err = f.WriteString(v)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("sysctl %s=%s in %s: %w", k, v, ns, err)
			}
		}
		return nil
	})
}

// Ethtool ioctls (linux/ethtool.h, linux/sockios.h). The legacy
// per-feature ioctls (ETHTOOL_STSO...) are not enough: kernel 6.18's
// tx-tcp-accecn-segmentation is outside their TSO mask. So, like
// `ethtool -K DEV tso off gso off gro off`, this looks the feature names up
// and clears every "tx-tcp*-segmentation", "tx-generic-segmentation" and
// "rx-gro" bit with ETHTOOL_SFEATURES.
const (
	siocEthtool       = 0x8946
	ethtoolGStrings   = 0x1b
	ethtoolGSsetInfo  = 0x37
	ethtoolSFeatures  = 0x3b
	ethSSFeatures     = 4
	ethGStringLen     = 32
	ethtoolFWish      = 1 << 1
	ethtoolFUnsupport = 1 << 0
)

// ifreq is struct ifreq with ifr_data; padded past the kernel's 40 bytes
// because the kernel copies the whole struct in.
type ifreq struct {
	name [16]byte
	data unsafe.Pointer
	_    [24]byte
}

// ethtool runs one SIOCETHTOOL request; buf starts with the command word.
func ethtool(fd int, dev string, buf []byte) (uintptr, error) {
	var ifr ifreq
	copy(ifr.name[:len(ifr.name)-1], dev)
	ifr.data = unsafe.Pointer(&buf[0])
	r, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(buf)
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// offloadFeature reports whether a feature name is one that
// `ethtool -K tso off gso off gro off` turns off.
func offloadFeature(name string) bool {
	return name == "tx-generic-segmentation" || name == "rx-gro" ||
		(strings.HasPrefix(name, "tx-tcp") && strings.HasSuffix(name, "-segmentation"))
}

// disableOffloads turns TSO, GSO and GRO off on devs in ns, so every
// counter sees wire-sized packets rather than super-packets.
func disableOffloads(ns string, devs ...string) error {
	ne := binary.NativeEndian
	return inNetns(ns, func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket in %s: %w", ns, err)
		}
		defer syscall.Close(fd)
		for _, dev := range devs {
			// struct ethtool_sset_info: cmd, reserved, u64 sset_mask, data[1].
			info := make([]byte, 20)
			ne.PutUint32(info[0:], ethtoolGSsetInfo)
			ne.PutUint64(info[8:], 1<<ethSSFeatures)
			if _, err := ethtool(fd, dev, info); err != nil {
				return fmt.Errorf("ETHTOOL_GSSET_INFO on %s in %s: %w", dev, ns, err)
			}
			n := int(ne.Uint32(info[16:]))
			// struct ethtool_gstrings: cmd, string_set, len, data[len*32].
			strs := make([]byte, 12+n*ethGStringLen)
			ne.PutUint32(strs[0:], ethtoolGStrings)
			ne.PutUint32(strs[4:], ethSSFeatures)
			ne.PutUint32(strs[8:], uint32(n))
			if _, err := ethtool(fd, dev, strs); err != nil {
				return fmt.Errorf("ETHTOOL_GSTRINGS on %s in %s: %w", dev, ns, err)
			}
			// struct ethtool_sfeatures: cmd, size, {valid, requested}[size].
			words := (n + 31) / 32
			set := make([]byte, 8+8*words)
			ne.PutUint32(set[0:], ethtoolSFeatures)
			ne.PutUint32(set[4:], uint32(words))
			for i := 0; i < n; i++ {
				name := string(bytes.TrimRight(strs[12+i*ethGStringLen:12+(i+1)*ethGStringLen], "\x00"))
				if offloadFeature(name) {
					off := 8 + 8*(i/32)
					ne.PutUint32(set[off:], ne.Uint32(set[off:])|1<<(i%32)) // valid; requested stays 0
				}
			}
			r, err := ethtool(fd, dev, set)
			if err != nil {
				return fmt.Errorf("ETHTOOL_SFEATURES on %s in %s: %w", dev, ns, err)
			}
			if r&ethtoolFWish != 0 {
				return fmt.Errorf("ETHTOOL_SFEATURES on %s in %s: some offloads stayed on (result %#x)", dev, ns, r)
			}
		}
		return nil
	})
}
