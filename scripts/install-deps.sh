#!/bin/sh
# Installs what `make test` and `make demo` need on Debian 12, only when
# missing. Run as root. Usage: scripts/install-deps.sh [test|demo]
set -eu

need=""
have() { command -v "$1" >/dev/null 2>&1; }
want() { # want COMMAND PACKAGE
	have "$1" || need="$need $2"
}
want iptables-legacy iptables
want ip6tables-nft iptables
want nft nftables
want ip iproute2
want dnsmasq dnsmasq-base
want ping iputils-ping
want iperf3 iperf3
want ethtool ethtool
want busybox busybox
want faketime faketime
want chromium chromium
want node nodejs
want npm npm
want qemu-mipsel-static qemu-user-static
want qemu-aarch64-static qemu-user-static
want git git
# scripts/guest (tests on Debian's own 6.1 kernel under qemu): qemu, kmod
# (depmod there, and the guest's modprobe), cpio for its initramfs.
want qemu-system-x86_64 qemu-system-x86
want depmod kmod
want cpio cpio

# Go: this project builds with Go >= 1.21 (go.mod says 1.21, OpenWrt 23.05's SDK).
PATH="$PATH:/usr/local/go/bin"
go_ok() {
	have go || return 1
	v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
	major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
	[ "${major:-0}" -gt 1 ] || [ "${minor:-0}" -ge 21 ]
}

if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing:$need; run as root (sudo make ...)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	echo "install-deps: installing$need"
	# shellcheck disable=SC2086 # word splitting is the point
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
# Debian 12's own golang-go is 1.19, too old; the Go toolchain is expected
# at /usr/local/go (as on this project's machines) or on PATH.
go_ok || { echo "install-deps: need Go >= 1.21 on PATH or in /usr/local/go (Debian 12's golang-go is 1.19)" >&2; exit 1; }
