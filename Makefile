# Transferometer.
#
# Inside an OpenWrt buildroot or SDK (TOPDIR set) this file will be the
# package Makefile of `transferometer` (the resident-service issue adds it).
# Everywhere else it holds the developer targets:
#   make demo    a virtual LAN in network namespaces with real dnsmasq and
#                traffic, usage redrawn live (run as root)
#   make test    every test: unit, netns datapath on iptables-legacy and
#                iptables-nft, real dnsmasq, fuzz, LuCI in headless Chromium
#   make bench   benchmarks (tables printed; numbers go to docs/benchmarks.md)
ifneq ($(TOPDIR),)
$(error the OpenWrt package Makefile is not written yet: build the developer targets without TOPDIR)
else

export PATH := $(PATH):/usr/local/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := $(CURDIR)/build/transferometer
FUZZTIME ?= 15s

.PHONY: all build deps test test-go test-luci fuzz lint demo bench clean

all: build

deps:
	@scripts/install-deps.sh

build:
	cd go && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/transferometer

lint:
	@cd go && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	cd go && $(GO) vet ./...

test: deps build lint test-go fuzz test-luci

test-go:
	cd go && TRANSFEROMETER_BIN=$(BIN) $(GO) test -count=1 -p 1 ./...

fuzz:
	cd go && $(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./internal/uci

test-luci: build
	TRANSFEROMETER_BIN=$(BIN) luci-app-transferometer/tests/run.sh

demo: deps build
	scripts/demo.sh $(BIN)

bench: deps build
	scripts/bench.sh $(BIN)

clean:
	rm -rf build dist
endif
