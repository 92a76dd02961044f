#!/bin/sh
# Builds what scripts/guest/exec boots: Debian's own kernel (OUTDIR/vmlinuz),
# a small busybox initramfs that mounts the host's root over virtio-9p
# (OUTDIR/initrd.img), and that kernel's whole module tree with depmod run on
# it (OUTDIR/modules/lib/modules/KVER), plus OUTDIR/kver.
# GUEST_KERNEL picks the kernel: 6.1 (default, bookworm's, from this host's
# apt sources) or 5.10 (bullseye's, OpenWrt 22.03's kernel series, fetched
# through a temporary sources list so this host's apt setup stays as it is).
# GUEST_KERNEL=5.10.0-NN picks that ABI of bullseye's (e.g. 5.10.0-32, the
# 5.10.226 of the bullseye point release, older than bullseye-security's).
# Usage: scripts/guest/build.sh [OUTDIR]
#   (default: <repo>/build/guest, or <repo>/build/guest-GUEST_KERNEL)
# Does nothing when the outputs exist, are newer than this script and init,
# and are for the same GUEST_KERNEL.
# Run as root (installs missing Debian packages with apt-get).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
series=${GUEST_KERNEL:-6.1}
case $series in
6.1) defout=$here/../../build/guest ;;
5.10 | 5.10.0-[0-9] | 5.10.0-[0-9][0-9] | 5.10.0-[0-9][0-9][0-9]) defout=$here/../../build/guest-$series ;;
*) echo "guest/build: GUEST_KERNEL=$series: want 6.1, 5.10 or 5.10.0-NN" >&2; exit 2 ;;
esac
out=${1:-$defout}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -f "$out/stamp" ] && [ "$(cat "$out/series" 2>/dev/null || echo 6.1)" = "$series" ] &&
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

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user must be able to write there.
chown _apt "$tmp" 2>/dev/null || true

# The exact kernel package behind the metapackage, e.g. linux-image-6.1.0-56-amd64.
# APT holds the options that point apt at another suite (empty: this host's).
APT=""
kpkg() { # shellcheck disable=SC2086 # APT's words are separate options
	apt-cache $APT depends linux-image-amd64 2>/dev/null |
		awk -v p="linux-image-$series." \
			'$1 == "Depends:" && index($2, p) == 1 && $2 ~ /-amd64$/ { print $2; exit }'; }
if [ "$series" = 6.1 ]; then
	pkg=$(kpkg)
	[ -n "$pkg" ] || { update; pkg=$(kpkg); }
else
	# bullseye and bullseye-security through a sources list, package lists
	# and caches of our own in $tmp: the host's apt sources, lists and
	# caches are neither used nor changed.
	a=$tmp/apt
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	kr=/usr/share/keyrings/debian-archive-keyring.gpg
	printf '%s\n' \
		"deb [signed-by=$kr] http://deb.debian.org/debian bullseye main" \
		"deb [signed-by=$kr] http://deb.debian.org/debian-security bullseye-security main" \
		>"$a/sources.list"
	chown -R _apt "$a" 2>/dev/null || true
	APT="-o Dir::Etc::SourceList=$a/sources.list -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists=$a/lists -o Dir::Cache=$a/cache
		-o Dir::Cache::pkgcache=$a/cache/pkgcache.bin -o Dir::Cache::srcpkgcache=$a/cache/srcpkgcache.bin"
	echo "guest/build: fetching bullseye's package lists" >&2
	# shellcheck disable=SC2086
	apt-get $APT update -qq
	case $series in
	5.10) pkg=$(kpkg) ;;
	*) pkg=linux-image-$series-amd64 ;;
	esac
fi
[ -n "$pkg" ] || { echo "guest/build: no linux-image-$series.*-amd64 behind linux-image-amd64" >&2; exit 1; }

# shellcheck disable=SC2086
if ! (cd "$tmp" && apt-get $APT download -qq "$pkg"); then
	[ -z "$APT" ] || exit 1
	update
	(cd "$tmp" && apt-get download -qq "$pkg")
fi
# busybox-static (this host's suite: any kernel runs it) is only downloaded,
# not installed: it conflicts with the (dynamic) busybox package that
# install-deps.sh installs.
if ! (cd "$tmp" && apt-get download -qq busybox-static); then
	update
	(cd "$tmp" && apt-get download -qq busybox-static)
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
echo "$series" >"$out/series"
touch "$out/stamp"
echo "guest/build: $out: kernel $kver ($pkg)" >&2
