#!/bin/sh
# Builds what scripts/guest/exec boots: Debian bookworm's own 6.1 kernel
# (OUTDIR/vmlinuz), a small busybox initramfs that mounts the host's root over
# virtio-9p (OUTDIR/initrd.img), and that kernel's whole module tree with
# depmod run on it (OUTDIR/modules/lib/modules/KVER), plus OUTDIR/kver.
# Usage: scripts/guest/build.sh [OUTDIR]   (default: <repo>/build/guest)
# Does nothing when the outputs exist and are newer than this script and init.
# Run as root (installs missing Debian packages with apt-get).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -f "$out/stamp" ] &&
	[ -n "$(find "$out/stamp" -newer "$here/build.sh" -newer "$here/init")" ]; then
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
updated=""
update() { [ -n "$updated" ] || { apt-get update -qq; updated=1; }; }

# Host packages: qemu, depmod/modprobe (kmod: also the guest's modprobe, as
# the guest's root is this host's root), cpio for the initramfs.
need=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
command -v depmod >/dev/null 2>&1 || need="$need kmod"
command -v cpio >/dev/null 2>&1 || need="$need cpio"
if [ -n "$need" ]; then
	update
	echo "guest/build: installing$need" >&2
	# shellcheck disable=SC2086 # word splitting is the point
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# The exact kernel package behind the metapackage, e.g. linux-image-6.1.0-56-amd64.
kpkg() { apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\..*-amd64$/ { print $2; exit }'; }
pkg=$(kpkg)
[ -n "$pkg" ] || { update; pkg=$(kpkg); }
[ -n "$pkg" ] || { echo "guest/build: no linux-image-6.1.*-amd64 behind linux-image-amd64" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user must be able to write there.
chown _apt "$tmp" 2>/dev/null || true
# busybox-static is only downloaded, not installed: it conflicts with the
# (dynamic) busybox package that install-deps.sh installs.
if ! (cd "$tmp" && apt-get download -qq "$pkg" busybox-static); then
	update
	(cd "$tmp" && apt-get download -qq "$pkg" busybox-static)
fi
echo "guest/build: unpacking $pkg and busybox-static" >&2
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/k"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb"

for mdir in "$tmp"/k/lib/modules/* "$tmp"/k/usr/lib/modules/*; do
	[ -d "$mdir" ] && break
done
kver=${mdir##*/}
if [ ! -d "$mdir" ] || [ ! -f "$tmp/k/boot/vmlinuz-$kver" ]; then
	echo "guest/build: no kernel in $pkg" >&2
	exit 1
fi

# The whole module tree, for the guest's /lib/modules/KVER.
rm -rf "$out/modules" "$out/stamp"
mkdir -p "$out/modules/lib/modules"
mv "$mdir" "$out/modules/lib/modules/$kver"
depmod -b "$out/modules" "$kver"
cp "$tmp/k/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$tmp/k/boot/config-$kver" "$out/config"

# The initramfs: static busybox with its applet links, /init, and the
# modules (with their dependencies, in load order) to reach the 9p shares,
# the overlay root and the virtio serial ports that carry stdout/stderr.
ird="$tmp/ird"
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/modules"
cp "$tmp/bb/bin/busybox" "$ird/bin/busybox"
for a in $("$ird/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$ird/bin/$a"
done
# The kernel does not mount devtmpfs on an initramfs: init's console must exist.
mknod -m 600 "$ird/dev/console" c 5 1
cp "$here/init" "$ird/init"
chmod 755 "$ird/init"
# Files between the steps, not pipes: set -e sees only a pipeline's last
# command, and a failed step must not leave an image the stamp calls good.
for m in virtio_pci 9pnet_virtio 9p overlay virtio_console virtio_rng; do
	modprobe -d "$out/modules" -S "$kver" --show-depends "$m" >>"$tmp/deps"
done
awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$tmp/deps" >"$tmp/kos"
while read -r ko; do
	cp "$ko" "$ird/modules/"
	echo "${ko##*/}" >>"$ird/modules/order"
done <"$tmp/kos"
[ -s "$ird/modules/order" ] || { echo "guest/build: no modules found for the initramfs" >&2; exit 1; }
(cd "$ird" && find . >"$tmp/files" && cpio -o -H newc --quiet <"$tmp/files" >"$tmp/initrd.cpio")
gzip -9 <"$tmp/initrd.cpio" >"$out/initrd.img"

echo "$kver" >"$out/kver"
touch "$out/stamp"
echo "guest/build: $out: kernel $kver ($pkg)" >&2
