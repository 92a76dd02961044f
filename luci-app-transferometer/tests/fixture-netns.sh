#!/bin/sh
# A small LAN in network namespaces with known traffic, for the browser test when the caller gave
# no TRANSFEROMETER_CONFIG_DIR. Sourced by tests/run.sh (needs root and iproute2):
#
#   fixture_up BIN   builds it, then exports TRANSFEROMETER_CONFIG_DIR and TRANSFEROMETER_BIN
#                    (a wrapper that runs BIN inside the router namespace, as demo.sh does), and
#                    TRANSFEROMETER_LIVE_ADDRESS and TRANSFEROMETER_TRAFFIC (below)
#   fixture_down     removes the namespaces, the veth and the temporary directory
#
# Router netns with br-lan 10.88.0.1/24 + fd88::1/64, routed (no NAT) to a WAN netns (10.89.0.1 and
# fd89::1 on its loopback); four devices. The binary learns them the way dnsmasq tells it (dhcp-script
# argv: `add MAC IP HOSTNAME`, `arp-add MAC IP`, `arp-del MAC IP`); then fixed pings run and stop, so
# the counters hold still while the test compares the page with `usage --json`.
#
# Two accounting periods with history: the first pings are counted with 2-day periods starting
# yesterday (period key: yesterday), then the config switches to 2-day periods starting today
# (current period: today and tomorrow, so a test running over midnight keeps it) and one more
# ping runs. So `usage --period` has a past period, the current
# one and "all", each with different figures:
#   laptop 02:88:00:00:00:01 10.88.0.11 fd88::11  ping -s 1000 -c 10 (IPv4) + -c 3 (IPv6);
#                                                 in the current period: ping -s 300 -c 5
#   (none) 02:88:00:00:00:02 10.88.0.12           ping -s 500 -c 7
#   phone  02:88:00:00:00:03 10.88.0.13           ping -s 200 -c 4, then it leaves (arp-del, link
#                                                 down, neighbour entry gone: offline)
#   =1+2   02:88:00:00:00:04 10.88.0.14           a DHCP name a spreadsheet would run as a formula;
#                                                 no such host answers: no traffic, offline
#
# For the live feed: a veth from the root namespace (a free 10.99.N.1/30) to the router namespace
# (10.99.N.2, exported as TRANSFEROMETER_LIVE_ADDRESS), so that `transferometer daemon` in the
# router namespace can serve its websocket where the browser (root namespace) reaches it; and
# TRANSFEROMETER_TRAFFIC, a script `traffic SECONDS` that pings from the laptop for that long.
# The config has live_port '0' (feed off) until a test turns it on.
# Traffic only flows between the namespaces made here.

FIXTURE_NS=""
FIXTURE_DIR=""
FIXTURE_VETH=""

fixture_down() {
	[ -n "$FIXTURE_VETH" ] && ip link del "$FIXTURE_VETH" 2>/dev/null || true
	FIXTURE_VETH=""
	for ns in $FIXTURE_NS; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	FIXTURE_NS=""
	[ -n "$FIXTURE_DIR" ] && rm -rf "$FIXTURE_DIR"
	FIXTURE_DIR=""
}

fixture_up() {
	bin=$1
	p=tmluci$$
	r=$p-r w=$p-w
	FIXTURE_DIR=$(mktemp -d /tmp/transferometer-luci-test.XXXXXX)
	cfg=$FIXTURE_DIR/config
	mkdir -p "$cfg"

	ip netns add "$r" && FIXTURE_NS="$r"
	ip netns add "$w" && FIXTURE_NS="$FIXTURE_NS $w"
	rx() { ip netns exec "$r" "$@"; }

	rx ip link set lo up
	rx ip link add br-lan type bridge
	rx ip link set br-lan up
	rx ip addr add 10.88.0.1/24 dev br-lan
	rx ip addr add fd88::1/64 dev br-lan nodad
	rx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	rx sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null || true
	ip link add wan netns "$r" type veth peer name eth0 netns "$w"
	rx ip link set wan up
	rx ip addr add 10.89.0.254/24 dev wan
	rx ip addr add fd89:0:0:1::1/64 dev wan nodad
	ip netns exec "$w" sh -c '
		ip link set lo up; ip link set eth0 up
		ip addr add 10.89.0.2/24 dev eth0; ip addr add fd89:0:0:1::2/64 dev eth0 nodad
		ip addr add 10.89.0.1/32 dev lo; ip addr add fd89::1/128 dev lo
		ip route add 10.88.0.0/24 via 10.89.0.254; ip -6 route add fd88::/64 via fd89:0:0:1::1'
	rx ip route add default via 10.89.0.2
	rx ip -6 route add default via fd89:0:0:1::2

	# The live feed's veth, on a /30 no interface of the root namespace uses yet.
	n=0
	while [ $n -lt 64 ] && ip -4 -o addr show | grep -q " 10\.99\.$n\."; do n=$((n + 1)); done
	live=10.99.$n
	ip link add "tml$$" type veth peer name live netns "$r" && FIXTURE_VETH="tml$$"
	ip addr add "$live.1/30" dev "tml$$"
	ip link set "tml$$" up
	rx ip addr add "$live.2/30" dev live
	rx ip link set live up

	# write_config PERIOD_START PERIOD_DAYS
	write_config() {
		cat >"$cfg/transferometer" <<CONF
config transferometer 'main'
	option enabled '1'
	option lock_dir '$FIXTURE_DIR/lock'
	option pid_file '$FIXTURE_DIR/transferometer.pid'
	option lock_timeout '20'
	option db_dir '$FIXTURE_DIR/db'
	option persist_dir '$FIXTURE_DIR/persist'
	option leasefile '$FIXTURE_DIR/dhcp.leases'
	option chain_prefix 'TRANSFEROMETER'
	list subnet '10.88.0.0/24'
	list subnet 'fd88::/64'
	option network 'lan'
	option ipv6 '1'
	option backend 'iptables'
	option iptables_variant 'auto'
	option period 'days'
	option period_start '$1'
	option period_days '$2'
	option live_port '0'
CONF
	}
	write_config "$(date -d yesterday +%F)" 2

	cat >"$FIXTURE_DIR/transferometer" <<WRAP
#!/bin/sh
exec ip netns exec $r env TRANSFEROMETER_CONFIG_DIR=\${TRANSFEROMETER_CONFIG_DIR:-$cfg} $bin "\$@"
WRAP
	chmod +x "$FIXTURE_DIR/transferometer"
	tm=$FIXTURE_DIR/transferometer

	n=0
	for spec in "02:88:00:00:00:01 10.88.0.11 fd88::11" "02:88:00:00:00:02 10.88.0.12 -" "02:88:00:00:00:03 10.88.0.13 -"; do
		n=$((n + 1))
		set -- $spec
		h=$p-h$n
		ip netns add "$h" && FIXTURE_NS="$FIXTURE_NS $h"
		ip link add "p$n" netns "$r" type veth peer name eth0 netns "$h"
		rx ip link set "p$n" master br-lan up
		ip netns exec "$h" ip link set lo up
		ip netns exec "$h" ip link set eth0 address "$1" up
		ip netns exec "$h" ip addr add "$2/24" dev eth0
		ip netns exec "$h" ip route add default via 10.88.0.1
		if [ "$3" != - ]; then
			ip netns exec "$h" ip addr add "$3/64" dev eth0 nodad
			ip netns exec "$h" ip -6 route add default via fd88::1
		fi
	done

	# What dnsmasq would report.
	"$tm" add 02:88:00:00:00:01 10.88.0.11 laptop
	"$tm" arp-add 02:88:00:00:00:01 fd88::11
	"$tm" arp-add 02:88:00:00:00:02 10.88.0.12
	"$tm" add 02:88:00:00:00:03 10.88.0.13 phone
	"$tm" add 02:88:00:00:00:04 10.88.0.14 '=1+2'

	ip netns exec "$p-h1" ping -q -n -s 1000 -c 10 -i 0.05 -W 2 10.89.0.1 >/dev/null
	ip netns exec "$p-h1" ping -q -n -6 -s 1000 -c 3 -i 0.05 -W 2 fd89::1 >/dev/null
	ip netns exec "$p-h2" ping -q -n -s 500 -c 7 -i 0.05 -W 2 10.89.0.1 >/dev/null
	ip netns exec "$p-h3" ping -q -n -s 200 -c 4 -i 0.05 -W 2 10.89.0.1 >/dev/null
	"$tm" collect
	# The phone leaves: its lease-less neighbour entry must not bring it back (the daemon seeds
	# devices from the neighbour table when it starts).
	"$tm" arp-del 02:88:00:00:00:03 10.88.0.13
	ip netns exec "$p-h3" ip link set eth0 down
	rx ip neigh flush dev br-lan to 10.88.0.13 2>/dev/null || true
	"$tm" arp-del 02:88:00:00:00:04 10.88.0.14

	# A new period begins: 2-day periods from today. The laptop pings once more.
	write_config "$(date +%F)" 2
	ip netns exec "$p-h1" ping -q -n -s 300 -c 5 -i 0.05 -W 2 10.89.0.1 >/dev/null
	"$tm" collect
	mkdir "$FIXTURE_DIR/made" && cp -a "$FIXTURE_DIR/db" "$cfg/transferometer" "$FIXTURE_DIR/made/"  # as made, for tests on a copy (quota.test.mjs)

	cat >"$FIXTURE_DIR/traffic" <<TRAFFIC
#!/bin/sh
# traffic SECONDS: the laptop pings the WAN (about 24 kB/s each way) for SECONDS.
exec ip netns exec $p-h1 ping -q -n -s 1200 -i 0.05 -w "\${1:-10}" 10.89.0.1 >/dev/null
TRAFFIC
	chmod +x "$FIXTURE_DIR/traffic"

	TRANSFEROMETER_CONFIG_DIR=$cfg
	TRANSFEROMETER_BIN=$tm
	TRANSFEROMETER_LIVE_ADDRESS=$live.2
	TRANSFEROMETER_TRAFFIC=$FIXTURE_DIR/traffic
	export TRANSFEROMETER_CONFIG_DIR TRANSFEROMETER_BIN TRANSFEROMETER_LIVE_ADDRESS TRANSFEROMETER_TRAFFIC
}
