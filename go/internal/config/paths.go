package config

import (
	"errors"
	"path"
	"strings"
)

// Where each path option may point. The settings file can be written by
// anyone an admin delegates LuCI's settings page to, while every door runs
// as root: a path option must not become a way to make root write, remove
// or read a file of someone else's choosing. So each kind of path is
// confined to where it belongs on OpenWrt (where it is written, the
// directory is also checked at write time: internal/safepath).
var (
	// runtimeRoots hold the lock, the PID file and the working ledger:
	// RAM on OpenWrt (/var is a link to /tmp there).
	runtimeRoots = []string{"/tmp/", "/var/", "/run/"}
	// persistRoots hold the ledger's copy that survives a reboot: flash
	// (/etc, /overlay), or USB storage (/mnt). /tmp is accepted for a
	// router or a test without writable storage; it survives no reboot.
	persistRoots = []string{"/etc/", "/overlay/", "/mnt/", "/tmp/"}
	// leaseRoots hold dnsmasq's lease file (read only).
	leaseRoots = []string{"/tmp/", "/var/", "/run/", "/etc/", "/overlay/"}
	// certRoots hold the live feed's certificate and key (read only).
	certRoots = []string{"/etc/", "/tmp/", "/var/"}
)

// confinedPath accepts a clean absolute path strictly below one of roots:
// no "..", ".", empty or doubled components, and not a root itself.
func confinedPath(v string, roots []string) (string, error) {
	if !strings.HasPrefix(v, "/") {
		return "", errors.New("is not an absolute path")
	}
	if path.Clean(v) != v || strings.Contains(v, "/./") {
		return "", errors.New("is not a clean path (no .., ., // or trailing /)")
	}
	for _, r := range roots {
		if strings.HasPrefix(v, r) && len(v) > len(r) {
			return v, nil
		}
	}
	return "", errors.New("is not under " + strings.Join(roots, ", "))
}

func runtimePath(v string) (string, error) { return confinedPath(v, runtimeRoots) }

// pidPath is a runtime path ending in ".pid": the lock rewrites and
// removes it, so it must never name another program's file.
func pidPath(v string) (string, error) {
	p, err := runtimePath(v)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(path.Base(p), ".pid") || path.Base(p) == ".pid" {
		return "", errors.New("is not a PID file name (NAME.pid)")
	}
	return p, nil
}
