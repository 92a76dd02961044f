// Values for the settings page's validators (helpers.js), each with whether the backend takes it
// and, where the service spells a value it takes otherwise, how `config --json` reads it back.
// helpers.test.mjs checks the validators against these; backend-validation.test.mjs checks the real
// binary (`transferometer config --json` on a config holding the value) against the same table.
// The options in LIST_OPTIONS are stored as `list NAME 'V'` (a DynamicList writes one per value).
export const LIST_OPTIONS = new Set([ 'metrics_allow' ]);

// Go 1.21's net/netip (the router build's) also takes a prefix length with leading zeros or a sign
// and IPv6 groups of more than four digits; the binary refuses those on every build (its
// internal/ipaddr holds the rules of Go 1.22 and later), and so does the form.

export const VALIDATION_CASES = {
	refresh_interval: [ [ '', true ], [ '1', true ], [ '1s', true ], [ '30s', true ], [ '3600', true ], [ '60m', true ], [ '1h', true ],
		[ '0', false ], [ '0s', false ], [ '3601', false ], [ '61m', false ], [ '2h', false ], [ '1d', false ], [ 'h', false ],
		[ '1.5h', false ], [ ' 30s', false ], [ '30S', false ], [ '30 s', false ], [ '1000000000', false ], [ '-5', false ] ],
	commit_interval: [ [ '1m', true ], [ '60', true ], [ '24h', true ], [ '30d', true ], [ '720h', true ],
		[ '59s', false ], [ '59', false ], [ '31d', false ], [ '721h', false ], [ 'daily', false ] ],
	period_days: [ [ '1', true ], [ '366', true ], [ '030', true ], [ '0', false ], [ '367', false ], [ '1.5', false ], [ '1e2', false ] ],
	generations: [ [ '1', true ], [ '120', true ], [ '0', false ], [ '121', false ], [ 'x', false ] ],
	max_devices: [ [ '16', true ], [ '1024', true ], [ '65536', true ], [ '15', false ], [ '65537', false ], [ '1e3', false ], [ '-16', false ] ],
	live_port: [ [ '0', true ], [ '8093', true ], [ '65535', true ], [ '08093', true ], [ '65536', false ], [ '-1', false ], [ '80 ', false ] ],
	live_tls_port: [ [ '0', true ], [ '8094', true ], [ '70000', false ] ],
	live_address: [ [ '192.168.1.1', true ], [ '10.99.0.2', true ], [ 'fd00::1', true ], [ '::1', true ], [ '::ffff:10.0.0.1', false ],
		// the feed must not face the WAN: no wildcard; and only a unicast address to listen on
		[ '0.0.0.0', false ], [ '::', false ], [ '0:0:0:0:0:0:0:0', false ], [ '224.0.0.1', false ], [ '239.255.255.250', false ],
		[ 'ff02::1', false ], [ 'fe80::1', false ], [ 'febf::1', false ], [ '169.254.1.1', false ], [ 'fec0::1', true ], [ '223.255.255.255', true ],
		[ '10.0.0.256', false ], [ '010.0.0.1', false ], [ 'fe80::1%br-lan', false ], [ '10.0.0.0/24', false ], [ 'router', false ],
		[ ' 10.0.0.1', false ], [ '1.2.3', false ], [ '1::2::3', false ],
		// Go's netip.ParseAddr: '::' stands for at least one zero group; an IPv4 tail as strict as IPv4
		[ '1:2:3:4:5:6:7::', true, '1:2:3:4:5:6:7:0' ], [ 'FD00::A', true, 'fd00::a' ], [ '::ffff:10.0.0.255', false ],
		[ '1:2:3:4:5:6:7::8', false ], [ '::1:2:3:4:5:6:7:8', false ], [ '::ffff:010.0.0.1', false ], [ '::ffff:10.0.0.256', false ],
		[ '::ffff:10.300.0.1', false ], [ 'fd00::00001', false ] ],
	// path options are confined to where they belong (the service's internal/config/paths.go)
	persist_dir: [ [ '/etc/transferometer', true ], [ '/overlay/tm', true ], [ '/mnt/usb/tm', true ], [ '/tmp/tm', true ],
		[ '/', false ], [ '/etc', false ], [ '/etc/', false ], [ '/usr/lib/x', false ], [ '/etc/../usr', false ], [ '/etc/./x', false ],
		[ '/etc//x', false ], [ '/etc/x/', false ], [ '/etc/x/..', false ], [ 'etc/transferometer', false ], [ '~/x', false ] ],
	live_cert: [ [ '/etc/uhttpd.crt', true ], [ '/var/etc/x.crt', true ], [ 'uhttpd.crt', false ], [ '/root/x.crt', false ],
		[ '/proc/self/environ', false ] ],
	live_key: [ [ '/etc/uhttpd.key', true ], [ '/root/key.pem', false ], [ '/etc/..', false ] ],
	db_dir: [ [ '/var/lib/transferometer', true ], [ '/tmp/tm', true ], [ '/run/tm', true ], [ '/etc/tm', false ], [ '/tmp', false ],
		[ '/tmp/', false ], [ '/var/lib/tm/.', false ] ],
	period_start: [ [ '1', true ], [ '28', true ], [ '01', true ], [ '2026-11-05', true ], [ '2028-02-29', true ],
		[ '0', false ], [ '29', false ], [ '2026-02-29', false ], [ '2026-11-5', false ], [ 'monday', false ] ],
	// empty: UCI drops the option, the service derives the device from the LAN network
	lan_device: [ [ '', true ], [ 'br-lan', true ], [ 'eth0', true ], [ 'eth0.10', true ], [ 'wlan0-1', true ], [ 'lan1@eth0', true ],
		[ 'abcdefghijklmno', true ], [ '...', true ], [ 'a', true ], [ 'br_lan', true ],
		[ 'abcdefghijklmnop', false ], [ '.', false ], [ '..', false ], [ '-eth0', false ], [ 'br lan', false ], [ ' br-lan', false ],
		[ 'br-lan ', false ], [ 'br\tlan', false ], [ 'br/lan', false ], [ 'eth0:1', false ], [ 'br\u00fclan', false ], [ 'eth\u007f', false ],
		[ 'eth\u00010', false ] ],
	// a ListValue: the form takes the values it lists (helpers.PLACEMENTS)
	placement: [ [ '', true ], [ 'auto', true ], [ 'forward', true ], [ 'netdev', true ],
		[ 'Auto', false ], [ 'netdev ', false ], [ 'ingress', false ], [ 'nftables', false ] ],
	// a Flag: the form writes '0' or '1'; the service takes every word of OpenWrt's config_get_bool
	// (case-sensitive there too), so a hand-written one is fine; empty: the default, off
	metrics: [ [ '0', true ], [ '1', true ], [ 'on', true, '1' ], [ 'off', true, '0' ], [ 'true', true, '1' ], [ 'false', true, '0' ],
		[ 'yes', true, '1' ], [ 'no', true, '0' ], [ 'enabled', true, '1' ], [ 'disabled', true, '0' ],
		[ '', true ], [ 'ON', false ], [ 'Yes', false ], [ 'TRUE', false ], [ '2', false ], [ 'y', false ], [ 'enable', false ],
		[ ' 1', false ], [ '1 ', false ] ],
	// a list of addresses or subnets (Go's netip.ParsePrefix, else netip.ParseAddr without a zone),
	// read back as the subnets the service matches: an address is /32 or /128, host bits are masked
	metrics_allow: [ [ '192.168.1.10', true, '192.168.1.10/32' ], [ '10.99.0.0/24', true ], [ '10.99.0.5/24', true, '10.99.0.0/24' ],
		[ '10.0.0.1/32', true ], [ '0.0.0.0/0', true ], [ '10.0.0.0/0', true, '0.0.0.0/0' ], [ 'fd00::/64', true ],
		[ 'fd00::1', true, 'fd00::1/128' ], [ 'FD00::5/64', true, 'fd00::/64' ], [ 'fd00::/128', true ], [ '::/0', true ],
		[ '::1', true, '::1/128' ], [ '0:0:0:0:0:0:0:0/0', true, '::/0' ], [ '1:2:3:4:5:6:7::/64', true, '1:2:3:4::/64' ],
		[ '::ffff:10.0.0.0/104', false ], [ '::ffff:10.0.0.1', false ], [ '0:0:0:0:0:ffff:a00:1', false ],
		[ '10.0.0.0/08', false ], [ '10.0.0.0/00', false ], [ '10.0.0.0/0008', false ],
		[ 'fd00::/064', false ], [ '10.0.0.0/+8', false ], [ '10.0.0.0/-0', false ],
		[ 'fd00::00001', false ], [ 'fd00::00001/64', false ],
		[ '10.0.0.0/33', false ], [ '10.0.0.0/1000', false ], [ 'fd00::/129', false ], [ '10.0.0.0/-8', false ], [ '10.0.0.0/', false ], [ '/24', false ],
		[ '10.0.0.0/8/8', false ], [ '10.0.0.0/1e1', false ], [ '10.0.0.0/8a', false ], [ '10.0.0.0 /8', false ], [ '10.0.0.0/ 8', false ],
		[ ' 10.0.0.1', false ], [ '10.0.0.1 ', false ], [ '10.0.0.1 10.0.0.2', false ], [ '010.0.0.0/8', false ], [ '10.0.0.256', false ],
		[ '10.0.0', false ], [ 'fe80::1%br-lan', false ], [ 'fe80::1%br-lan/64', false ], [ '1:2:3:4:5:6:7::8', false ],
		[ '::ffff:010.0.0.1', false ], [ 'router', false ], [ '*', false ] ],
	// an http(s) URL as Go's net/url.Parse (the router build's, Go 1.21) reads it, with a host, no
	// fragment, a port from 1 to 65535 if any, at most 2048 bytes (internal/config/alerts.go)
	alert_webhook: [ [ '', true ], [ 'https://example.com/hook', true ], [ 'http://192.168.1.2:8080/alert', true ],
		[ 'https://ntfy.sh/my-router-alerts', true ], [ 'HTTPS://Example.COM/x', true ], [ 'https://example.com', true ],
		[ 'https://user:t0k3n@hooks.example.com/a?b=c&d=e', true ], [ 'http://[fd00::1]:8080/x', true ], [ 'http://[fd00::1]/', true ],
		[ 'https://example.com:/x', true ], [ 'https://example.com/p%20q', true ], [ 'https://ex%C3%A4mple.com/', true ],
		[ 'https://b\u00fccher.example/x', true ], [ 'https://example.com/?q=%zz', true ], [ 'https://u/ser@x/', true ],
		[ 'https://example.com:65535/', true ], [ 'https://example.com:1/', true ], [ 'https://example.com/a?b?c', true ],
		[ 'https://example.com/' + 'a'.repeat(2028), true ], [ 'https://example.com/' + '\u00e4'.repeat(1014), true ],
		[ 'https://example.com/' + 'a'.repeat(2029), false ], [ 'https://example.com/' + '\u00e4'.repeat(1015), false ],
		[ 'ftp://example.com/', false ], [ 'example.com/hook', false ], [ '/relative/x', false ], [ 'https:example.com', false ],
		[ 'https:/example.com/x', false ], [ 'https:///path', false ], [ 'https://', false ], [ 'https://user@/x', false ],
		[ 'https://:8080/x', false ], [ 'https://example.com:0/', false ], [ 'https://example.com:65536/', false ],
		[ 'https://example.com:80a/', false ], [ 'https://example.com:0000000080/', false ], [ 'https://example.com/a b', false ],
		[ 'https://example.com/\tx', false ], [ 'https://example.com/\u007f', false ], [ ' https://example.com/', false ],
		[ 'https://example.com/#x', false ], [ 'https://example.com/x#', false ], [ 'https://example.com/%zz', false ],
		[ 'https://example.com/%4', false ], [ 'https://ex%41mple.com/', false ], [ 'https://ex{ample.com/', false ],
		[ 'https://exa|mple.com/', false ], [ 'https://u{@example.com/', false ], [ 'https://%zz@example.com/', false ],
		[ 'http://[fd00::1/x', false ], [ 'http://[fd00::1]x/', false ], [ 'javascript:alert(1)', false ], [ '1http://example.com/', false ],
		[ 'https://[fe80::1%25%00]/', false ], [ 'https://[fe80::1%25br-lan]:8080/', true ] ],
	// a Flag, default on (OpenWrt's config_get_bool words, as metrics)
	alert_new_device: [ [ '0', true ], [ '1', true ], [ '', true ], [ 'off', true, '0' ], [ 'yes', true, '1' ],
		[ 'No', false ], [ '2', false ], [ ' 0', false ] ]
};

const BOOLEAN_WORDS = [ '1', 'on', 'true', 'yes', 'enabled', '0', 'off', 'false', 'no', 'disabled' ];

// The settings page's validator of each option (as config.js wires them), on a loaded helpers.js.
export function checkers(h) {
	return {
		refresh_interval: (v) => h.checkDuration(v, 1, 3600),
		commit_interval: (v) => h.checkDuration(v, 60, 30 * 86400),
		period_days: (v) => h.checkInteger(v, 1, 366),
		generations: (v) => h.checkInteger(v, 1, 120),
		max_devices: (v) => h.checkInteger(v, 16, 65536),
		live_port: (v) => h.checkInteger(v, 0, 65535),
		live_tls_port: (v) => h.checkInteger(v, 0, 65535),
		live_address: (v) => h.checkListenAddress(v),
		persist_dir: (v) => h.checkConfinedPath(v, h.PERSIST_ROOTS),
		live_cert: (v) => h.checkConfinedPath(v, h.CERT_ROOTS),
		live_key: (v) => h.checkConfinedPath(v, h.CERT_ROOTS),
		db_dir: (v) => h.checkConfinedPath(v, h.RUNTIME_ROOTS),
		period_start: (v) => h.checkPeriodStart(v, null),
		lan_device: (v) => h.checkDeviceName(v),
		placement: (v) => (v === '' || h.PLACEMENTS.indexOf(v) >= 0) ? true : `not one of ${h.PLACEMENTS.join(', ')}`,
		// no validator on the page: a Flag writes only '0' or '1' (or removes the option), all taken here
		metrics: (v) => (v === '' || BOOLEAN_WORDS.includes(v)) ? true : 'not a boolean of config_get_bool',
		metrics_allow: (v) => h.checkAddressOrSubnet(v),
		alert_webhook: (v) => h.checkWebhook(v),
		alert_new_device: (v) => (v === '' || BOOLEAN_WORDS.includes(v)) ? true : 'not a boolean of config_get_bool'
	};
}

