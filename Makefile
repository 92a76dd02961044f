# Transferometer.
#
# Inside an OpenWrt buildroot or SDK (TOPDIR set) this file is the package
# Makefile of `transferometer` (README: "Build for OpenWrt").
# Everywhere else it holds the developer targets:
#   make demo        a virtual LAN in network namespaces with real dnsmasq and
#                    traffic, usage redrawn live (run as root)
#   make test        every test: unit, netns datapath on iptables-legacy and
#                    iptables-nft, real dnsmasq, router arches under qemu-user,
#                    fuzz, LuCI in headless Chromium
#   make bench       benchmarks (tables printed; numbers go to docs/benchmarks.md)
#   make cross       stripped static binaries for router architectures
#   make ipk         OpenWrt .ipk packages (router arches + LuCI) and their
#                    feed index (Packages) into dist/
#   make apk         OpenWrt 25.12 .apk packages and packages.adb into
#                    dist/apk/ARCH/ (APK_KEY=key.pem signs the index)
#   make test-cross  unit tests as a MIPS and an ARM64 router run them
ifneq ($(TOPDIR),)

include $(TOPDIR)/rules.mk

PKG_NAME:=transferometer
PKG_VERSION:=0.1.0
PKG_RELEASE:=1

PKG_LICENSE:=Apache-2.0
PKG_MAINTAINER:=Transferometer maintainers

PKG_BUILD_DEPENDS:=golang/host
PKG_BUILD_PARALLEL:=1
# No MIPS16 for Go: PKG_USE_MIPS16 up to 21.02, PKG_BUILD_FLAGS from 22.03.
PKG_USE_MIPS16:=0
PKG_BUILD_FLAGS:=no-mips16

GO_PKG:=github.com/transferometer/transferometer
GO_PKG_BUILD_PKG:=$(GO_PKG)/cmd/transferometer
GO_PKG_LDFLAGS_X:=main.version=$(PKG_VERSION)-$(PKG_RELEASE)
# We serve no HTTP/2 (the live feed is a WebSocket over HTTP/1.1): leaving
# net/http's bundled HTTP/2 out saves about 0.45 MB on a router.
GO_PKG_TAGS:=nethttpomithttp2
# No inlining (all packages, the standard library included): 0.5 MiB less
# binary (under 6 MiB on MIPS) for 10-25 % more CPU inside the process
# (about 1 ms per collection, 4-5 ms per hook event at 254 hosts); the start
# is the same within the noise (docs/benchmarks.md, "Binary size and start").
GO_PKG_GCFLAGS:=all=-l

include $(INCLUDE_DIR)/package.mk
include $(TOPDIR)/feeds/packages/lang/golang/golang-package.mk

# Dependencies follow what the backend `auto` counts with. Where fw4 runs
# (22.03 and later, so every release whose SDK can build this package and
# every apk release) that is nftables: kmod-nft-core, which stock images
# already have through firewall4; no iptables. The netdev placement (with
# software flow offloading) also needs kmod-nft-netdev and kmod-nft-fib; they
# are not dependencies (most routers never use that placement, and flash is
# small): without them the run reports an error naming them. Where fw3 runs
# (21.02) it is iptables, which stock fw3 images have: the SDK-less .ipk
# (make ipk, one file for 21.02 to 24.10) depends on "iptables | kmod-nft-core"
# and "ip6tables | kmod-nft-core", built from these two lists by mkapk.
TRANSFEROMETER_FW3_DEPENDS:=iptables ip6tables

define Package/transferometer
  SECTION:=net
  CATEGORY:=Network
  TITLE:=Per-host traffic accounting
  URL:=https://github.com/transferometer/transferometer
  DEPENDS:=$(GO_ARCH_DEPENDS) +kmod-nft-core
endef

define Package/transferometer/description
  Counts, per device on the LAN, the bytes it downloads and uploads (IPv4 and
  IPv6), in the kernel's nftables or iptables counters, from dnsmasq's
  neighbour and DHCP events; keeps daily and per-period history in a ledger
  that is committed to flash rarely; offers it through ubus (rpcd) for
  luci-app-transferometer.
endef

define Package/transferometer/conffiles
/etc/config/transferometer
endef

# Maintainer scripts. opkg (package-ipkg.mk) runs postinst and prerm as
# postinst-pkg / prerm-pkg from default_postinst / default_prerm, before
# those enable and start, or stop and disable, /etc/init.d/transferometer;
# apk (25.12's package-pack.mk) appends them to post-install and
# pre-deinstall, after. So each block works in either order. `make ipk` and
# `make apk` (scripts/mkipk.sh, mkapk) read these same blocks.
define Package/transferometer/postinst
[ -n "$${IPKG_INSTROOT}" ] || {
	# An upgrade: procd keeps an instance whose command line did not
	# change, so the daemon would go on running the old binary. Restart
	# it (it commits its ledger on SIGTERM); quiet when it was not running.
	if [ "$${PKG_UPGRADE}" = "1" ]; then
		/etc/init.d/transferometer stop 2>/dev/null
		/etc/init.d/transferometer start
	fi
	# rpcd scans /usr/libexec/rpcd only at start and on SIGHUP: the
	# transferometer ubus object appears now.
	/etc/init.d/rpcd reload 2>/dev/null
	# dnsmasq hands neighbour and DHCP events to /etc/hotplug.d only when a
	# handler existed at its start: restart it once, on the first install.
	[ "$${PKG_UPGRADE}" = "1" ] || [ ! -x /etc/init.d/dnsmasq ] ||
		/etc/init.d/dnsmasq restart
	exit 0
}
endef

# Removal: the daemon stops first (it commits its ledger on SIGTERM), then
# our rules and chains go, which would otherwise go on counting. Under apk
# default_prerm has stopped the service already. Under opkg it stops it after
# this block, with `ubus call service delete`, which prints "Command failed:
# ... (Not found)" when no service is registered: so this block stops the
# daemon by emptying the procd service instead of deleting it (what the init
# script does with enabled '0'), which registers it if it was stopped or
# never started, and the later delete finds it. On an upgrade the rules stay
# for the new version to take over.
define Package/transferometer/prerm
[ -n "$${IPKG_INSTROOT}" ] || {
	[ ! -f /usr/lib/opkg/info/transferometer.prerm-pkg ] ||
		ubus call service set '{ "name": "transferometer", "instances": { } }' >/dev/null 2>&1
	if [ "$${PKG_UPGRADE}" != "1" ]; then
		/usr/sbin/transferometer teardown
		# The fw3 include would point at a script that is about to go.
		if [ "$$(uci -q get firewall.transferometer.path)" = /usr/share/transferometer/firewall.include ]; then
			uci -q delete firewall.transferometer
			uci -q commit firewall
		fi
	fi
	exit 0
}
endef

# After removal: rpcd forgets the plugin only when it rescans
# /usr/libexec/rpcd (SIGHUP), so `ubus list` stops showing transferometer.
define Package/transferometer/postrm
#!/bin/sh
[ -n "$${IPKG_INSTROOT}" ] || /etc/init.d/rpcd reload 2>/dev/null
exit 0
endef

# golang-package.mk builds the module found at PKG_BUILD_DIR: go.mod must be
# at its root, so the sources are go/'s contents.
define Build/Prepare
	$(CP) $(CURDIR)/go/. $(PKG_BUILD_DIR)/
endef

# Every installed file comes from files.manifest (MODE SRC DEST), the list the
# .ipk builder reads too; @transferometer is the binary golang-package.mk built.
define Package/transferometer/install
	while read -r mode src dest; do \
		case "$$$$mode" in ''|'#'*) continue ;; esac; \
		case "$$$$src" in \
		@transferometer) src="$(GO_PKG_BUILD_BIN_DIR)/transferometer" ;; \
		*) src="$(CURDIR)/$$$$src" ;; \
		esac; \
		$(INSTALL_DIR) "$(1)$$$${dest%/*}" && \
		case "$$$$mode" in \
		link) target="$$$$(readlink "$$$$src")" && ln -sf "$$$$target" "$(1)$$$$dest" ;; \
		*) install -m "$$$$mode" "$$$$src" "$(1)$$$$dest" ;; \
		esac || exit 1; \
	done < $(CURDIR)/files.manifest
endef

$(eval $(call BuildPackage,transferometer))

else

export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# Everything is built and tested with the Go of OpenWrt 23.05's SDK (its
# golang package: 1.21.13), which the go command fetches from the module
# proxy on first use: what the router runs is what is measured. A newer Go
# builds a binary that starts 2-4 ms slower and is ~1.5 MiB bigger.
# `make GOTOOLCHAIN=local` uses the installed Go instead.
ROUTER_GO := go1.21.13
export GOTOOLCHAIN := $(ROUTER_GO)
# As GO_PKG_GCFLAGS in the package Makefile above: no inlining.
GCFLAGS ?= all=-l
export GCFLAGS
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := $(CURDIR)/build/transferometer
FUZZTIME ?= 15s

.PHONY: all build deps test test-go test-cross test-luci test-ipk test-apk test-offload test-offload-auto bench-offload fuzz lint demo bench cross ipk apk clean

all: build

deps:
	@scripts/install-deps.sh

build:
	cd go && CGO_ENABLED=0 $(GO) build -trimpath -tags nethttpomithttp2 -gcflags '$(GCFLAGS)' -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/transferometer

lint:
	@cd go && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	cd go && $(GO) vet ./...

test: deps build lint test-go test-cross test-ipk test-apk test-offload-auto fuzz test-luci

# TestIPK* and TestAPK* build every package (five arches, twice): they run in
# test-ipk and test-apk only.
test-go:
	cd go && TRANSFEROMETER_BIN=$(BIN) $(GO) test -count=1 -p 1 -skip '^(TestIPK|TestAPK)' ./...

# The .ipk files built into a temporary directory and taken apart: members,
# control fields, data tree = files.manifest, ELF machine per arch, each
# binary run (--version) natively or under qemu-user, byte-identical when
# built twice, the feed index field by field; the maintainer scripts run as
# opkg runs them in a root of their own (busybox, OpenWrt stand-ins; as root).
test-ipk: deps
	cd go && $(GO) test -count=1 -timeout 20m -run '^TestIPK' ./cmd/transferometer

# The .apk files and packages.adb built into a temporary directory and checked
# with apk-tools 3 itself (../shared/tools/apk beside the clone, a test oracle
# only): every field (apk adbdump), installed into an empty root with every
# file of files.manifest at its path and mode, removed, an upgrade keeping a
# changed conffile, the feed read back (signed and unsigned), ELF machine per
# arch, each binary run natively or under qemu-user, byte-identical when built
# twice; install, upgrade and removal with the scripts run by apk in a root of
# their own (as root).
test-apk: deps
	cd go && $(GO) test -count=1 -timeout 20m -run '^TestAPK' ./cmd/transferometer

# Software flow offloading needs a kernel with a flowtable, which this
# machine's lacks (and it loads no modules): TestOffload* run in a guest
# booted with Debian's own kernel under qemu (scripts/guest, go test -exec).
# make test runs them in CI, and elsewhere when the guest image is already
# built (build/guest); a first build downloads the kernel package.
GUEST := $(CURDIR)/scripts/guest/exec
test-offload: deps build
	cd go && TRANSFEROMETER_BIN=$(BIN) $(GO) test -count=1 -p 1 -timeout 40m -exec $(GUEST) -run '^TestOffload' ./cmd/transferometer

test-offload-auto:
	@if [ -n "$$CI" ] || [ -f build/guest/vmlinuz ]; then $(MAKE) --no-print-directory test-offload; \
	else echo "test-offload: not run (no guest kernel in build/guest yet): make test-offload builds one and runs it, about 3 minutes"; fi

# Throughput with the flowtable on, without and with netdev accounting.
bench-offload: deps build
	cd go && TRANSFEROMETER_BIN=$(BIN) $(GO) test -count=1 -p 1 -timeout 40m -exec $(GUEST) -run '^$$' -bench '^BenchmarkOffload$$' -benchtime=1x ./cmd/transferometer

fuzz:
	cd go && $(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./internal/uci
	cd go && $(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./internal/ipaddr
	cd go && $(GO) test -run='^$$' -fuzz=FuzzParseSize -fuzztime=$(FUZZTIME) ./internal/config

# Unit tests as a MIPS router (32-bit little-endian, softfloat) and an ARM64
# one run them, under qemu-user. Every package takes part except:
#   internal/testlan, cmd/transferometer  they build LANs in network
#       namespaces (root, netlink) and run the host's binary there;
# and these tests, skipped:
#   internal/lock TestMultiProcessContention, TestKilledHolderReclaimed,
#       TestKilledHolderZombie, internal/handoff TestServeRefusesOtherUsers,
#       TestSendRefusesOtherUsersListener:
#       they re-execute the test binary as child processes, and a MIPS or
#       ARM64 executable cannot be exec'd without binfmt_misc, which is not
#       registered here ("exec format error");
#   internal/neigh TestReadHere: it dumps the kernel's neighbour table over
#       rtnetlink, which qemu-user does not translate ("operation not
#       supported"); the parser's tests run.
#   internal/netfilter TestNFTables*, TestNetdev*: google/nftables on the
#       real kernel over netlink, which qemu-user's emulation lacks for
#       netfilter (it crashes inside the netlink library); the iptables
#       parser's tests run;
#   internal/links TestListHere: an rtnetlink link dump (as TestReadHere);
#   internal/neigh TestReadAndWatch, internal/links TestWANAddrs,
#       internal/netfilter TestDynamic* and TestQuotaKernel*: rtnetlink and nftables on a namespace's
#       real kernel, as above; the conversions' unit tests run.
CROSS_TEST_EXCLUDE := /internal/testlan$$|/cmd/transferometer$$
CROSS_TEST_SKIP := ^(TestMultiProcessContention|TestKilledHolderReclaimed|TestKilledHolderZombie|TestServeRefusesOtherUsers|TestSendRefusesOtherUsersListener|TestReadHere|TestListHere|TestReadAndWatch|TestWANAddrs|TestNFTables.*|TestNetdev.*|TestDynamic.*|TestQuotaKernel.*)$$

test-cross: deps
	cd go && pkgs=$$($(GO) list ./... | grep -Ev '$(CROSS_TEST_EXCLUDE)') && \
	GOOS=linux GOARCH=mipsle GOMIPS=softfloat $(GO) test -count=1 -exec qemu-mipsel-static -skip '$(CROSS_TEST_SKIP)' $$pkgs && \
	GOOS=linux GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64-static -skip '$(CROSS_TEST_SKIP)' $$pkgs

test-luci: build
	TRANSFEROMETER_BIN=$(BIN) luci-app-transferometer/tests/run.sh

demo: deps build
	scripts/demo.sh $(BIN)

bench: deps build
	scripts/bench.sh $(BIN)

# Stripped static binaries for router architectures, into build/cross/, with
# their sizes (and xz -9 sizes when xz is installed).
CROSS_DIR := $(CURDIR)/build/cross
CROSS_BUILD = CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -buildvcs=false -tags nethttpomithttp2 \
	-gcflags '$(GCFLAGS)' -ldflags "-s -w -X main.version=$(VERSION)" -o $(CROSS_DIR)/transferometer-$(1) ./cmd/transferometer

cross:
	rm -rf $(CROSS_DIR) && mkdir -p $(CROSS_DIR)
	cd go && GOARCH=mipsle GOMIPS=softfloat $(call CROSS_BUILD,linux-mipsle-softfloat)
	cd go && GOARCH=mips GOMIPS=softfloat $(call CROSS_BUILD,linux-mips-softfloat)
	cd go && GOARCH=arm GOARM=7 $(call CROSS_BUILD,linux-armv7)
	cd go && GOARCH=arm64 $(call CROSS_BUILD,linux-arm64)
	cd go && GOARCH=amd64 $(call CROSS_BUILD,linux-amd64)
	@cd $(CROSS_DIR) && for f in transferometer-*; do \
		xzsize=; command -v xz >/dev/null 2>&1 && xzsize=$$(xz -9 -c $$f | wc -c); \
		echo "$$f $$(wc -c < $$f) $$xzsize"; \
	done | awk '{ line = sprintf("%-38s %9d B %5.2f MiB", $$1, $$2, $$2 / 1048576); \
		if ($$3 != "") line = line sprintf("   xz -9: %8d B %5.2f MiB", $$3, $$3 / 1048576); \
		print line }'

# OpenWrt packages without the SDK, into dist/ (scripts/mkipk.sh; README:
# "Install on a router"): transferometer_VERSION_ARCH.ipk for each router
# architecture and luci-app-transferometer_VERSION_all.ipk, VERSION being the
# package Makefile's PKG_VERSION-PKG_RELEASE. IPK_ARCHES picks others.
IPK_ARCHES ?= x86_64 mipsel_24kc mips_24kc arm_cortex-a7_neon-vfpv4 aarch64_cortex-a53

ipk:
	GO=$(GO) scripts/mkipk.sh -o $(CURDIR)/dist -b $(CURDIR)/build/ipk $(IPK_ARCHES)

# OpenWrt 25.12 (apk-tools 3) packages without the SDK or apk-tools, into
# dist/apk/ARCH/ with each architecture's feed index (scripts/mkapk.sh,
# go/cmd/mkapk): transferometer-VERSION.apk, luci-app-transferometer-VERSION.apk
# and packages.adb, VERSION being PKG_VERSION-rPKG_RELEASE. APK_KEY=FILE.pem
# signs packages.adb (README: "Install on a router").
APK_KEY ?=
apk:
	GO=$(GO) scripts/mkapk.sh -o $(CURDIR)/dist/apk -b $(CURDIR)/build/apk $(if $(APK_KEY),-k $(APK_KEY)) $(IPK_ARCHES)

clean:
	rm -rf build dist
endif
