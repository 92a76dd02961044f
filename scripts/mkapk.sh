#!/bin/sh
# mkapk.sh: OpenWrt 25.12 .apk packages (apk-tools 3) from this repository
# alone, no SDK, no apk-tools (make apk).
#
#   scripts/mkapk.sh [-o OUTDIR] [-b BUILDDIR] [-k KEY.pem] [ARCH...]
#
# For each ARCH (OpenWrt's names, `apk --print-arch` on the router; by default
# the Makefile's IPK_ARCHES) writes OUTDIR/ARCH/ (OUTDIR default dist/apk):
# transferometer-VERSION.apk, luci-app-transferometer-VERSION.apk (noarch,
# the same file in every ARCH) and packages.adb, the feed index, signed with
# KEY.pem (an EC or RSA private key in PEM) when -k is given. VERSION is the
# package Makefile's PKG_VERSION-rPKG_RELEASE. The binaries are built into
# BUILDDIR (default build/apk/) with GO (default go), exactly as for the .ipk
# files (scripts/gobuild.sh). The format is written by go/cmd/mkapk from the
# package Makefiles' blocks and files.manifest, the inputs of the .ipk build.
#
# Reproducible: every mtime is SOURCE_DATE_EPOCH, or else the time of the last
# commit; the same commit and Go version give the same bytes (an index signed
# with an EC key differs each time: ECDSA signatures are randomised).
set -euf
umask 022
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=gobuild.sh
. "$root/scripts/gobuild.sh"
out=$root/dist/apk
build=$root/build/apk
key=
GO=${GO:-go}
while getopts o:b:k: opt; do
	case $opt in
	o) out=$OPTARG ;;
	b) build=$OPTARG ;;
	k) key=$OPTARG ;;
	*) echo "usage: $0 [-o OUTDIR] [-b BUILDDIR] [-k KEY.pem] [ARCH...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- x86_64 mipsel_24kc mips_24kc arm_cortex-a7_neon-vfpv4 aarch64_cortex-a53

die() { echo "mkapk: $*" >&2; exit 1; }

mkdir -p "$out" "$build"
mktool "$root" "$build/mkapk" || die "building go/cmd/mkapk failed"
ver=$(sed -n 's/^PKG_VERSION:=//p' "$root/Makefile" | head -n 1)-$(sed -n 's/^PKG_RELEASE:=//p' "$root/Makefile" | head -n 1)
pairs=
for arch in "$@"; do
	bin=$build/$arch/transferometer
	gobuild "$root" "$arch" "$ver" "$bin" || die "building the binary for $arch failed"
	pairs="$pairs $arch=$bin"
done
# shellcheck disable=SC2086 # pairs are words without blanks
"$build/mkapk" apk -root "$root" -out "$out" -epoch "$(source_epoch "$root")" ${key:+-key "$key"} $pairs
