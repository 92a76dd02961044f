// Unit tests of htdocs/luci-static/resources/transferometer/helpers.js, the file that ships,
// loaded unchanged (see load-helpers.mjs). Expected strings are written out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHelpers } from './load-helpers.mjs';

const h = loadHelpers();
const NNBSP = '\u202f';

test('formatBytes: bytes below 1024, then binary multiples with two decimals', () => {
	const cases = [
		[ 0, '0 B' ],
		[ 1, '1 B' ],
		[ 1023, '1023 B' ],
		[ 1023.7, '1023 B' ],
		[ 1024, '1.00 KB' ],
		[ 1536, '1.50 KB' ],
		[ 3696, '3.61 KB' ],
		[ 10280, '10.04 KB' ],
		[ 10480, '10.23 KB' ],
		[ 1048575, '1.00 MB' ],       // 1023.999 KB must not print as "1024.00 KB"
		[ 1048576, '1.00 MB' ],
		[ 52428800, '50.00 MB' ],
		[ 734003200, '700.00 MB' ],
		[ 5000000000, '4.66 GB' ],
		[ 5368709120, '5.00 GB' ],
		[ 1099511627776, '1.00 TB' ],
		[ 1125899906842624, '1.00 PB' ],
		[ 2 ** 60, '1.00 EB' ],
		[ 2 ** 70, '1024.00 EB' ]
	];
	for (const [ n, want ] of cases)
		assert.equal(h.formatBytes(n), want, `formatBytes(${n})`);
});

test('formatBytes: not a count -> "-"', () => {
	for (const v of [ -1, NaN, Infinity, null, undefined, '12', {} ])
		assert.equal(h.formatBytes(v), '-', `formatBytes(${String(v)})`);
});

test('formatRate', () => {
	assert.equal(h.formatRate(null), '-');
	assert.equal(h.formatRate(undefined), '-');
	assert.equal(h.formatRate(-5), '-');
	assert.equal(h.formatRate(0), '0 B/s');
	assert.equal(h.formatRate(512.4), '512 B/s');
	assert.equal(h.formatRate(2048), '2.00 KB/s');
	assert.equal(h.formatRate(1000000), '976.56 KB/s');
});

test('exactTitle: exact bytes (and packets) with grouped digits', () => {
	assert.equal(h.exactTitle(10280, 10), `10${NNBSP}280 bytes, 10 packets`);
	assert.equal(h.exactTitle(0), '0 bytes');
	assert.equal(h.exactTitle(999, 1000), `999 bytes, 1${NNBSP}000 packets`);
	assert.equal(h.exactTitle(1234567890), `1${NNBSP}234${NNBSP}567${NNBSP}890 bytes`);
	assert.equal(h.exactTitle(5368709120, 4000000), `5${NNBSP}368${NNBSP}709${NNBSP}120 bytes, 4${NNBSP}000${NNBSP}000 packets`);
	assert.equal(h.exactTitle(null), '');
	assert.equal(h.groupDigits(1000000), `1${NNBSP}000${NNBSP}000`);
});

test('formatAge', () => {
	const cases = [
		[ 0, 'just now' ], [ 4, 'just now' ], [ -3, 'just now' ],
		[ 5, '5s ago' ], [ 59, '59s ago' ],
		[ 60, '1m ago' ], [ 3599, '59m ago' ],
		[ 3600, '1h ago' ], [ 86399, '23h ago' ],
		[ 86400, '1d ago' ], [ 200000, '2d ago' ],
		[ NaN, '-' ], [ null, '-' ]
	];
	for (const [ s, want ] of cases)
		assert.equal(h.formatAge(s), want, `formatAge(${s})`);
});

test('strings go through the translation function', () => {
	const de = { '%ds ago': 'vor %d s', '%s bytes': '%s Byte', '%s packets': '%s Pakete', 'just now': 'gerade eben' };
	const t = loadHelpers({ translate: (s) => de[s] || s });
	assert.equal(t.formatAge(42), 'vor 42 s');
	assert.equal(t.formatAge(1), 'gerade eben');
	assert.equal(t.exactTitle(10280, 10), `10${NNBSP}280 Byte, 10 Pakete`);
});

test('hostLabel: hostname, else the MAC in upper case', () => {
	assert.equal(h.hostLabel({ hostname: 'laptop', mac: '02:77:00:00:00:01' }), 'laptop');
	assert.equal(h.hostLabel({ hostname: '', mac: '02:aa:bb:cc:dd:ee' }), '02:AA:BB:CC:DD:EE');
	assert.equal(h.hostLabel({ mac: '02:aa:bb:cc:dd:ee' }), '02:AA:BB:CC:DD:EE');
});

test('addrKey orders addresses numerically, IPv4 first', () => {
	const k = h.addrKey;
	assert.ok(k('10.0.0.9') < k('10.0.0.10'));
	assert.ok(k('9.255.255.255') < k('10.0.0.0'));
	assert.ok(k('255.255.255.255') < k('::'));
	assert.ok(k('fd00::9') < k('fd00::10'));
	assert.ok(k('fd00::ffff') < k('fd00::1:0'));
	assert.equal(k('fd77::11'), k('fd77:0:0:0:0:0:0:11'));
	assert.equal(k('FD77::11'), k('fd77::11'));
	assert.equal(k('fe80::1%br-lan'), k('fe80::1'));
	assert.equal(k('::ffff:10.0.0.1'), k('::ffff:a00:1'));
	for (const bad of [ '', 'laptop', '300.1.1.1', '1.2.3', '1:2', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9' ])
		assert.equal(k(bad), null, `addrKey(${bad})`);
});

// Four hosts whose columns tie in places, to see stability.
const A = { mac: '02:00:00:00:00:0a', hostname: 'laptop', ips: [ '10.0.0.10' ], download_bytes: 100, upload_bytes: 50, last_seen: 1000 };
const B = { mac: '02:00:00:00:00:0b', hostname: '', ips: [ 'fd00::9', '10.0.0.9' ], download_bytes: 300, upload_bytes: 0, last_seen: 3000 };
const C = { mac: '02:00:00:00:00:0c', hostname: 'Phone', ips: [ 'fd00::1' ], download_bytes: 100, upload_bytes: 200, last_seen: 2000 };
const D = { mac: '02:00:00:00:00:0d', hostname: 'tv', ips: [], download_bytes: 0, upload_bytes: 0, last_seen: 0 };
const HOSTS = [ A, B, C, D ];
const RATES = {
	[A.mac]: { down: 10, up: 5 },
	[B.mac]: { down: null, up: null },
	[C.mac]: { down: 0, up: 1 }
};
const names = (list) => list.map(x => ({ [A.mac]: 'A', [B.mac]: 'B', [C.mac]: 'C', [D.mac]: 'D' })[x.mac]).join('');

test('sortHosts: every column, both directions', () => {
	const want = {
		device:    [ 'BACD', 'DCAB' ],  // "02:00:…:0B" (no hostname) < laptop < Phone < tv, case-insensitive
		mac:       [ 'ABCD', 'DCBA' ],
		ips:       [ 'BACD', 'CABD' ],  // lowest address: 10.0.0.9 < 10.0.0.10 < fd00::1; no address last
		download:  [ 'DACB', 'BACD' ],  // A and C tie at 100: incoming order both ways
		upload:    [ 'BDAC', 'CABD' ],  // B and D tie at 0
		total:     [ 'DABC', 'BCAD' ],  // B and C tie at 300
		rate:      [ 'CABD', 'ACBD' ],  // B (unknown) and D (none) last
		last_seen: [ 'ACBD', 'BCAD' ]   // D never seen: last
	};
	for (const [ key, [ asc, desc ] ] of Object.entries(want)) {
		assert.equal(names(h.sortHosts(HOSTS, key, 'asc', RATES)), asc, `${key} asc`);
		assert.equal(names(h.sortHosts(HOSTS, key, 'desc', RATES)), desc, `${key} desc`);
	}
	assert.deepEqual(Object.keys(want).sort(), Object.keys(h.COLUMNS).sort(), 'every sortable column is covered');
});

test('sortHosts: stable (ties keep the incoming order) and does not touch its input', () => {
	const input = [ D, C, B, A ];
	const copy = input.slice();
	assert.equal(names(h.sortHosts(input, 'download', 'asc', RATES)), 'DCAB');
	assert.equal(names(h.sortHosts(input, 'download', 'desc', RATES)), 'BCAD');
	assert.equal(names(h.sortHosts(input, 'total', 'desc', RATES)), 'CBAD');
	assert.deepEqual(input, copy);
	const many = Array.from({ length: 50 }, (_, i) => ({ mac: `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`, download_bytes: i % 3, upload_bytes: 0, ips: [] }));
	const sorted = h.sortHosts(many, 'download', 'asc');
	for (let i = 1; i < sorted.length; i++) {
		const a = sorted[i - 1], b = sorted[i];
		assert.ok(a.download_bytes < b.download_bytes || (a.download_bytes === b.download_bytes && a.mac < b.mac), 'stable');
	}
});

test('sortHosts: desc is the reverse of asc when all values differ', () => {
	const hosts = [ 5, 1, 4, 2, 3 ].map(n => ({ mac: `02:00:00:00:00:0${n}`, download_bytes: n * 1000, upload_bytes: n, ips: [ `10.0.0.${n}` ] }));
	for (const key of [ 'mac', 'ips', 'download', 'upload', 'total' ]) {
		const asc = h.sortHosts(hosts, key, 'asc').map(x => x.mac);
		const desc = h.sortHosts(hosts, key, 'desc').map(x => x.mac);
		assert.deepEqual(desc, asc.slice().reverse(), key);
	}
	assert.throws(() => h.sortHosts(hosts, 'nonsense', 'asc'), /unknown sort column/);
});

const usageAt = (at, hosts) => ({ collected_at: at, hosts });
const host = (mac, down, up) => ({ mac, download_bytes: down, upload_bytes: up });

test('computeRates: first poll gives no rate', () => {
	const r = h.computeRates(null, usageAt(1000, [ host('m1', 500, 100) ]));
	assert.deepEqual(r.rates, { m1: { down: null, up: null } });
	assert.deepEqual(r.snapshot, { at: 1000, hosts: { m1: { down: 500, up: 100 } } });
});

test('computeRates: delta bytes / delta collected_at', () => {
	const first = h.computeRates(null, usageAt(1000, [ host('m1', 500, 100), host('m2', 0, 0) ]));
	const r = h.computeRates(first.snapshot, usageAt(1005, [ host('m1', 5500, 600), host('m2', 0, 0) ]));
	assert.deepEqual(r.rates, { m1: { down: 1000, up: 100 }, m2: { down: 0, up: 0 } });
	assert.equal(r.snapshot.at, 1005);
	const r2 = h.computeRates(r.snapshot, usageAt(1015, [ host('m1', 5500, 1600) ]));
	assert.deepEqual(r2.rates, { m1: { down: 0, up: 100 } });
});

test('computeRates: a counter that went down (reset) gives no rate, never a negative one', () => {
	const first = h.computeRates(null, usageAt(1000, [ host('m1', 5000, 700) ]));
	const r = h.computeRates(first.snapshot, usageAt(1005, [ host('m1', 100, 900) ]));
	assert.deepEqual(r.rates, { m1: { down: null, up: 40 } });
	const next = h.computeRates(r.snapshot, usageAt(1010, [ host('m1', 600, 900) ]));
	assert.deepEqual(next.rates, { m1: { down: 100, up: 0 } }, 'counts again from the reset value');
});

test('computeRates: a new device has no rate until its second poll', () => {
	const first = h.computeRates(null, usageAt(1000, [ host('m1', 0, 0) ]));
	const r = h.computeRates(first.snapshot, usageAt(1004, [ host('m1', 400, 0), host('m2', 9999, 9999) ]));
	assert.deepEqual(r.rates, { m1: { down: 100, up: 0 }, m2: { down: null, up: null } });
});

test('computeRates: a reply that is not newer keeps the previous snapshot', () => {
	const first = h.computeRates(null, usageAt(1000, [ host('m1', 0, 0) ]));
	for (const at of [ 1000, 999 ]) {
		const r = h.computeRates(first.snapshot, usageAt(at, [ host('m1', 100, 0) ]));
		assert.equal(r.rates, null, `collected_at ${at}`);
		assert.equal(r.snapshot, first.snapshot);
	}
	const bad = h.computeRates(first.snapshot, { hosts: [] });
	assert.equal(bad.rates, null);
	assert.equal(bad.snapshot, first.snapshot);
	assert.deepEqual(h.computeRates(null, null), { snapshot: null, rates: null });
});

test('sumRates and sumHosts', () => {
	assert.deepEqual(h.sumRates(RATES), { down: 10, up: 6 });
	assert.deepEqual(h.sumRates({ x: { down: null, up: null } }), { down: null, up: null });
	assert.deepEqual(h.sumRates(null), { down: null, up: null });
	assert.equal(h.rateTotal({ down: 3, up: null }), 3);
	assert.equal(h.rateTotal({ down: null, up: null }), null);
	assert.equal(h.rateTotal(undefined), null);
	assert.deepEqual(h.sumHosts([
		{ download_bytes: 1, upload_bytes: 2, download_packets: 3, upload_packets: 4 },
		{ download_bytes: 10, upload_bytes: 20, download_packets: 30, upload_packets: 40 },
		{}
	]), { download_bytes: 11, upload_bytes: 22, download_packets: 33, upload_packets: 44 });
	assert.equal(h.hostTotal(A), 150);
});
