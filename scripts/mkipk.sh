#!/bin/sh
# mkipk.sh: OpenWrt .ipk packages from this repository alone, no SDK (make ipk).
#
#   scripts/mkipk.sh [-o OUTDIR] [-b BUILDDIR] [ARCH...]
#
# Builds transferometer_VERSION_ARCH.ipk for each ARCH (OpenWrt's names; by
# default the five of the Makefile's IPK_ARCHES) and
# luci-app-transferometer_VERSION_all.ipk into OUTDIR (default dist/), and the
# feed index beside them (Packages, Packages.gz). The binaries are built into
# BUILDDIR (default build/ipk/) with GO (default go). Needs POSIX sh, GNU tar
# (--sort), gzip; no network beyond what `go build` needs for a cold module
# cache.
#
# One source for everything: the version, licence, maintainer, URL,
# description and dependencies are read from the OpenWrt package Makefiles
# (the Depends field through go/cmd/mkapk, which makes the .apk files from
# the same blocks: one .ipk serves fw3 and fw4 releases, README "Install on
# a router"), the data tree of
# transferometer from files.manifest (the list Package/transferometer/install
# reads; its `link` lines become symlinks), that of luci-app-transferometer from its htdocs/ (-> /www) and root/
# (-> /), as luci.mk installs them.
#
# The package is laid out as OpenWrt's ipkg-build (scripts/ipkg-build) and
# include/package-ipkg.mk make it: control fields in the same order,
# Installed-Size the byte size of the uncompressed data tar (opkg reads bytes),
# the generic postinst/prerm that source /lib/functions.sh and call
# default_postinst/default_prerm, which run the package's own postinst-pkg /
# prerm-pkg. Differences: the outer tar holds debian-binary, control.tar.gz,
# data.tar.gz in Debian's order (ipkg-build puts data first; opkg takes either)
# and the owner is always 0:0.
#
# Reproducible: every mtime is SOURCE_DATE_EPOCH, or else the time of the last
# commit (git log -1 --format=%ct), or else the Makefile's mtime; members are
# sorted, owners numeric 0:0, gzip -n (no name, no time); Go builds with
# -trimpath -buildvcs=false. The same commit and Go version give the same bytes.
set -euf
umask 022
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=gobuild.sh
. "$root/scripts/gobuild.sh"
out=$root/dist
build=$root/build/ipk
GO=${GO:-go}
while getopts o:b: opt; do
	case $opt in
	o) out=$OPTARG ;;
	b) build=$OPTARG ;;
	*) echo "usage: $0 [-o OUTDIR] [-b BUILDDIR] [ARCH...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- x86_64 mipsel_24kc mips_24kc arm_cortex-a7_neon-vfpv4 aarch64_cortex-a53

die() { echo "mkipk: $*" >&2; exit 1; }

# mkvar NAME FILE: the value of NAME:=VALUE in an OpenWrt Makefile.
mkvar() {
	v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*:=[[:space:]]*//p" "$2" | head -n 1)
	[ -n "$v" ] || die "$2: no $1:="
	printf '%s\n' "$v"
}

# mkdefine NAME FILE: the body of `define NAME` ... `endef`.
mkdefine() {
	awk -v name="$1" '$0 == "define " name { on = 1; next } on && /^endef/ { exit } on { print }' "$2"
}

mk=$root/Makefile
luci_mk=$root/luci-app-transferometer/Makefile
version=$(mkvar PKG_VERSION "$mk")-$(mkvar PKG_RELEASE "$mk")
license=$(mkvar PKG_LICENSE "$mk")
maintainer=$(mkvar PKG_MAINTAINER "$mk")

# Depends as package-ipkg.mk writes it: libc first (PKG_DEFAULT_DEPENDS), then
# the Makefile's DEPENDS with @conditions and $(variables) dropped (they
# select, they do not depend), the + removed and CONFIG: prefixes taken as
# set (IPV6:ip6tables -> ip6tables; IPv6 is on in every default build). For
# luci-app-transferometer; transferometer's comes from mkapk ipk-depends.
# mkdeps DEPENDS-VALUE
mkdeps() {
	deps=libc
	for d in $1; do
		case $d in
		'$('* | @* | +@*) continue ;;
		esac
		d=${d#+}
		d=${d##*:}
		[ "$d" = libc ] || deps="$deps, $d"
	done
	printf '%s\n' "$deps"
}
section=$(mkdefine Package/transferometer "$mk" | sed -n 's/^[[:space:]]*SECTION[[:space:]]*:=//p')
url=$(mkdefine Package/transferometer "$mk" | sed -n 's/^[[:space:]]*URL[[:space:]]*:=//p')
luci_deps=$(mkdeps "$(mkvar LUCI_DEPENDS "$luci_mk")")
luci_title=$(mkvar LUCI_TITLE "$luci_mk")
luci_license=$(mkvar PKG_LICENSE "$luci_mk")
luci_url=$(mkvar LUCI_URL "$luci_mk")
luci_maintainer=$(mkvar LUCI_MAINTAINER "$luci_mk")

epoch=$(source_epoch "$root")

TAR="tar --format=gnu --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$epoch"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out" "$build"
mktool "$root" "$build/mkapk" || die "building go/cmd/mkapk failed"
deps=$("$build/mkapk" ipk-depends -root "$root") || die "mkapk ipk-depends failed"

# control FILE PACKAGE ARCH DEPENDS SECTION SOURCE LICENSE DESCRIPTION URL
# MAINTAINER: the control file, fields in package-pack.mk's order;
# Installed-Size is filled in later.
control() {
	{
		printf 'Package: %s\nVersion: %s\n' "$2" "$version"
		printf 'Depends: %s\n' "$4"
		printf 'Source: %s\nSourceName: %s\n' "$6" "$2"
		printf 'License: %s\nSection: %s\n' "$7" "$5"
		printf 'SourceDateEpoch: %s\n' "$epoch"
		printf 'URL: %s\n' "$9"
		printf 'Maintainer: %s\nArchitecture: %s\nInstalled-Size: 0\n' "${10}" "$3"
		# package-ipkg.mk: printf "Description: "; echo "$DESCRIPTION" | sed 's,^[[:space:]]*, ,g'
		printf 'Description: '
		printf '%s\n' "$8" | sed -e 's,^[[:space:]]*, ,g'
	} > "$1"
}

# The generic maintainer scripts of package-ipkg.mk (identical in every
# OpenWrt package); default_postinst / default_prerm source the package's
# postinst-pkg / prerm-pkg from /usr/lib/opkg/info.
generic_scripts() {
	cat > "$1/postinst" <<'EOF'
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
EOF
	cat > "$1/prerm" <<'EOF'
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
EOF
	chmod 0755 "$1/postinst" "$1/prerm"
}

# tgz DIR FILE MEMBER...: the MEMBERs of DIR as a tar, gzip -n'd into FILE;
# the tar stays in $tmp/pack.tar until the next tgz. Not a pipeline (tar |
# gzip): sh's set -e sees only a pipeline's last command, so a failing tar
# would leave a short archive and a package that looks fine.
tgz() {
	src=$1 dst=$2
	shift 2
	rm -f "$tmp/pack.tar"
	(cd "$src" && $TAR -cf "$tmp/pack.tar" "$@") || die "tar of $src failed"
	gzip -n < "$tmp/pack.tar" > "$dst" || { rm -f "$dst"; die "gzip of $src failed"; }
}

# pack PKGDIR PACKAGE ARCH: PKGDIR/data and PKGDIR/control into
# OUTDIR/PACKAGE_VERSION_ARCH.ipk.
pack() {
	d=$1
	find "$d/data" "$d/control" -type d -exec chmod 0755 {} +
	tgz "$d/data" "$d/data.tar.gz" .
	size=$(wc -c < "$tmp/pack.tar" | tr -d ' ')
	case $size in '' | *[!0-9]*) die "$d: no size of the data tar" ;; esac
	sed -i -e "s/^Installed-Size: .*/Installed-Size: $size/" "$d/control/control"
	tgz "$d/control" "$d/control.tar.gz" .
	echo 2.0 > "$d/debian-binary"
	chmod 0644 "$d/debian-binary" "$d/control.tar.gz" "$d/data.tar.gz"
	f=$out/$2_${version}_$3.ipk
	tgz "$d" "$f.tmp" ./debian-binary ./control.tar.gz ./data.tar.gz
	mv "$f.tmp" "$f"
	echo "$f"
}

# The transferometer package, per architecture.
description=$(mkdefine Package/transferometer/description "$mk")
for arch in "$@"; do
	bin=$build/$arch/transferometer
	gobuild "$root" "$arch" "$version" "$bin" || die "building the binary for $arch failed"

	d=$tmp/transferometer-$arch
	mkdir -p "$d/data" "$d/control"
	while read -r mode src dest; do
		case $mode in '' | '#'*) continue ;; esac
		case $src in
		@transferometer) src=$bin ;;
		*) src=$root/$src ;;
		esac
		mkdir -p "$d/data${dest%/*}"
		case $mode in
		link)
			# A symlink with SRC's target, as is (an absolute path on the
			# router); tar stores it as a symlink (no -h), no chmod.
			target=$(readlink "$src") || die "files.manifest: $src: not a symlink"
			ln -s "$target" "$d/data$dest"
			;;
		*)
			cp "$src" "$d/data$dest"
			chmod "$mode" "$d/data$dest"
			;;
		esac
	done < "$root/files.manifest"

	control "$d/control/control" transferometer "$arch" "$deps" "$section" \
		package/transferometer "$license" "$description" "$url" "$maintainer"
	# As package-ipkg.mk: the conffiles that exist in the data tree.
	: > "$d/control/conffiles"
	for cf in $(mkdefine Package/transferometer/conffiles "$mk"); do
		[ -f "$d/data$cf" ] && echo "$cf" >> "$d/control/conffiles"
	done
	generic_scripts "$d/control"
	# The package Makefile's own maintainer-script blocks ($$ is make's $).
	mkdefine Package/transferometer/postinst "$mk" | sed 's/\$\$/$/g' > "$d/control/postinst-pkg"
	mkdefine Package/transferometer/prerm "$mk" | sed 's/\$\$/$/g' > "$d/control/prerm-pkg"
	# postrm goes in as it is (it has its own #!), as package-pack.mk's
	# BuildPackVariable writes it.
	mkdefine Package/transferometer/postrm "$mk" | sed 's/\$\$/$/g' > "$d/control/postrm"
	[ -s "$d/control/postinst-pkg" ] && [ -s "$d/control/prerm-pkg" ] && [ -s "$d/control/postrm" ] ||
		die "$mk: no postinst/prerm/postrm blocks"
	chmod 0755 "$d/control/postinst-pkg" "$d/control/prerm-pkg" "$d/control/postrm"
	pack "$d" transferometer "$arch"
done

# luci-app-transferometer: htdocs/ -> /www, root/ -> /, as luci.mk installs
# them; modes normalised to 0644, or 0755 for a file executable in the
# repository.
l=$root/luci-app-transferometer
d=$tmp/luci-app-transferometer
mkdir -p "$d/data/www" "$d/control"
cp -R "$l/htdocs/." "$d/data/www/"
cp -R "$l/root/." "$d/data/"
find "$d/data" -type f -exec chmod 0644 {} +
# (a list file, not find | while: a failing find must stop the build)
(cd "$l" && find htdocs root -type f -perm -u+x) > "$tmp/executables"
while read -r f; do
	case $f in
	htdocs/*) chmod 0755 "$d/data/www/${f#htdocs/}" ;;
	root/*) chmod 0755 "$d/data/${f#root/}" ;;
	esac
done < "$tmp/executables"
control "$d/control/control" luci-app-transferometer all "$luci_deps" luci \
	package/transferometer/luci-app-transferometer "$luci_license" "$luci_title" "$luci_url" "$luci_maintainer"
generic_scripts "$d/control"
# luci.mk's Package/luci-app-*/postinst: LuCI's caches go, rpcd rereads its
# ACLs (and the menu).
cat > "$d/control/postinst-pkg" <<'EOF'
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
EOF
chmod 0755 "$d/control/postinst-pkg"
pack "$d" luci-app-transferometer all

# luci-i18n-transferometer-LANG, one per language of luci-app-transferometer/po,
# as luci.mk's LuciTranslation makes them: the .lmo catalogue (po2lmo's, by
# mkapk) and the uci-defaults script that adds the language to LuCI, which
# the postinst block runs once; they depend on the app.
"$build/mkapk" luci-i18n -root "$root" -out "$tmp/i18n" > "$tmp/i18n.list" || die "mkapk luci-i18n failed"
while IFS="$(printf '\t')" read -r name desc; do
	d=$tmp/i18n/$name
	mkdir -p "$d/control"
	control "$d/control/control" "$name" all "libc, luci-app-transferometer" luci \
		package/transferometer/luci-app-transferometer "$luci_license" "$desc" "$luci_url" "$luci_maintainer"
	generic_scripts "$d/control"
	mv "$d/postinst-pkg" "$d/control/postinst-pkg"
	chmod 0755 "$d/control/postinst-pkg"
	pack "$d" "$name" all
done < "$tmp/i18n.list"

# The feed index: a web server serving OUTDIR is an opkg feed.
"$build/mkapk" opkg-index "$out" || die "mkapk opkg-index failed"
echo "$out/Packages"
