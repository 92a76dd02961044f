#!/bin/sh
# make demo: a virtual LAN in network namespaces — a router with br-lan,
# three hosts, a WAN — with real dnsmasq calling transferometer as its
# dhcp-script, hosts generating traffic, usage redrawn in the terminal and
# the LuCI page served on http://127.0.0.1:8080. Ctrl-C tears it all down.
# Traffic only flows between the namespaces this script creates.
set -eu
BIN=${1:?usage: demo.sh /path/to/transferometer}
[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo make demo)" >&2; exit 1; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
P=tmdemo$$
R=$P-r W=$P-w
WORK=$(mktemp -d /tmp/transferometer-demo.XXXXXX)
CFG=$WORK/config
mkdir -p "$CFG"
PIDS=""

cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$WORK"
	echo "demo: torn down"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

rx() { ip netns exec "$R" "$@"; }

ip netns add "$R"; ip netns add "$W"
rx ip link set lo up
rx ip link add br-lan type bridge
rx ip link set br-lan up
rx ip addr add 10.77.0.1/24 dev br-lan
rx ip addr add fd77::1/64 dev br-lan nodad
rx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip link add wan netns "$R" type veth peer name eth0 netns "$W"
rx ip link set wan up
rx ip addr add 10.78.0.1/24 dev wan
rx ip addr add fd78::1/64 dev wan nodad
rx ip route add default via 10.78.0.2
rx ip -6 route add default via fd78::2
ip netns exec "$W" sh -c '
	ip link set lo up; ip link set eth0 up
	ip addr add 10.78.0.2/24 dev eth0; ip addr add fd78::2/64 dev eth0 nodad
	ip addr add 10.79.0.1/32 dev lo; ip addr add fd79::1/128 dev lo
	ip route add 10.77.0.0/24 via 10.78.0.1; ip -6 route add fd77::/64 via fd78::1'
rx iptables -t nat -A POSTROUTING -o wan -s 10.77.0.0/24 -j MASQUERADE

# A veth from this namespace to the router for the live feed, on a free /30:
# the page (served here) reaches the daemon's websocket through it.
n=0
while [ $n -lt 64 ] && ip -4 -o addr show | grep -q " 10\.99\.$n\."; do n=$((n + 1)); done
LIVE=10.99.$n
ip link add "$P-l" type veth peer name live netns "$R"
ip addr add "$LIVE.1/30" dev "$P-l"
ip link set "$P-l" up
rx ip addr add "$LIVE.2/30" dev live
rx ip link set live up

cat >"$CFG/transferometer" <<CONF
config transferometer 'main'
	option enabled '1'
	option lock_dir '$WORK/lock'
	option pid_file '$WORK/transferometer.pid'
	option db_dir '$WORK/db'
	option persist_dir '$WORK/flash'
	option leasefile '$WORK/dhcp.leases'
	option refresh_interval '5s'
	list subnet '10.77.0.0/24'
	list subnet 'fd77::/64'
	option live_address '$LIVE.2'
	option live_port '8093'
	option live_tls_port '0'
CONF
export TRANSFEROMETER_CONFIG_DIR=$CFG

# dnsmasq calls the binary for arp-add/arp-del and DHCP events, as on a router.
# With libfaketime (x30) its 90 s neighbour rescans come every 3 s, so IPv6
# neighbours show up quickly; only dnsmasq itself runs on fake time. The
# library is preloaded directly (the faketime wrapper forks), so $! is
# dnsmasq's own PID, for the HUPs below.
set --
lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n1 || true)
[ -n "$lib" ] && set -- LD_PRELOAD="$lib" FAKETIME="+0 x30" FAKETIME_ONLY_CMDS=dnsmasq FAKETIME_DISABLE_SHM=1
ip netns exec "$R" env TRANSFEROMETER_CONFIG_DIR="$CFG" "$@" dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
	--interface=br-lan --bind-interfaces --dhcp-range=10.77.0.100,10.77.0.150,12h \
	--dhcp-leasefile="$WORK/dhcp.leases" --script-arp --dhcp-script="$BIN" --user=root \
	--log-facility="$WORK/dnsmasq.log" &
DNSMASQ=$!
PIDS="$PIDS $DNSMASQ"

cat >"$WORK/udhcpc.sh" <<'UDHCPC'
#!/bin/sh
case "$1" in bound|renew) ip -4 addr replace "$ip/$mask" dev "$interface"; ip route replace default via "$router" ;; esac
UDHCPC
chmod +x "$WORK/udhcpc.sh"

n=0
for name in laptop phone tv; do
	n=$((n + 1))
	H=$P-h$n
	ip netns add "$H"
	ip link add "p$n" netns "$R" type veth peer name eth0 netns "$H"
	rx ip link set "p$n" master br-lan up
	ip netns exec "$H" ip link set lo up
	ip netns exec "$H" ip link set eth0 address "02:77:00:00:00:0$n" up
	ip netns exec "$H" ip addr add "fd77::1$n/64" dev eth0 nodad
	ip netns exec "$H" ip -6 route add default via fd77::1
	ip netns exec "$H" busybox udhcpc -i eth0 -q -t 10 -T 1 -x "hostname:$name" -s "$WORK/udhcpc.sh" >/dev/null 2>&1
done
# Different traffic per host, so the numbers differ: a bulk download, an
# upload, pings. One iperf3 server per client (a server takes one test at a
# time); clients retry so a slow start does not end the demo's traffic.
ip netns exec "$W" iperf3 -s -D -B 10.79.0.1 -p 5201 >/dev/null
ip netns exec "$W" iperf3 -s -D -B 10.79.0.1 -p 5202 >/dev/null
loop() { ns=$1; shift; ip netns exec "$ns" sh -c 'while :; do "$@"; sleep 1; done' loop "$@" >/dev/null 2>&1 & PIDS="$PIDS $!"; }
loop "$P-h1" iperf3 -c 10.79.0.1 -p 5201 -R -b 4M -t 3600
loop "$P-h2" iperf3 -c 10.79.0.1 -p 5202 -b 1M -t 3600
loop "$P-h3" ping -q -i 0.2 -s 1200 fd79::1
loop "$P-h3" ping -q -i 0.5 10.79.0.1
# Hosts talk to the router so dnsmasq's first neighbour scan sees them.
for n in 1 2 3; do ip netns exec "$P-h$n" ping -c1 -W1 fd77::1 >/dev/null 2>&1 || true; done

# The resident daemon, as procd would run it. It checks live-feed sessions
# with `ubus call session access`; there is no rpcd here, so a stand-in ubus
# says yes for the LuCI test shim's session only.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/ubus" <<'UBUS'
#!/bin/sh
case "$4" in
*'"ubus_rpc_session":"0123456789abcdef0123456789abcdef"'*) echo '{ "access": true }' ;;
*) echo '{ "access": false }' ;;
esac
UBUS
chmod +x "$WORK/bin/ubus"
ip netns exec "$R" env PATH="$WORK/bin:$PATH" TRANSFEROMETER_CONFIG_DIR="$CFG" "$BIN" daemon >"$WORK/daemon.log" 2>&1 &
PIDS="$PIDS $!"

# The LuCI page: the views served by the test shim, answering ubus calls
# by running the real binary in the router namespace; the live feed is
# relayed from 127.0.0.1:8093 to the daemon.
cat >"$WORK/transferometer" <<WRAP
#!/bin/sh
exec ip netns exec $R env TRANSFEROMETER_CONFIG_DIR=$CFG $BIN "\$@"
WRAP
chmod +x "$WORK/transferometer"
SERVE=$TOP/luci-app-transferometer/tests/serve.mjs
if [ -f "$SERVE" ]; then
	(cd "$TOP/luci-app-transferometer" && [ -d node_modules ] || npm ci --silent >/dev/null 2>&1 || true)
	node "$SERVE" --port 8080 --bin "$WORK/transferometer" --config-dir "$CFG" --live-forward "$LIVE.2:8093" >"$WORK/serve.log" 2>&1 &
	PIDS="$PIDS $!"
fi

while :; do
	out=$(rx "$BIN" usage 2>&1 || true)
	clear 2>/dev/null || printf '\033[H\033[2J'
	echo "Transferometer demo — LAN 10.77.0.0/24 + fd77::/64 in namespaces $P-*"
	[ -f "$SERVE" ] && echo "LuCI page: http://127.0.0.1:8080/   (Ctrl-C stops everything)"
	echo
	echo "$out"
	echo
	date +%T
	# dnsmasq rescans neighbours only when its loop wakes; on a router DNS
	# and DHCP traffic wake it, here a HUP does (IPv6 hosts appear this way).
	kill -HUP "$DNSMASQ" 2>/dev/null || true
	sleep 2
done
