#!/bin/sh
# make bench: the benchmarks of issues 2 and 3 (go/cmd/transferometer/
# bench_test.go), then a table of the results. Needs root: every benchmark
# builds a LAN in network namespaces; traffic stays between them.
# Numbers and how to read them: docs/benchmarks.md.
#
# Usage: scripts/bench.sh /path/to/transferometer
#   BENCHTIME  iterations per latency benchmark (default 20x)
# The forwarding benchmark always runs with -benchtime=1x: each of its
# results is the median of three fixed-length iperf3 runs.
# About 3.5-4 minutes on 2 cores. The raw `go test` output is kept in a file
# under /tmp, named at the end.
set -eu
BIN=${1:?usage: bench.sh /path/to/transferometer}
BENCHTIME=${BENCHTIME:-20x}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
[ -x "$BIN" ] || { echo "bench: $BIN is not an executable (make build)" >&2; exit 1; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
PATH=$PATH:/usr/local/go/bin
RAW=$(mktemp /tmp/transferometer-bench.XXXXXX)

machine() {
	echo "# $(nproc) cores, kernel $(uname -r), $(iptables-nft --version 2>/dev/null), $(iptables-legacy --version 2>/dev/null | sed 's/^iptables //')"
	echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
}

# gotest BENCHREGEX BENCHTIME: go test's output goes to the terminal and RAW;
# its exit status is kept (a pipe would hide it).
gotest() {
	rc=$(mktemp)
	{
		set +e
		(cd "$TOP/go" && TRANSFEROMETER_BIN=$BIN go test -count=1 -p 1 -timeout 20m -run '^$' \
			-bench "$1" -benchtime="$2" ./cmd/transferometer 2>&1)
		echo $? >"$rc"
	} | tee -a "$RAW"
	status=$(cat "$rc")
	rm -f "$rc"
	return "$status"
}

machine | tee "$RAW"
fail=0
gotest '^Benchmark(NetnsExecTrue|ExecTrue|ExecVersion|ArpAdd|Collect|IPTables|Execs|RPCD)$' "$BENCHTIME" || fail=1
machine | tee -a "$RAW"
gotest '^BenchmarkForwarding$' 1x || fail=1
machine | tee -a "$RAW"
# The nftables backend (issue 6) and the resident daemon (issue 5).
gotest '^BenchmarkNFT' 1x || fail=1
gotest '^BenchmarkDaemonRSS$' 1x || fail=1
machine | tee -a "$RAW"

echo
awk '
function ms(ns) { return (ns == "" || ns + 0 == 0) ? "-" : sprintf("%.2f", ns / 1e6) }
function dflt(v) { return v == "" ? "-" : v }
/^Benchmark/ {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name)
	delete m
	for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
	n++
	row[n] = sprintf("%-36s %10s %9s %9s %8s", name, ms(m["ns/op"]), dflt(m["p50-ms"]), dflt(m["execs/op"]), dflt(m["Gbit/s"]))
}
END {
	printf "%-36s %10s %9s %9s %8s\n", "benchmark", "mean-ms", "p50-ms", "execs/op", "Gbit/s"
	for (i = 1; i <= n; i++) print row[i]
}' "$RAW"
echo
echo "raw output: $RAW"
if [ "$fail" != 0 ]; then
	echo "bench: a benchmark failed (see above)" >&2
	exit 1
fi
