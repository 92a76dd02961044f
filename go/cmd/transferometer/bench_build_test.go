package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// BenchmarkBuilds: what the toolchain and flags the Makefile builds with
// buy, side by side in one run. Each build of this source is made here —
// the router's Go (1.21.13, OpenWrt 23.05's SDK) with and without inlining,
// and, when TRANSFEROMETER_BENCH_GO names another go command (such as the
// machine's own, /usr/local/go/bin/go), that one too — and reports its size
// (amd64 and mipsle softfloat, stripped) and its start (`--version`,
// launches interleaved so the machine's drift hits all alike). Needs the go
// command and, for the pinned toolchain, the module proxy or its cache.
//
//	cd go && go test -c -o /tmp/t ./cmd/transferometer && cd cmd/transferometer &&
//	    TRANSFEROMETER_BENCH_GO=/usr/local/go/bin/go /tmp/t -test.run '^$' \
//	    -test.bench Builds
//
// (Run the test binary from a shell, as rpcd, dnsmasq or a shell would
// launch the product: under `go test`, with the go command as an ancestor,
// the Go 1.26 build started about as fast as the 1.21 ones, for reasons not
// found; launched from a shell, hyperfine, perf or a Go program it is
// 2-3 ms slower, every time.)
func BenchmarkBuilds(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		testlan.SkipOrFail(b, "no go command")
	}
	type buildSpec struct{ name, goCmd, toolchain, gcflags string }
	builds := []buildSpec{
		{"go1.21.13-noinline", "go", "go1.21.13", "all=-l"}, // as the Makefile and the package build
		{"go1.21.13", "go", "go1.21.13", ""},
	}
	// Each go command finds its own root: GOROOT is what a toolchain switch
	// set for this process's go, not for another one.
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOROOT=") && !strings.HasPrefix(kv, "GOTOOLCHAIN=") {
			base = append(base, kv)
		}
	}
	if other := os.Getenv("TRANSFEROMETER_BENCH_GO"); other != "" {
		cmd := exec.Command(other, "env", "GOVERSION")
		cmd.Env = append(base, "GOTOOLCHAIN=local")
		v, err := cmd.Output()
		if err != nil {
			b.Fatalf("TRANSFEROMETER_BENCH_GO=%s: %v", other, err)
		}
		builds = append(builds, buildSpec{strings.TrimSpace(string(v)), other, "local", ""})
	}
	dir := b.TempDir()
	build := func(c buildSpec, out string, env ...string) int64 {
		cmd := exec.Command(c.goCmd, "build", "-trimpath", "-buildvcs=false", "-tags", "nethttpomithttp2",
			"-gcflags", c.gcflags, "-ldflags", "-s -w", "-o", out, ".")
		cmd.Env = append(append([]string(nil), base...), append([]string{"CGO_ENABLED=0", "GOOS=linux", "GOTOOLCHAIN=" + c.toolchain}, env...)...)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build (%s %s): %v\n%s", c.toolchain, c.gcflags, err, o)
		}
		fi, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		return fi.Size()
	}
	bins := make([]string, len(builds))
	sizes := make([][2]int64, len(builds))
	for i, c := range builds {
		bins[i] = filepath.Join(dir, c.name)
		sizes[i][0] = build(c, bins[i], "GOARCH=amd64")
		sizes[i][1] = build(c, bins[i]+"-mipsle", "GOARCH=mipsle", "GOMIPS=softfloat")
	}
	// A benchmark with sub-benchmarks runs once (b.N is 1): the launch
	// count is fixed here, not by -benchtime.
	const launches = 301
	durs := make([][]time.Duration, len(builds))
	for n := 0; n < launches; n++ {
		for i, bin := range bins {
			start := time.Now()
			if out, err := exec.Command(bin, "--version").Output(); err != nil || len(out) == 0 {
				b.Fatalf("%s --version: %v", bin, err)
			}
			durs[i] = append(durs[i], time.Since(start))
		}
	}
	for i, c := range builds {
		i := i
		b.Run(c.name, func(b *testing.B) {
			b.ReportMetric(p50ms(durs[i]), "start-p50-ms")
			b.ReportMetric(float64(sizes[i][0])/(1<<20), "amd64-MiB")
			b.ReportMetric(float64(sizes[i][1])/(1<<20), "mipsle-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}
