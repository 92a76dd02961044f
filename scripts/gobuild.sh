# gobuild.sh: sourced by mkipk.sh and mkapk.sh (POSIX sh). The router
# binary for an OpenWrt architecture, built the same way for both formats.
#
# goenv ARCH: GOARCH and friends for an OpenWrt architecture, as
# golang-package.mk maps them.
goenv() {
	case $1 in
	x86_64) echo GOARCH=amd64 ;;
	i386_pentium4) echo GOARCH=386 GO386=sse2 ;;
	i386_pentium-mmx) echo GOARCH=386 GO386=softfloat ;;
	mipsel_24kc | mipsel_74kc | mipsel_mips32) echo GOARCH=mipsle GOMIPS=softfloat ;;
	mips_24kc | mips_4kec | mips_mips32) echo GOARCH=mips GOMIPS=softfloat ;;
	mips64_octeonplus) echo GOARCH=mips64 GOMIPS64=hardfloat ;;
	# ARM: GOARM=7 (VFP) only with an FPU in the name; without one, Go's
	# software floating point (GOARM=5), as the kernel emulates no VFP.
	arm_arm1176jzf-s_vfp) echo GOARCH=arm GOARM=6 ;;
	arm_cortex-a*_vfp* | arm_cortex-a*_neon*) echo GOARCH=arm GOARM=7 ;;
	arm_*) echo GOARCH=arm GOARM=5 ;;
	aarch64_*) echo GOARCH=arm64 ;;
	*)
		echo "unknown architecture $1 (OpenWrt's names, e.g. mipsel_24kc; see opkg print-architecture or apk --print-arch)" >&2
		return 1
		;;
	esac
}

# gobuild ROOT ARCH VERSION OUT: the stripped static binary for ARCH into
# OUT, with GO (default go) and GCFLAGS (default all=-l, as the package
# Makefile's GO_PKG_GCFLAGS); -trimpath -buildvcs=false for reproducibility.
gobuild() {
	genv=$(goenv "$2") || return 1
	# shellcheck disable=SC2086 # genv is words
	(cd "$1/go" && env CGO_ENABLED=0 GOOS=linux $genv "${GO:-go}" build -trimpath -buildvcs=false -tags nethttpomithttp2 \
		-gcflags "${GCFLAGS-all=-l}" -ldflags "-s -w -X main.version=$3" -o "$4" ./cmd/transferometer)
}

# mktool ROOT OUT: the packaging tool (go/cmd/mkapk) for this machine.
mktool() {
	(cd "$1/go" && env CGO_ENABLED=0 "${GO:-go}" build -trimpath -buildvcs=false -o "$2" ./cmd/mkapk)
}

# source_epoch ROOT: SOURCE_DATE_EPOCH, or else the time of the last commit,
# or else the Makefile's mtime: every file's time in the packages.
source_epoch() {
	if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
		echo "$SOURCE_DATE_EPOCH"
	elif e=$(git -C "$1" log -1 --format=%ct 2>/dev/null) && [ -n "$e" ]; then
		echo "$e"
	else
		stat -c %Y "$1/Makefile"
	fi
}
