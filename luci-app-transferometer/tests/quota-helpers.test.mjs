// quota.js, the file the router serves, under node: its validators against quota-cases.mjs (the
// table quota-validation.test.mjs holds the real binary to), sizes, and what a device's quota cell
// shows (bar, ARIA values, "x of y", badge, buttons), loaded by load-quota.mjs as LuCI loads it
// (rendering is tested in Chromium: quota.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QUOTA_CASES } from './quota-cases.mjs';
import { loadQuota } from './load-quota.mjs';

const q = loadQuota();

test('validators take exactly what the service takes (quota-cases.mjs)', () => {
	const checks = {
		name: (v) => q.checkQuotaName(v),
		limit: q.checkSize,
		mac: q.checkMAC,
		group: q.checkGroup,
		rate: q.checkRate,
		notify: q.checkNotify
	};
	const wrong = [];
	for (const [ opt, cases ] of Object.entries(QUOTA_CASES)) {
		assert.ok(checks[opt], opt);
		for (const [ value, ok ] of cases) {
			const r = checks[opt](value);
			assert.ok(r === true || (typeof r === 'string' && r.length > 0), `${opt} ${JSON.stringify(value)}: ${r}`);
			if ((r === true) !== ok) wrong.push(`${opt} ${JSON.stringify(value)}: ${r}`);
		}
	}
	assert.deepEqual(wrong, []);
});

test('a quota name already taken by a section is refused; the message says which', () => {
	assert.equal(q.checkQuotaName('kids', [ 'main', 'anna' ]), true);
	assert.match(q.checkQuotaName('main', [ 'main', 'anna' ]), /main exists already/);
});

test('sizes: exact bytes, whole bytes only, below 2^64; an extra allowance within what a JSON number holds', () => {
	const exact = (v) => q.parseSizeExact(v).bytes;
	assert.equal(exact('5MB'), '5000000');
	assert.equal(exact('5MiB'), '5242880');
	assert.equal(exact('1.5kB'), '1500');
	assert.equal(exact('0.5KiB'), '512');
	assert.equal(exact('18446744073709551615'), '18446744073709551615');
	assert.equal(exact('16777215TiB'), String(16777215n * 1099511627776n));
	assert.equal(q.parseSizeExact('16777216TiB').error, 'large');
	assert.equal(q.parseSizeExact('1.5B').error, 'fraction');
	assert.equal(q.parseSizeExact('0kB').error, 'zero');
	assert.equal(q.parseSizeExact('5KB').error, 'syntax');
	assert.equal(q.parseSize('2GB'), 2e9);
	assert.equal(q.parseSize('x'), null);
	assert.equal(q.checkExtra('500MB'), true);
	assert.equal(q.checkExtra('8TiB'), true);
	assert.match(q.checkExtra('9007199254740993'), /below 8 PiB/);
	assert.match(q.checkExtra(''), /size/);
	assert.match(q.checkSize('0'), /more than 0/);
	assert.match(q.checkSize('1.0001kB'), /whole number of bytes/);
});

test('sizes as the settings spell them, and shown in the unit family of the limit', () => {
	assert.equal(q.formatSize(5e6), '5MB');
	assert.equal(q.formatSize(5 * 1048576), '5MiB');
	assert.equal(q.formatSize(1500), '1500');
	assert.equal(q.formatSize(2e12), '2TB');
	assert.equal(q.familyOf(5e6), 'si');
	assert.equal(q.familyOf(5 * 1048576), 'iec');
	assert.equal(q.familyOf(1024000), 'si', 'a multiple of both: as sizes are most often written');
	assert.equal(q.formatQuotaBytes(999, 'si'), '999 B');
	assert.equal(q.formatQuotaBytes(5e6, 'si'), '5 MB');
	assert.equal(q.formatQuotaBytes(4210000, 'si'), '4.21 MB');
	assert.equal(q.formatQuotaBytes(999999, 'si'), '1 MB', 'rounds up into the next unit');
	assert.equal(q.formatQuotaBytes(5 * 1048576, 'iec'), '5 MiB');
	assert.equal(q.formatQuotaBytes(1536, 'iec'), '1.50 KiB');
	assert.equal(q.formatQuotaBytes(3e15, 'si'), '3000 TB');
	assert.equal(q.formatQuotaBytes(-1, 'si'), '-');
});

const host = (quota, mac = '02:88:00:00:00:01') => ({ mac, name: 'laptop', quota });

test('quota view: bar percent, ARIA values, "x of y", badge and buttons per state', () => {
	assert.equal(q.quotaView(host(undefined)), null);
	assert.equal(q.quotaView(host({ name: 'x', limit: 0 })), null, 'a limit of 0 is no quota');

	const ok = q.quotaView(host({ name: 'kids', limit: 5e6, used: 1250000, remaining: 3750000, state: 'ok' }));
	assert.deepEqual({ ...ok, title: undefined }, {
		name: 'kids', state: 'ok', lifted: false, extra: 0, percent: 25, valueNow: 1250000, valueMax: 5e6, text: '1.25 MB of 5 MB',
		title: undefined, badge: null, canLift: false
	});
	assert.equal(ok.title, 'Quota kids: 1\u202f250\u202f000 of 5\u202f000\u202f000 bytes used, 3\u202f750\u202f000 left');

	const over = q.quotaView(host({ name: 'kids', limit: 5e6, used: 5000310, remaining: 0, state: 'blocked' }));
	assert.equal(over.percent, 100, 'over the allowance: a full bar');
	assert.equal(over.valueNow, 5e6, 'aria-valuenow stays within the maximum');
	assert.equal(over.text, '5.00 MB of 5 MB');
	assert.equal(over.badge.text, 'blocked');
	assert.equal(over.canLift, true);

	const slow = q.quotaView(host({ name: 'day', limit: 1048576, used: 2097152, state: 'throttled' }));
	assert.equal(slow.text, '2 MiB of 1 MiB');
	assert.equal(slow.badge.text, 'throttled');
	assert.equal(slow.canLift, true);

	const ex = q.quotaView(host({ name: 'n', limit: 1000, used: 1000, remaining: 0, state: 'exhausted' }));
	assert.equal(ex.badge.text, 'used up');
	assert.equal(ex.canLift, false, 'nothing to lift: the quota only counts');

	assert.equal(q.quotaView(host({ name: 'w', limit: 100, used: 85, state: 'warning' })).badge.text, 'nearly used up');
	assert.equal(q.quotaView(host({ name: 'u', limit: 100, used: 1, state: 'whatever' })).state, 'ok', 'an unknown state is shown as ok');
	assert.equal(q.percentUsed(1, 3).toFixed(4), '33.3333');
	assert.equal(q.percentUsed(5, 0), 0);
});

test('a lifted block and an allowance added for today, from usage\'s quotas', () => {
	const usage = { quotas: [
		{ name: 'kids', members: [ '02:88:00:00:00:01' ], limit: 1000, used: 3280, extra: 0, lifted: true, state: 'exhausted' },
		{ name: 'each', device: '02:88:00:00:00:01', members: [ '02:88:00:00:00:01' ], extra: 500, lifted: false, state: 'ok' },
		{ name: 'each', device: '02:88:00:00:00:02', members: [ '02:88:00:00:00:02' ], extra: 0, lifted: true, state: 'exhausted' }
	] };
	const lifted = q.quotaView(host({ name: 'kids', limit: 1000, used: 3280, remaining: 0, state: 'exhausted' }), usage);
	assert.equal(lifted.lifted, true);
	assert.equal(lifted.badge.text, 'lifted');
	assert.equal(lifted.canLift, false);
	const extra = q.quotaView(host({ name: 'each', limit: 1500, used: 1200, remaining: 300, state: 'ok' }), usage);
	assert.equal(extra.lifted, false, 'the instance of this device, not another device\'s');
	assert.equal(extra.extra, 500);
	assert.equal(extra.text, '1.20 kB of 1.50 kB');
	assert.match(extra.title, /500 bytes of it added for today/);
	assert.equal(q.instanceOf(usage, 'each', '02:88:00:00:00:02').lifted, true);
	assert.equal(q.instanceOf(usage, 'each', '02:88:00:00:00:03'), null);
	assert.equal(q.instanceOf(usage, 'kids', '02:88:00:00:00:01').name, 'kids');
	// a blocked device stays blocked whatever another instance says
	const blocked = q.quotaView(host({ name: 'kids', limit: 1000, used: 3280, remaining: 0, state: 'blocked' }, '02:88:00:00:00:09'), usage);
	assert.equal(blocked.badge.text, 'blocked');
	assert.equal(blocked.canLift, true);
});

test('which devices show a quota cell, and the mac a lift or extra names', () => {
	const usage = {
		hosts: [ host(undefined, '02:88:00:00:00:02'), host({ name: 'each', limit: 10, used: 1, state: 'ok' }) ],
		quotas: [
			{ name: 'each', device: '02:88:00:00:00:01', members: [ '02:88:00:00:00:01' ] },
			{ name: 'kids', members: [ '02:88:00:00:00:03', '02:88:00:00:00:04' ] }
		]
	};
	assert.equal(q.shown(usage), true);
	assert.equal(q.shown({ hosts: [ host(undefined) ] }), false);
	assert.equal(q.shown({}), false);
	assert.equal(q.callMAC(usage, 'each', '02:88:00:00:00:01'), '02:88:00:00:00:01', 'per-device quota: this device');
	assert.equal(q.callMAC(usage, 'each', '02:88:00:00:00:0A'), '02:88:00:00:00:0a');
	assert.equal(q.callMAC(usage, 'kids', '02:88:00:00:00:03'), undefined, 'shared quota: all its devices');
	assert.equal(q.callMAC({}, 'kids', '02:88:00:00:00:03'), undefined);
	assert.equal(q.sharedBy(usage, 'kids'), 2);
	assert.equal(q.sharedBy(usage, 'each'), null);
});

test('plugin replies: an object without error is success; errors read as the usage page reads them', () => {
	assert.equal(q.replyError({ quota_lift: { name: 'kids' } }), null);
	assert.equal(q.replyError({ error: 'no such quota', code: 'not_found' }), 'no such quota (not_found)');
	assert.equal(q.replyError({ error: 'x' }), 'x');
	assert.match(q.replyError(null), /no valid reply/);
});

test('quota.js calls quota_lift {name, mac} and quota_extra {name, mac, bytes} on transferometer, whole replies', () => {
	assert.deepEqual(q.declared.map(d => [ d.object, d.method, d.params, d.expect ]), [
		[ 'transferometer', 'quota_lift', [ 'name', 'mac' ], { '': {} } ],
		[ 'transferometer', 'quota_extra', [ 'name', 'mac', 'bytes' ], { '': {} } ]
	]);
});

test('every message goes through _()', () => {
	const seen = [];
	const t = loadQuota({ translate: (s) => { seen.push(s); return 'T:' + s; } });
	assert.match(t.checkSize('5KB'), /^T:/);
	assert.match(t.checkMAC('x'), /^T:/);
	assert.match(t.checkGroup('<'), /^T:/);
	assert.match(t.checkRate('0'), /^T:/);
	assert.match(t.checkNotify('0'), /^T:/);
	assert.match(t.checkQuotaName('A'), /^T:/);
	const v = t.quotaView(host({ name: 'kids', limit: 5e6, used: 5e6, state: 'blocked' }));
	assert.equal(v.text, 'T:%s of %s'.replace('%s', '5 MB').replace('%s', '5 MB'));
	assert.match(v.badge.text, /^T:/);
	assert.match(v.title, /^T:/);
	assert.ok(seen.includes('%s of %s'), 'whole phrases with placeholders, not pieces');
});
