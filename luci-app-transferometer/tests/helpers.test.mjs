// Unit tests of htdocs/luci-static/resources/transferometer/helpers.js, the file that ships,
// loaded unchanged (see load-helpers.mjs). Expected strings are written out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHelpers } from './load-helpers.mjs';
import { VALIDATION_CASES, checkers } from './validation-cases.mjs';

const h = loadHelpers();
const NNBSP = '\u202f';

test('formatBytes: bytes below 1024, then binary multiples with two decimals', () => {
	const cases = [
		[ 0, '0 B' ],
		[ 1, '1 B' ],
		[ 1023, '1,023 B' ],
		[ 1023.7, '1,023 B' ],
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
		[ 2 ** 70, '1,024.00 EB' ]
	];
	for (const [ n, want ] of cases)
		assert.equal(h.formatBytes(n, 'en-US'), want, `formatBytes(${n})`);
});

test('formatBytes and groupDigits: in the locale asked for', () => {
	assert.equal(h.formatBytes(10280, 'de-DE'), '10,04 KB');
	assert.equal(h.formatBytes(5368709120, 'de-DE'), '5,00 GB');
	assert.equal(h.formatBytes(2 ** 70, 'de-DE'), '1.024,00 EB');
	assert.equal(h.formatBytes(1000, 'de-DE'), '1.000 B');
	assert.equal(h.groupDigits(1234567, 'de-DE'), '1.234.567');
	assert.equal(h.groupDigits(1234567, 'zh-CN'), '1,234,567');
	assert.equal(h.exactTitle(10280, 10, 'de-DE'), '10.280 bytes, 10 packets');
	assert.equal(h.formatBytes(10280, 'no-such-locale-xx'), h.formatBytes(10280), 'an unknown locale: the runtime\'s own');
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
	assert.equal(h.exactTitle(10280, 10, 'en-US'), '10,280 bytes, 10 packets');
	assert.equal(h.exactTitle(0, undefined, 'en-US'), '0 bytes');
	assert.equal(h.exactTitle(999, 1000, 'en-US'), '999 bytes, 1,000 packets');
	assert.equal(h.exactTitle(1234567890, undefined, 'en-US'), '1,234,567,890 bytes');
	assert.equal(h.exactTitle(5368709120, 4000000, 'en-US'), '5,368,709,120 bytes, 4,000,000 packets');
	assert.equal(h.exactTitle(null), '');
	assert.equal(h.groupDigits(1000000, 'en-US'), '1,000,000');
	assert.equal(h.groupDigits(1000000, 'fr-FR'), `1${NNBSP}000${NNBSP}000`);
});

test('relativeAge: Intl.RelativeTimeFormat in the locale, largest whole unit', () => {
	const cases = [ [ 0, 'now' ], [ 5, '5 seconds ago' ], [ 59, '59 seconds ago' ], [ 60, '1 minute ago' ],
		[ 3599, '59 minutes ago' ], [ 3600, '1 hour ago' ], [ 86399, '23 hours ago' ], [ 86400, 'yesterday' ],
		[ 200000, '2 days ago' ], [ -3, 'now' ], [ NaN, '-' ], [ null, '-' ] ];
	for (const [ s, want ] of cases)
		assert.equal(h.relativeAge(s, 'en-US'), want, `relativeAge(${s})`);
	assert.equal(h.relativeAge(300, 'de-DE'), 'vor 5 Minuten');
	assert.equal(h.relativeAge(7200, 'zh-CN'), '2小时前');
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
	assert.equal(t.exactTitle(10280, 10, 'de-DE'), '10.280 Byte, 10 Pakete');
});

test('hostLabel: the given name, else the hostname, else the MAC in upper case', () => {
	assert.equal(h.hostLabel({ name: 'Anna\'s laptop', hostname: 'android-12', mac: '02:77:00:00:00:01' }), 'Anna\'s laptop');
	assert.equal(h.hostLabel({ name: '', hostname: 'laptop', mac: '02:77:00:00:00:01' }), 'laptop');
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
const A = { mac: '02:00:00:00:00:0a', hostname: 'laptop', ips: [ '10.0.0.10' ], download_bytes: 100, upload_bytes: 50, last_seen: 1000,
	today: { download_bytes: 5, upload_bytes: 5, download_packets: 1, upload_packets: 1 } };
const B = { mac: '02:00:00:00:00:0b', hostname: '', ips: [ 'fd00::9', '10.0.0.9' ], download_bytes: 300, upload_bytes: 0, last_seen: 3000,
	today: { download_bytes: 0, upload_bytes: 0 } };
const C = { mac: '02:00:00:00:00:0c', hostname: 'Phone', ips: [ 'fd00::1' ], download_bytes: 100, upload_bytes: 200, last_seen: 2000,
	today: { download_bytes: 30, upload_bytes: 0 } };
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
		device:    [ 'ACDB', 'DCAB' ],  // laptop < Phone < tv, case-insensitive; B has no name: last
		mac:       [ 'ABCD', 'DCBA' ],
		ips:       [ 'BACD', 'CABD' ],  // lowest address: 10.0.0.9 < 10.0.0.10 < fd00::1; no address last
		download:  [ 'DACB', 'BACD' ],  // A and C tie at 100: incoming order both ways
		upload:    [ 'BDAC', 'CABD' ],  // B and D tie at 0
		total:     [ 'DABC', 'BCAD' ],  // B and C tie at 300
		today:     [ 'BDAC', 'CABD' ],  // B and D (no today at all) tie at 0
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

test('todayTotal and todayTitle', () => {
	assert.equal(h.todayTotal(A), 10);
	assert.equal(h.todayTotal(D), 0);
	assert.equal(h.todayTotal(null), 0);
	assert.equal(h.todayTitle({ download_bytes: 10280, upload_bytes: 1000, download_packets: 8, upload_packets: 2 }, 'en-US'),
		'11,280 bytes (↓ 10,280, ↑ 1,000), 10 packets');
	assert.equal(h.todayTitle(undefined, 'en-US'), '0 bytes (↓ 0, ↑ 0)');
});

// 2026-11-01 00:00 UTC and friends; the page reads dates from the key, never in the browser's zone.
const DAY = 86400;
const NOV1 = Date.UTC(2026, 10, 1) / 1000;

test('periodRange / periodLabel: a calendar month, other ranges, DST days, all, junk', () => {
	const nov = { key: '2026-11-01', start: NOV1, end: NOV1 + 30 * DAY };
	const en = 'en-US';
	assert.deepEqual(h.periodRange(nov, en), { first: '2026-11-01', last: '2026-11-30', days: 30, month: 'November 2026' });
	assert.equal(h.periodLabel(nov, en), 'November 2026 (Nov 1, 2026 – Nov 30, 2026)');
	// monthly from the 15th: not a calendar month
	const mid = { key: '2026-10-15', start: NOV1 - 17 * DAY, end: NOV1 + 14 * DAY };
	assert.equal(h.periodLabel(mid, en), 'Oct 15, 2026 – Nov 14, 2026 (31 days)');
	// a leap February
	const feb = { key: '2028-02-01', start: Date.UTC(2028, 1, 1) / 1000, end: Date.UTC(2028, 2, 1) / 1000 };
	assert.equal(h.periodLabel(feb, en), 'February 2028 (Feb 1, 2028 – Feb 29, 2028)');
	// December rolls into the next year
	assert.equal(h.periodRange({ key: '2026-12-01', start: 0, end: 31 * DAY }, en).month, 'December 2026');
	// a month whose start day is the 1st but which is cut short is no month
	assert.equal(h.periodRange({ key: '2026-11-01', start: NOV1, end: NOV1 + 29 * DAY }, en).month, null);
	// periods of N days, with a day that has 23 or 25 hours (DST) inside
	assert.equal(h.periodLabel({ key: '2026-03-28', start: 1000, end: 1000 + 2 * DAY - 3600 }, en), 'Mar 28, 2026 – Mar 29, 2026 (2 days)');
	assert.equal(h.periodLabel({ key: '2026-10-24', start: 1000, end: 1000 + 2 * DAY + 3600 }, en), 'Oct 24, 2026 – Oct 25, 2026 (2 days)');
	assert.equal(h.periodLabel({ key: '2026-11-25', start: 1000, end: 1000 + DAY }, en), 'Nov 25, 2026 (1 day)');
	// in the browser's locale
	assert.equal(h.periodLabel(nov, 'de-DE'), 'November 2026 (1. Nov. 2026 – 30. Nov. 2026)');
	assert.equal(h.periodLabel(mid, 'zh-CN'), '2026年10月15日 – 2026年11月14日 (31 days)');
	assert.equal(h.periodLabel({ key: 'all', start: 0, end: 0 }), 'All traffic since the counters were last reset');
	assert.equal(h.periodLabel(null), 'All traffic since the counters were last reset');
	// no usable range: the key as it is
	assert.equal(h.periodLabel({ key: '2026-11-01' }), '2026-11-01');
	assert.equal(h.periodRange({ key: '2026-02-30', start: 0, end: DAY }), null, 'not a date');
	assert.equal(h.periodRange({ key: '2026-11-01', start: 5, end: 5 }), null, 'empty range');
	assert.equal(h.periodRange({ key: '2026-12-01', start: 0, end: 31 * DAY }, 'de-DE').month, 'Dezember 2026');
	assert.equal(h.periodRange({ key: '2026-12-01', start: 0, end: 31 * DAY }, 'zh-CN').month, '2026年12月');
});

test('parseDay: real calendar dates only', () => {
	assert.deepEqual(h.parseDay('2028-02-29'), { y: 2028, m: 2, d: 29, t: Date.UTC(2028, 1, 29) });
	for (const bad of [ '2026-02-29', '2026-13-01', '2026-1-01', '26-11-01', '2026-11-01x', '', null, 'all' ])
		assert.equal(h.parseDay(bad), null, String(bad));
});

test('periodOptions: current first (as "current"), older periods, then all', () => {
	assert.deepEqual(h.periodOptions([ '2026-11-01', '2026-10-01', '2026-09-01' ], 'en-US'), [
		{ value: 'current', label: 'Current period (since Nov 1, 2026)' },
		{ value: '2026-10-01', label: 'Period from Oct 1, 2026' },
		{ value: '2026-09-01', label: 'Period from Sep 1, 2026' },
		{ value: 'all', label: 'All since the last reset' }
	]);
	assert.deepEqual(h.periodOptions([]).map(o => o.value), [ 'current', 'all' ]);
	assert.deepEqual(h.periodOptions(undefined).map(o => o.value), [ 'current', 'all' ]);
});

test('csvSafe: a leading = + - @ gets a quote; csvField quotes as Go encoding/csv', () => {
	for (const [ s, want ] of [ [ '=1+2', "'=1+2" ], [ '+x', "'+x" ], [ '-x', "'-x" ], [ '@x', "'@x" ], [ 'a=b', 'a=b' ], [ '', '' ], [ null, '' ] ])
		assert.equal(h.csvSafe(s), want, String(s));
	const cases = [
		[ 'plain', 'plain' ], [ '', '' ], [ 'a,b', '"a,b"' ], [ 'say "hi"', '"say ""hi"""' ], [ 'two\nlines', '"two\nlines"' ],
		[ 'cr\r', '"cr\r"' ], [ ' lead', '" lead"' ], [ '\tlead', '"\tlead"' ], [ 'trail ', 'trail ' ], [ 'in side', 'in side' ],
		[ '\\.', '"\\."' ], [ "'=1+2", "'=1+2" ], [ 12, '12' ], [ null, '' ]
	];
	for (const [ v, want ] of cases)
		assert.equal(h.csvField(v), want, JSON.stringify(v));
});

test('usageCSV: the columns and format of `transferometer export`', () => {
	const usage = {
		period: { key: '2026-11-01', start: NOV1, end: NOV1 + 30 * DAY },
		hosts: [
			{ mac: '02:88:00:00:00:01', hostname: 'laptop', name: 'Anna laptop', group: 'Anna', ips: [ '10.88.0.11', 'fd88::11' ], download_bytes: 13424, upload_bytes: 13424,
				download_packets: 13, upload_packets: 13, first_seen: 1795639467, last_seen: 1795639470 },
			{ mac: '02:88:00:00:00:02', hostname: '', ips: [], download_bytes: 0, upload_bytes: 0, download_packets: 0,
				upload_packets: 0, first_seen: 0, last_seen: 0 },
			{ mac: '02:88:00:00:00:04', hostname: '=HYPERLINK("x"),1', name: '=HYPERLINK("x"),1', group: '@kids', ips: [ '10.88.0.14' ], download_bytes: 5368709120,
				upload_bytes: 1, download_packets: 4000000, upload_packets: 1, first_seen: 1, last_seen: 2 }
		]
	};
	assert.equal(h.usageCSV(usage), [
		'period,mac,hostname,ips,download_bytes,upload_bytes,download_packets,upload_packets,first_seen,last_seen,name,group',
		'2026-11-01,02:88:00:00:00:01,laptop,10.88.0.11 fd88::11,13424,13424,13,13,1795639467,1795639470,Anna laptop,Anna',
		'2026-11-01,02:88:00:00:00:02,,,0,0,0,0,0,0,,',
		'2026-11-01,02:88:00:00:00:04,"\'=HYPERLINK(""x""),1",10.88.0.14,5368709120,1,4000000,1,1,2,"\'=HYPERLINK(""x""),1",\'@kids',
		''
	].join('\n'));
	assert.equal(h.usageCSV({ period: { key: 'all' }, hosts: [] }), h.CSV_HEADER.join(',') + '\n');
	assert.equal(h.usageCSV({ period: { key: 'all' }, hosts: [ { mac: 'x' } ] }).split('\n')[1], 'all,x,,,0,0,0,0,0,0,,');
	assert.equal(h.usageJSON({ a: [ 1 ] }), '{\n  "a": [\n    1\n  ]\n}\n');
	assert.equal(h.exportFilename(usage, 'csv'), 'transferometer-2026-11-01.csv');
	assert.equal(h.exportFilename({ period: { key: 'all' } }, 'json'), 'transferometer-all.json');
	assert.equal(h.exportFilename({ period: { key: '../x y' } }, 'csv'), 'transferometer-.._x_y.csv');
	assert.equal(h.exportFilename({}, 'csv'), 'transferometer-current.csv');
});

test('backoffDelay: 5 s, doubling, at most 60 s; never a tight loop', () => {
	assert.deepEqual([ 0, 1, 2, 3, 4, 5, 6, 50 ].map(h.backoffDelay), [ 5, 10, 20, 40, 60, 60, 60, 60 ]);
	for (const odd of [ -1, NaN, undefined, null, 'x' ])
		assert.equal(h.backoffDelay(odd), 5, String(odd));
	assert.equal(h.backoffDelay(2.7), 20);
	// an hour of failures costs fewer than 70 attempts
	let t = 0, n = 0;
	while (t < 3600) t += h.backoffDelay(n++);
	assert.ok(n < 70, `${n} attempts in an hour`);
});

const SID = '0123456789abcdef0123456789abcdef';

test('liveURL: ws on live.port for http, wss on live.tls_port for https, the page host', () => {
	const live = { port: 8093, tls_port: 8094 };
	assert.equal(h.liveURL({ protocol: 'http:', hostname: '192.168.1.1' }, live, SID), `ws://192.168.1.1:8093/live?session=${SID}`);
	assert.equal(h.liveURL({ protocol: 'https:', hostname: 'router.lan' }, live, SID), `wss://router.lan:8094/live?session=${SID}`);
	assert.equal(h.liveURL({ protocol: 'http:', hostname: '[fd00::1]' }, live, SID), `ws://[fd00::1]:8093/live?session=${SID}`);
	assert.equal(h.liveURL({ protocol: 'http:', hostname: 'fd00::1' }, live, SID), `ws://[fd00::1]:8093/live?session=${SID}`);
	// real URL objects, as window.location is
	assert.equal(h.liveURL(new URL('https://[fd00::1]:443/cgi-bin/luci/'), live, SID), `wss://[fd00::1]:8094/live?session=${SID}`);
	assert.equal(h.liveURL(new URL('http://127.0.0.1:8080/x'), { port: 40000, tls_port: 0 }, SID), `ws://127.0.0.1:40000/live?session=${SID}`);
	// off, or nothing to present
	assert.equal(h.liveURL({ protocol: 'http:', hostname: 'r' }, { port: 0, tls_port: 8094 }, SID), null, 'plain port off');
	assert.equal(h.liveURL({ protocol: 'https:', hostname: 'r' }, { port: 8093, tls_port: 0 }, SID), null, 'https never falls back to ws');
	for (const bad of [ null, {}, { port: '8093' }, { port: 70000 }, { port: 1.5 }, { port: -1 } ])
		assert.equal(h.liveURL({ protocol: 'http:', hostname: 'r' }, bad, SID), null, JSON.stringify(bad));
	for (const sid of [ undefined, '', '00000000000000000000000000000000', 'ABCDEF0123456789ABCDEF0123456789', SID + '0', 'x'.repeat(32) ])
		assert.equal(h.liveURL({ protocol: 'http:', hostname: 'r' }, live, sid), null, String(sid));
	assert.equal(h.liveURL({ protocol: 'http:', hostname: '' }, live, SID), null);
	assert.equal(h.liveURL(null, live, SID), null);
	assert.equal(h.isSessionID(SID), true);
});

test('liveCertURL: the TLS port as a page to accept the certificate on, for https pages only', () => {
	const live = { port: 8093, tls_port: 8094 };
	assert.equal(h.liveCertURL(new URL('https://192.168.1.1/cgi-bin/luci/'), live), 'https://192.168.1.1:8094/');
	assert.equal(h.liveCertURL(new URL('https://[fd00::1]/'), live), 'https://[fd00::1]:8094/');
	assert.equal(h.liveCertURL(new URL('http://192.168.1.1/'), live), null, 'http pages use ws://');
	assert.equal(h.liveCertURL(new URL('https://r/'), { port: 8093, tls_port: 0 }), null, 'TLS feed off');
	assert.equal(h.liveCertURL(null, live), null);
});

test('parseLiveMessage: rates by lower-case MAC; anything else is null', () => {
	assert.deepEqual(h.parseLiveMessage(JSON.stringify({ type: 'rates', at: 1795639470123, rates: [
		{ mac: '02:88:00:00:00:01', down: 1234.5, up: 10 }, { mac: '02:AA:00:00:00:02', down: 0, up: -1 }, { down: 5 }, null
	] })), { at: 1795639470123, rates: { '02:88:00:00:00:01': { down: 1234.5, up: 10 }, '02:aa:00:00:00:02': { down: 0, up: null } } });
	assert.deepEqual(h.parseLiveMessage('{"type":"rates","rates":[]}'), { at: null, rates: {} });
	for (const bad of [ 'not json', '', '[]', 'null', '{"type":"hello"}', '{"type":"rates"}', '{"type":"rates","rates":{}}' ])
		assert.equal(h.parseLiveMessage(bad), null, bad);
});

test('settings validators: the backend\'s rules', () => {
	const CHECKERS = checkers(h);
	for (const [ opt, cases ] of Object.entries(VALIDATION_CASES))
		for (const [ v, ok ] of cases) {
			const r = CHECKERS[opt](v);
			assert.equal(r === true, ok === true, `${opt} ${JSON.stringify(v)}: ${r}`);
			if (r !== true) assert.equal(typeof r, 'string', 'an error is a message');
		}
	assert.match(h.checkDuration('2h', 1, 3600), /from 1s to 1h/);
	assert.match(h.checkDuration('31d', 60, 30 * 86400), /from 1m to 30d/);
	assert.match(h.checkInteger('0', 1, 366), /from 1 to 366/);
	assert.deepEqual([ 1, 59, 60, 3600, 86400, 172800, 2592000, 90 ].map(h.formatDuration), [ '1s', '59s', '1m', '1h', '24h', '2d', '30d', '90s' ]);
	assert.match(h.checkDeviceName('abcdefghijklmnop'), /1 to 15 characters/);
	assert.match(h.checkDeviceName('br lan'), /without spaces, \/ or :/);
	assert.equal(h.checkDeviceName(null), true, 'no value: derived from the LAN network');
	assert.deepEqual(Array.from(h.PLACEMENTS), [ 'auto', 'forward', 'netdev' ]);
	assert.equal(h.parseDuration('1d'), 86400);
	assert.equal(h.parseDuration('x'), null);
});

test('checkAddressOrSubnet: an address or a subnet as Go 1.22+ net/netip parses it', () => {
	const ok = (v) => h.checkAddressOrSubnet(v) === true;
	// the prefix length: 0 to the family's bits, plain decimal
	for (const [ addr, max ] of [ [ '10.0.0.0', 32 ], [ 'fd00::', 128 ], [ '::fffe:10.0.0.0', 128 ] ]) {
		for (const b of [ 0, 1, max ])
			assert.ok(ok(`${addr}/${b}`), `${addr}/${b}`);
		for (const b of [ max + 1, '', '08', '00', '+1', '-0', ' 1', '1 ', '1.0', '0x8' ])
			assert.ok(!ok(`${addr}/${b}`), `${addr}/${JSON.stringify(b)}`);
	}
	// the address part is checkIPAddress's: an address alone is taken, and refused alike
	for (const a of [ '10.0.0.1', 'fd00::1', '::', '::fffe:10.0.0.1', '010.0.0.1', '10.0.0.1%eth0', 'fe80::1%br-lan', '1:2:3:4:5:6:7::8', 'fd00::00001', 'x' ])
		assert.equal(ok(a), h.checkIPAddress(a) === true, a);
	// IPv4-mapped: the service matches callers as IPv4, so it refuses these, and so does the form
	for (const a of [ '::ffff:10.0.0.1', '::FFFF:10.0.0.1', '::ffff:a00:1', '0:0:0:0:0:ffff:10.0.0.1', '::ffff:10.0.0.0/104', '::ffff:0.0.0.0/96' ])
		assert.match(String(h.checkAddressOrSubnet(a)), /IPv4 notation/, a);
	assert.match(h.checkAddressOrSubnet('10.0.0.0/33'), /an IP address or a subnet/);
	assert.equal(h.checkAddressOrSubnet(''), true, 'nothing typed: nothing added to the list');
	assert.equal(h.checkAddressOrSubnet(null), true);
});

test('checkPeriodStart: the form of period_start the chosen period uses', () => {
	for (const v of [ '1', '15', '28', '01' ]) {
		assert.equal(h.checkPeriodStart(v, 'monthly'), true, v);
		assert.match(String(h.checkPeriodStart(v, 'days')), /YYYY-MM-DD/, v);
	}
	for (const v of [ '2026-11-05', '2028-02-29' ]) {
		assert.equal(h.checkPeriodStart(v, 'days'), true, v);
		assert.match(String(h.checkPeriodStart(v, 'monthly')), /1 to 28/, v);
	}
	assert.notEqual(h.checkPeriodStart('2026-02-30', 'days'), true);
	assert.notEqual(h.checkPeriodStart('29', 'monthly'), true);
	assert.equal(h.checkPeriodStart('', 'days'), true, 'empty: the default');
});

test('checkDeviceLabel: the service\'s rule for names and groups (internal/names, 64 bytes)', () => {
	for (const ok of [ '', 'laptop', 'Pixel-7a', 'büro-pc', '客厅电视', 'a.b_c', 'Anna phone', 'x'.repeat(64), 'ü'.repeat(32), '😀'.repeat(16) ])
		assert.equal(h.checkDeviceLabel(ok), true, JSON.stringify(ok));
	for (const bad of [ 'bad\nname', 'tab\tname', 'del\x7f', 'c1\u0085name', 'c1\u009bname', '<script>', 'a&b', 'q"', "q'", 'back\\slash',
		'evil\u202etxt.exe', 'rlo\u202d', 'iso\u2066late\u2069', 'mark\u200f', 'alm\u061c', 'zw\u200bsp', 'bom\ufeff', 'wj\u2060',
		'x'.repeat(65), 'ü'.repeat(33), '😀'.repeat(17), 'lone\ud800', '\udc00x' ])
		assert.equal(typeof h.checkDeviceLabel(bad), 'string', JSON.stringify(bad));
});

test('normalizeMAC and shownName: given name, then DHCP hostname, then LuCI\'s host hints', () => {
	assert.equal(h.normalizeMAC('02:aa:bb:cc:dd:ee'), '02:AA:BB:CC:DD:EE');
	assert.equal(h.normalizeMAC('02-AA-bb-cc-dd-ee'), '02:AA:BB:CC:DD:EE');
	assert.equal(h.normalizeMAC('02:aa:bb:cc:dd'), null);
	assert.equal(h.normalizeMAC(null), null);
	const hints = { '02:AA:BB:CC:DD:EE': { name: 'printer' }, '02:AA:BB:CC:DD:EF': { name: 'bad<name' } };
	assert.deepEqual(h.shownName({ mac: '02:aa:bb:cc:dd:ee', name: 'Anna', hostname: 'android-1' }, hints), { name: 'Anna', source: 'given' });
	assert.deepEqual(h.shownName({ mac: '02:aa:bb:cc:dd:ee', name: 'android-1', hostname: 'android-1' }, hints), { name: 'android-1', source: 'dhcp' });
	assert.deepEqual(h.shownName({ mac: '02:aa:bb:cc:dd:ee', name: '', hostname: '' }, hints), { name: 'printer', source: 'hint' });
	assert.deepEqual(h.shownName({ mac: '02:aa:bb:cc:dd:ef', name: '', hostname: '' }, hints), { name: null, source: null }, 'a hint the service would refuse is not shown');
	assert.deepEqual(h.shownName({ mac: '02:aa:bb:cc:dd:00' }, hints), { name: null, source: null });
	assert.deepEqual(h.shownName({ mac: '02:aa:bb:cc:dd:ee' }, null), { name: null, source: null });
	const sorted = h.sortHosts(h.withShownNames([ { mac: '02:aa:bb:cc:dd:ee' }, { mac: '02:00:00:00:00:01', hostname: 'zed' } ], hints), 'device', 'asc');
	assert.deepEqual(sorted.map(x => x.mac), [ '02:aa:bb:cc:dd:ee', '02:00:00:00:00:01' ], 'a hinted name sorts as a name');
});

test('filterHosts: shown name, hostname, group, MAC (with or without separators), address; case-insensitive', () => {
	const hosts = [
		{ mac: '02:88:00:00:00:01', name: 'laptop', hostname: 'laptop', group: 'Anna', ips: [ '10.88.0.11', 'fd88::11' ] },
		{ mac: '02:88:00:00:00:02', name: '', hostname: '', group: '', ips: [ '10.88.0.12' ] },
		{ mac: '02:88:00:00:00:03', name: 'Phone', hostname: 'android-3', group: 'Kids', ips: [] }
	];
	const hints = { '02:88:00:00:00:02': { name: 'Printer' } };
	const macs = (q) => h.filterHosts(hosts, q, hints).map(x => x.mac.slice(-2));
	assert.deepEqual(macs(''), [ '01', '02', '03' ]);
	assert.deepEqual(macs('   '), [ '01', '02', '03' ]);
	assert.deepEqual(macs('LAP'), [ '01' ]);
	assert.deepEqual(macs('printer'), [ '02' ], 'the hinted name');
	assert.deepEqual(macs('android'), [ '03' ], 'the DHCP hostname behind a given name');
	assert.deepEqual(macs('kids'), [ '03' ], 'the group');
	assert.deepEqual(macs('10.88.0.1'), [ '01', '02' ]);
	assert.deepEqual(macs('fd88::'), [ '01' ]);
	assert.deepEqual(macs('00:00:03'), [ '03' ]);
	assert.deepEqual(macs('02-88-00-00-00-02'), [ '02' ]);
	assert.deepEqual(macs('028800000001'), [ '01' ]);
	assert.deepEqual(macs('nothing'), []);
});

test('parseTableState: what localStorage held, or the defaults', () => {
	const def = { sortKey: 'total', sortDir: 'desc', query: '' };
	assert.deepEqual(h.parseTableState(null), def);
	assert.deepEqual(h.parseTableState('{broken'), def);
	assert.deepEqual(h.parseTableState('[1,2]'), def);
	assert.deepEqual(h.parseTableState(JSON.stringify({ sortKey: 'mac', sortDir: 'asc', query: 'lap' })), { sortKey: 'mac', sortDir: 'asc', query: 'lap' });
	assert.deepEqual(h.parseTableState(JSON.stringify({ sortKey: 'evil', sortDir: 'up', query: 5 })), def);
	assert.equal(h.parseTableState(JSON.stringify({ query: 'x'.repeat(500) })).query.length, 100);
});

test('stackBuckets: top devices by traffic, the rest as others, stacks add up to the bucket', () => {
	const A = '02:00:00:00:00:0a', B = '02:00:00:00:00:0b', C = '02:00:00:00:00:0c';
	const days = [
		{ date: '2026-12-01', download: 100, upload: 20, devices: { [A]: [ 60, 10 ], [B]: [ 30, 5 ], [C]: [ 10, 5 ] } },
		{ date: '2026-12-02', download: 0, upload: 0, devices: {} },
		{ date: '2026-12-03', download: 50, upload: 7, devices: { [B]: [ 40, 5 ] } }     // 10 down, 2 up of devices not listed
	];
	// totals over the days: B 80, A 70, C 15
	assert.deepEqual(h.stackBuckets(days, 2), {
		series: [ B, A, 'others' ],
		bars: [
			{ down: [ 30, 60, 10 ], up: [ 5, 10, 5 ], download: 100, upload: 20 },
			{ down: [ 0, 0, 0 ], up: [ 0, 0, 0 ], download: 0, upload: 0 },
			{ down: [ 40, 0, 10 ], up: [ 5, 0, 2 ], download: 50, upload: 7 }
		],
		max: 100
	});
	// all devices fit and the totals are theirs: no "others"
	assert.deepEqual(h.stackBuckets(days.slice(0, 2)).series, [ A, B, C ]);
	assert.deepEqual(h.stackBuckets(days.slice(0, 2)).bars[0], { down: [ 60, 30, 10 ], up: [ 10, 5, 5 ], download: 100, upload: 20 });
	assert.equal(h.CHART_TOP, 5);
	// ties by MAC; MAC keys in any case are one device; junk buckets count as empty
	const t = h.stackBuckets([ { download: 2, upload: 0, devices: { '02:00:00:00:00:0B': [ 1, 0 ], [A]: [ 1, 0 ] } }, null, { devices: 'x' } ]);
	assert.deepEqual(t.series, [ A, B ]);
	assert.deepEqual(t.bars.map(b => b.download), [ 2, 0, 0 ]);
	assert.deepEqual(h.stackBuckets(undefined), { series: [], bars: [], max: 0 });
});

test('chartScale and barHeight: a round top of the scale at or above the highest bar', () => {
	const cases = [ [ 0, 0 ], [ -1, 0 ], [ 1, 1 ], [ 7, 10 ], [ 10, 10 ], [ 11, 20 ], [ 999, 1000 ], [ 1000, 1000 ], [ 1023, 1024 ],
		[ 1024, 1024 ], [ 1500, 2048 ], [ 3280, 5120 ], [ 9 * 1024, 10 * 1024 ], [ 1023 * 1024, 1024 * 1024 ], [ 3000000, 5 * 1048576 ] ];
	for (const [ max, want ] of cases)
		assert.equal(h.chartScale(max), want, `chartScale(${max})`);
	assert.equal(h.barHeight(1640, 2048, 80), 64.06);
	assert.equal(h.barHeight(2048, 2048, 80), 80);
	assert.equal(h.barHeight(0, 2048, 80), 0);
	assert.equal(h.barHeight(5, 0, 80), 0);
});

test('compareTotals and formatPercent: this period against the previous one', () => {
	assert.equal(h.compareTotals({ download: 100, upload: 12 }, { download: 80, upload: 20 }), 12);
	assert.equal(h.compareTotals({ download: 50, upload: 0 }, { download: 100, upload: 0 }), -50);
	assert.equal(h.compareTotals({ download: 50 }, { download: 0, upload: 0 }), null, 'nothing to compare with');
	assert.equal(h.compareTotals({ download: 50 }, null), null);
	assert.equal(h.formatPercent(12, 'en-US'), '+12%');
	assert.equal(h.formatPercent(-50, 'en-US'), '-50%');
	assert.equal(h.formatPercent(0, 'en-US'), '0%');
	assert.equal(h.formatPercent(12.4, 'de-DE'), '+12\u00a0%');
	assert.equal(h.formatPercent(NaN), '-');
});

test('formatBucket and formatDay: the router\'s dates in the locale, whatever the time zone', () => {
	assert.equal(h.formatBucket('2026-12-07', 'day', 'en-US'), 'Dec 7');
	assert.equal(h.formatBucket('2026-12-07', 'long', 'en-US'), 'Mon, December 7, 2026');
	assert.equal(h.formatBucket('2026-12-07T13', 'hour', 'en-US'), '13:00');
	assert.equal(h.formatBucket('2026-12-07T00', 'hour', 'de-DE'), '00:00');
	assert.equal(h.formatBucket('2026-12-07', 'day', 'de-DE'), '7. Dez.');
	assert.equal(h.formatBucket('junk', 'day', 'en-US'), 'junk');
	assert.equal(h.formatDay('2026-12-01', 'en-US'), 'December 1, 2026');
	assert.equal(h.formatDay('2026-12-01', 'zh-CN'), '2026年12月1日');
});

test('backup files: base64 both ways, a safe file name', () => {
	const bytes = new Uint8Array(70000).map((_, i) => (i * 7) & 255);
	const b64 = h.bytesToBase64(bytes);
	assert.equal(b64, Buffer.from(bytes).toString('base64'));
	assert.deepEqual(h.base64ToBytes(b64), bytes);
	assert.equal(h.backupFilename('transferometer-backup-2026-12-07.json'), 'transferometer-backup-2026-12-07.json');
	assert.equal(h.backupFilename('../../etc/passwd'), 'passwd');
	assert.equal(h.backupFilename('a b.json'), 'a_b.json');
	assert.equal(h.backupFilename(''), 'transferometer-backup.json');
	assert.equal(h.backupFilename('.hidden'), 'transferometer-backup.json');
});

test('daysAfter: the period\'s days still to come', () => {
	assert.deepEqual(h.daysAfter('2026-12-30', '2027-01-01').map(d => d.date), [ '2026-12-31', '2027-01-01' ]);
	assert.deepEqual(h.daysAfter('2026-12-30', '2027-01-01')[0], { date: '2026-12-31', download: 0, upload: 0, devices: {} });
	assert.deepEqual(h.daysAfter('2026-12-31', '2026-12-31'), []);
	assert.deepEqual(h.daysAfter('2027-01-02', '2026-12-31'), []);
	assert.deepEqual(h.daysAfter(null, '2026-12-31'), []);
	assert.equal(h.daysAfter('2026-01-01', '2027-01-01').length, 62, 'bounded');
});
