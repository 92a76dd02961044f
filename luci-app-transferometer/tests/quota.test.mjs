// Browser test of the quota pages: the Quotas form (view/transferometer/quotas.js) and the Quota
// column of the Usage page (transferometer/quota.js), in Debian's Chromium driven by playwright-core,
// served by the LuCI test shim whose /ubus runs the REAL binary (as browser.test.mjs).
//
// It works on a copy of the config under test, in a directory of its own: the same devices and
// counts (the config and database are copied: those tests/fixture-netns.sh saved as it made its
// data, <config dir>/../made/, when there are), its own lock, database and flash directory, its own iptables
// chains (chain_prefix TMQUOTA, backend iptables, which enforces nothing in the kernel: quotas are
// counted and reported) and live feed off; `teardown` with the copy removes its chains at the end.
// So browser.test.mjs, which may run at the same time on the original, is not disturbed, and the
// original config and database are only read. The copy adds a config host section naming the
// fixture's laptop into the group 'family' and four quotas: 'laptop_cap' (group family, 1 kB per
// period, block), 'slow' (02:88:00:00:00:02, 1 kB per day, throttle 1024 kbit/s), 'roomy'
// (02:88:00:00:00:03, 1 GB per day, warn at 80 %), and 'each' (no devices: 100 MB per day for
// every device on its own).
//
// Checked: the form shows the sections with their values, offers the known devices (with names)
// and groups, refuses a quota name the service would refuse, marks every value of
// quota-cases.mjs exactly as the table says (the table quota-validation.test.mjs holds the binary
// to), refuses to save a bad value (file unchanged), saves a new section with every option (list
// options as lists, rate only with throttle) that the binary then takes, and deletes it; the Usage
// page's Quota cells equal `usage --json` (bar: role progressbar, aria-valuenow/max, "x of y" as
// quota.js formats it, state badges), a blocked device at 100 %; Lift calls quota_lift and the
// page then shows the block lifted (and usage --json says so); Add allowance validates its size,
// calls quota_extra (with the device for a per-device quota) and the page shows the larger
// allowance; the router's refusal is shown as a notification; a past period has no Quota column;
// a read-only session sees bars and badges but no buttons.
//
// Environment as browser.test.mjs (TRANSFEROMETER_BIN, TRANSFEROMETER_CONFIG_DIR, CHROMIUM); the
// device checks use tests/fixture-netns.sh's devices (02:88:00:00:00:01..04) and fail without them.
// Skipped without the environment, failing instead under CI.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lucishim/server.mjs';
import * as uci from './lucishim/uci.mjs';
import { loadQuota } from './load-quota.mjs';
import { QUOTA_CASES } from './quota-cases.mjs';
import { BIN, CFG, CHROMIUM, CHROMIUM_ARGS, USAGE_PATH, QUOTAS_PATH, missing, until } from './browser-env.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');

const LAPTOP = '02:88:00:00:00:01', UNNAMED = '02:88:00:00:00:02', PHONE = '02:88:00:00:00:03', FORMULA = '02:88:00:00:00:04';

if (missing && process.env.CI) {
	it('quota browser test environment', () => {
		assert.fail(`${missing}; set it as make test-luci does`);
	});
}

const q = loadQuota();

const QUOTAS = `
config host 'laptop_name'
	option mac '${LAPTOP}'
	option group 'family'

config quota 'laptop_cap'
	list group 'family'
	option limit '1kB'

config quota 'slow'
	list mac '${UNNAMED}'
	option per 'day'
	option limit '1kB'
	option action 'throttle'
	option rate '1024'

config quota 'roomy'
	list mac '${PHONE}'
	option per 'day'
	option limit '1GB'
	list notify '80'

config quota 'each'
	option per 'day'
	option limit '100MB'
`;

function run(dir, args) {
	return spawnSync(BIN, args, { env: { ...process.env, TRANSFEROMETER_CONFIG_DIR: dir }, encoding: 'utf8', timeout: 30000 });
}

function usageJson(dir) {
	const r = run(dir, [ 'usage', '--json' ]);
	assert.equal(r.status, 0, `usage --json exited ${r.status}: ${r.stderr}`);
	return JSON.parse(r.stdout);
}

// The Quota cells of the Usage table, by MAC.
function readQuotaCells(page) {
	return page.$$eval('#transferometer-hosts tr[data-mac]', (trs) => Object.fromEntries(trs.map((tr) => {
		const td = tr.querySelector('td[data-col="quota"]');
		const bar = td && td.querySelector('[role="progressbar"]');
		const badge = td && td.querySelector('.transferometer-quota-badge');
		return [ tr.getAttribute('data-mac'), !td ? null : {
			quota: td.getAttribute('data-quota'),
			state: td.getAttribute('data-state'),
			text: bar ? null : td.textContent,
			bar: bar ? {
				min: bar.getAttribute('aria-valuemin'), now: bar.getAttribute('aria-valuenow'),
				max: bar.getAttribute('aria-valuemax'), valuetext: bar.getAttribute('aria-valuetext'),
				title: bar.getAttribute('title'), percent: bar.getAttribute('data-percent'),
				width: bar.firstElementChild ? bar.firstElementChild.style.width : null
			} : null,
			badge: badge ? badge.textContent : null,
			buttons: Array.from(td.querySelectorAll('button')).map(b => b.getAttribute('data-action'))
		} ];
	})));
}

// What a host's Quota cell must show, from usage --json.
function expectedCell(u, host, readonly) {
	const v = q.quotaView(host, u);
	if (!v) return { quota: null, state: null, text: '-', bar: null, badge: null, buttons: [] };
	return {
		quota: v.name, state: v.state, text: null,
		bar: {
			min: '0', now: String(Math.min(host.quota.used, host.quota.limit)), max: String(host.quota.limit),
			valuetext: v.text, title: v.text, percent: String(Math.round(v.percent)),
			// the browser reads back the width the page set ("%.2f%%") without trailing zeros
			width: `${+v.percent.toFixed(2)}%`
		},
		badge: v.badge ? v.badge.text : null,
		buttons: readonly ? [] : (v.canLift ? [ 'quota-lift' ] : []).concat([ 'quota-extra' ])
	};
}

async function assertCellsMatch(page, dir, what, { readonly = false } = {}) {
	let diffs = [];
	try {
		await until(`${what}: the Quota cells equal usage --json`, async () => {
			const cells = await readQuotaCells(page), u = usageJson(dir);
			diffs = [];
			for (const host of u.hosts) {
				const got = cells[host.mac], want = expectedCell(u, host, readonly);
				if (JSON.stringify(got) !== JSON.stringify(want))
					diffs.push(`${host.mac}: page ${JSON.stringify(got)}, usage --json ${JSON.stringify(want)}`);
			}
			return diffs.length === 0;
		}, { timeout: 12000 });
	}
	catch (e) {
		assert.fail(`${what}: ${e.message}\n${diffs.join('\n')}`);
	}
}

describe('Quotas: the settings form and the Usage page against the real binary', { skip: (!process.env.CI && missing) || false }, () => {
	let dir, file, srv, browser, page;
	const consoleErrors = [];
	// LuCI's Map.save rejects when a field is invalid (after showing why), and nothing catches
	// that rejection; the test that provokes it expects this one page error.
	let expectSaveError = false;

	before(async () => {
		mkdirSync(ARTIFACTS, { recursive: true });
		dir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-quota-test.'));
		file = path.join(dir, 'transferometer');

		// the copy: the original's settings with paths, chains and feed of its own; the fixture's
		// config and data as it made them (browser.test.mjs changes settings, resets counters and
		// makes traffic, maybe at the same time), else the config and database as they are
		const made = path.join(path.dirname(CFG), 'made');
		const fromMade = existsSync(path.join(made, 'transferometer')) && existsSync(path.join(made, 'db'));
		const cfgFile = fromMade ? path.join(made, 'transferometer') : path.join(CFG, 'transferometer');
		const sections = uci.parse(readFileSync(cfgFile, 'utf8'))
			.filter(s => s.type !== 'quota' && s.type !== 'host');
		const main = sections.find(s => s.type === 'transferometer');
		assert.ok(main, 'the config has a config transferometer section');
		const own = { db_dir: path.join(dir, 'db'), persist_dir: path.join(dir, 'persist'), lock_dir: path.join(dir, 'lock'),
			pid_file: path.join(dir, 'transferometer.pid'), chain_prefix: 'TMQUOTA', backend: 'iptables', live_port: '0',
			live_tls_port: '0', enabled: '1' };
		for (const [ k, v ] of Object.entries(own)) main.options.set(k, v);
		let src = path.join(made, 'db');
		if (!fromMade) {
			const orig = run(CFG, [ 'config', '--json' ]);
			assert.equal(orig.status, 0, `config --json of ${CFG}: ${orig.stderr}`);
			src = JSON.parse(orig.stdout).db_dir;
		}
		if (existsSync(src)) cpSync(src, own.db_dir, { recursive: true });
		writeFileSync(file, uci.serialize(sections) + QUOTAS);

		const u = usageJson(dir);
		for (const mac of [ LAPTOP, UNNAMED, PHONE, FORMULA ])
			assert.ok(u.hosts.some(x => x.mac === mac), `the config under test has tests/fixture-netns.sh's device ${mac}`);

		srv = await startServer({ bin: BIN, configDir: dir, port: 0, log: (m) => process.stderr.write(`shim: ${m}\n`) });
		const { chromium } = await import('playwright-core');
		browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
		page = await browser.newPage({ viewport: { width: 1300, height: 900 }, locale: 'en-US' });
		page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`console: ${m.text()}`); });
		page.on('pageerror', (e) => {
			if (expectSaveError && /^Some fields are invalid, cannot save values!/.test(e.message)) expectSaveError = false;
			else consoleErrors.push(`pageerror: ${e.message}`);
		});
	});

	after(async () => {
		if (browser) await browser.close();
		if (srv) await srv.close();
		if (dir) {
			// the copy's chains go; the original's stay
			const r = run(dir, [ 'teardown' ]);
			if (r.status !== 0) process.stderr.write(`teardown of the copy: exit ${r.status}: ${r.stderr}\n`);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	const sel = (sid, opt) => `[id="widget.cbid.transferometer.${sid}.${opt}"]`;
	const invalid = (sid, opt) => page.$eval(sel(sid, opt), (i) => i.classList.contains('cbi-input-invalid'));
	const items = (sid, opt) => page.$$eval(`[id="cbid.transferometer.${sid}.${opt}"] .item`, (l) => l.map(i => i.getAttribute('data-value')));
	const saved = () => uci.parse(readFileSync(file, 'utf8'));
	const quotaNames = (sections) => sections.filter(s => s.type === 'quota').map(s => s.name);
	const uciCalls = (method) => srv.shim.calls.filter(c => c.object === 'uci' && c.method === method);

	async function saveAndApply() {
		await Promise.all([
			page.waitForEvent('load', { timeout: 20000 }),
			page.click('.cbi-page-actions .cbi-button-apply')
		]);
		await page.waitForSelector('.cbi-section-create');
	}

	it('shows the quota sections, offers the known devices with their names and the groups', async () => {
		await page.goto(srv.url + QUOTAS_PATH);
		await page.waitForSelector('.cbi-section-create');
		assert.deepEqual(await page.$$eval('#cbi-transferometer-quota > h3', (l) => l.map(h => h.textContent)),
			[ 'Quotas', 'laptop_cap', 'slow', 'roomy', 'each' ], 'the section title, then one per config quota, in file order');
		assert.deepEqual(await items('laptop_cap', 'group'), [ 'family' ]);
		assert.equal(await page.inputValue(sel('laptop_cap', 'limit')), '1kB');
		assert.deepEqual(await items('slow', 'mac'), [ UNNAMED ]);
		assert.equal(await page.inputValue(sel('slow', 'per')), 'day');
		assert.equal(await page.inputValue(sel('slow', 'action')), 'throttle');
		assert.equal(await page.inputValue(sel('slow', 'rate')), '1024');
		assert.ok(await page.isVisible(sel('slow', 'rate')), 'the rate is shown for throttle');
		assert.ok(!(await page.isVisible(sel('roomy', 'rate'))), 'and hidden for block');
		assert.deepEqual(await items('roomy', 'notify'), [ '80' ]);
		assert.equal(await page.inputValue(sel('each', 'per')), 'day');
		assert.equal(await page.inputValue(sel('each', 'direction')), 'both', 'the default direction');
		assert.equal(await page.inputValue(sel('each', 'action')), 'block', 'the default action');

		// the devices usage knows, named as usage names them (the laptop by its DHCP hostname)
		const u = usageJson(dir);
		const offered = await page.$$eval('[id="list.cbid.transferometer.each.mac"] option', (l) => l.map(o => [ o.value, o.textContent ]));
		const want = u.hosts.map(x => [ x.mac, x.name ? `${x.name} (${x.mac.toUpperCase()})` : x.mac.toUpperCase() ]);
		assert.deepEqual(offered.slice().sort(), want.slice().sort(), 'every known device is offered, with its name');
		assert.deepEqual(await page.$$eval('[id="list.cbid.transferometer.each.group"] option', (l) => l.map(o => o.value)), [ 'family' ]);
		await page.screenshot({ path: path.join(ARTIFACTS, 'quotas.png'), fullPage: true });
	});

	it('refuses a quota name the service would refuse, adds one it takes', async () => {
		const before = readFileSync(file, 'utf8'), adds = uciCalls('add').length;
		for (const bad of [ 'Kids', 'a'.repeat(33), 'slow', 'main' ]) {
			await page.fill('.cbi-section-create-name', bad);
			await page.click('.cbi-section-create .cbi-button-add');
			await until(`the refusal of ${bad}`, () => page.$(`[data-quota-name-error="${bad}"]`));
		}
		assert.equal(uciCalls('add').length, adds, 'no uci add for a refused name');
		assert.equal(readFileSync(file, 'utf8'), before);

		await page.fill('.cbi-section-create-name', 'kids');
		await page.click('.cbi-section-create .cbi-button-add');
		await page.waitForSelector('[id="cbi-transferometer-kids"]');
		assert.deepEqual(uciCalls('add').slice(adds).map(c => c.args), [ { config: 'transferometer', type: 'quota', name: 'kids' } ]);
		assert.equal(await page.inputValue(sel('kids', 'limit')), '', 'a new quota has no allowance yet');
	});

	it('marks every value of quota-cases.mjs as the service takes it', async () => {
		await page.selectOption(sel('kids', 'action'), 'throttle');
		await page.dispatchEvent(sel('kids', 'action'), 'change');
		assert.ok(await page.isVisible(sel('kids', 'rate')), 'throttle shows the rate');
		const wrong = [];
		// the form takes text with the spaces around it trimmed (and saves it so): those values are the node test's
		for (const [ opt, cases ] of Object.entries(QUOTA_CASES)) {
			if (opt === 'name') continue;
			for (const [ value, ok ] of cases) {
				if (value !== value.trim() || value === '') continue;
				await page.fill(sel('kids', opt), value);
				if ((await invalid('kids', opt)) === ok) wrong.push(`${opt} ${JSON.stringify(value)}: the form ${ok ? 'refuses' : 'takes'} it`);
			}
			await page.fill(sel('kids', opt), '');
		}
		assert.deepEqual(wrong, []);
	});

	it('does not save a bad value: the file stays as it was', async () => {
		const before = readFileSync(file, 'utf8'), sets = uciCalls('set').length;
		await page.fill(sel('kids', 'limit'), '5KB');
		await page.fill(sel('kids', 'rate'), '1024');
		expectSaveError = true;
		await page.click('.cbi-page-actions .cbi-button-apply');
		await page.waitForSelector('body.modal-overlay-active .modal');
		assert.match(await page.textContent('.modal'), /Allowance: Expecting a size/);
		await page.click('.modal button');
		await until('the rejected save', () => !expectSaveError, { timeout: 5000 });
		assert.equal(uciCalls('set').length, sets, 'no uci set');
		assert.equal(readFileSync(file, 'utf8'), before);
		const r = run(dir, [ 'config', '--json' ]);
		assert.equal(r.status, 0, 'the file under test is valid');
	});

	it('saves a quota with every option that the binary takes; without throttling the rate goes', async () => {
		const addItem = async (opt, v) => {
			await page.fill(sel('kids', opt), v);
			await page.press(sel('kids', opt), 'Enter');
		};
		await addItem('mac', FORMULA);
		await addItem('mac', '02-00-00-99-00-11');
		await addItem('group', 'family');
		await addItem('notify', '50');
		await addItem('notify', '90%');
		await page.fill(sel('kids', 'limit'), '1.5GiB');
		await page.selectOption(sel('kids', 'per'), 'day');
		await page.selectOption(sel('kids', 'direction'), 'down');
		await page.fill(sel('kids', 'rate'), '2048');
		await saveAndApply();

		const kids = saved().find(s => s.name === 'kids');
		assert.ok(kids && kids.type === 'quota', 'config quota kids saved');
		assert.deepEqual(Object.fromEntries(kids.options), {
			mac: [ FORMULA, '02-00-00-99-00-11' ], group: [ 'family' ], limit: '1.5GiB', per: 'day', direction: 'down',
			action: 'throttle', rate: '2048', notify: [ '50', '90%' ]
		});
		assert.deepEqual(quotaNames(saved()), [ 'laptop_cap', 'slow', 'roomy', 'each', 'kids' ]);
		let r = run(dir, [ 'config', '--json' ]);
		assert.equal(r.status, 0, `the binary takes the saved file: ${r.stderr}`);

		// block: the rate is hidden, and removed on save (the service refuses a rate without throttle)
		await page.selectOption(sel('kids', 'action'), 'block');
		await page.dispatchEvent(sel('kids', 'action'), 'change');
		assert.ok(!(await page.isVisible(sel('kids', 'rate'))));
		await saveAndApply();
		const kids2 = saved().find(s => s.name === 'kids');
		assert.equal(kids2.options.get('action'), 'block');
		assert.equal(kids2.options.has('rate'), false, 'no rate without throttle');
		r = run(dir, [ 'config', '--json' ]);
		assert.equal(r.status, 0, `the binary takes the saved file: ${r.stderr}`);
	});

	it('deletes a quota', async () => {
		await page.click('button[data-section-id="kids"]');
		await page.waitForSelector('[id="cbi-transferometer-kids"]', { state: 'detached' });
		await saveAndApply();
		assert.deepEqual(quotaNames(saved()), [ 'laptop_cap', 'slow', 'roomy', 'each' ]);
		assert.equal(run(dir, [ 'config', '--json' ]).status, 0);
	});

	it('Usage: each device against its quota, as usage --json says; blocked at 100 %', async () => {
		await page.goto(srv.url + USAGE_PATH);
		await page.waitForSelector('td[data-col="quota"]');
		assert.ok(await page.$('#transferometer-hosts th:text-is("Quota")'), 'a Quota column');
		await assertCellsMatch(page, dir, 'first load');
		const cells = await readQuotaCells(page);
		assert.equal(cells[LAPTOP].quota, 'laptop_cap', 'the laptop is in group family');
		assert.deepEqual([ cells[LAPTOP].state, cells[LAPTOP].badge, cells[LAPTOP].bar.percent, cells[LAPTOP].bar.width ],
			[ 'blocked', 'blocked', '100', '100%' ]);
		assert.equal(cells[LAPTOP].bar.now, cells[LAPTOP].bar.max, 'aria-valuenow at the maximum');
		assert.match(cells[LAPTOP].bar.valuetext, /^[\d.]+ kB of 1 kB$/);
		assert.deepEqual([ cells[UNNAMED].state, cells[UNNAMED].badge ], [ 'throttled', 'throttled' ]);
		assert.deepEqual(cells[UNNAMED].buttons, [ 'quota-lift', 'quota-extra' ]);
		assert.equal(cells[FORMULA].quota, 'each', 'a device under no other quota has its own of "each"');
		await page.screenshot({ path: path.join(ARTIFACTS, 'usage-quota.png'), fullPage: true });

		// a past period has no quota column: quotas are of the current period or day
		const past = usageJson(dir).periods[1];
		assert.ok(past, 'the config under test has a past period (tests/fixture-netns.sh makes one)');
		await page.selectOption('#transferometer-period', past);
		await until('the past period', async () => (await page.getAttribute('#transferometer-hosts', 'data-period')) === past);
		assert.equal(await page.$('#transferometer-hosts th:text-is("Quota")'), null, 'no Quota column for a past period');
		assert.equal(await page.$('td[data-col="quota"]'), null);
		await page.selectOption('#transferometer-period', 'current');
		await page.waitForSelector('td[data-col="quota"]');
	});

	it('Lift block: quota_lift for the shared quota, then the page shows it lifted', async () => {
		const n = srv.shim.calls.length;
		await page.click(`tr[data-mac="${LAPTOP}"] button[data-action="quota-lift"]`);
		await until('the lifted block on the page', async () => (await readQuotaCells(page))[LAPTOP].badge === 'lifted');
		const lifts = srv.shim.calls.slice(n).filter(c => c.method === 'quota_lift');
		assert.deepEqual(lifts.map(c => c.args), [ { name: 'laptop_cap' } ], 'a shared quota: no device named');
		assert.equal(lifts[0].result[0], 0);
		const inst = usageJson(dir).quotas.find(x => x.name === 'laptop_cap');
		assert.deepEqual([ inst.lifted, inst.state ], [ true, 'exhausted' ], 'usage --json: lifted');
		assert.deepEqual((await readQuotaCells(page))[LAPTOP].buttons, [ 'quota-extra' ], 'nothing left to lift');
		await assertCellsMatch(page, dir, 'after the lift');
	});

	it('Add allowance: the size is checked, quota_extra names the device of a per-device quota, the page shows the allowance', async () => {
		const n = srv.shim.calls.length;
		const before = usageJson(dir).hosts.find(x => x.mac === FORMULA).quota;
		await page.click(`tr[data-mac="${FORMULA}"] button[data-action="quota-extra"]`);
		await page.waitForSelector('#transferometer-extra-size');
		for (const bad of [ '5KB', '0', '1.5B', 'lots' ]) {
			await page.fill('#transferometer-extra-size', bad);
			assert.ok(await page.isDisabled('button[data-action="quota-extra-confirm"]'), `${bad}: Add is disabled`);
			assert.equal(await page.getAttribute('#transferometer-extra-size', 'aria-invalid'), 'true', bad);
			assert.notEqual((await page.textContent('#transferometer-extra-error')).trim(), '', `${bad}: the reason is shown`);
		}
		await page.fill('#transferometer-extra-size', '250MB');
		await page.click('button[data-action="quota-extra-confirm"]');
		await until('the larger allowance on the page', async () =>
			(await readQuotaCells(page))[FORMULA].bar.max === String(before.limit + 250e6));
		const extras = srv.shim.calls.slice(n).filter(c => c.method === 'quota_extra');
		assert.deepEqual(extras.map(c => c.args), [ { name: 'each', mac: FORMULA, bytes: 250e6 } ]);
		assert.equal(extras[0].result[0], 0);
		assert.equal(usageJson(dir).quotas.find(x => x.name === 'each' && x.device === FORMULA).extra, 250e6);
		await assertCellsMatch(page, dir, 'after the extra allowance');

		// a throttled shared quota: more than it used, so it runs again
		await page.click(`tr[data-mac="${UNNAMED}"] button[data-action="quota-extra"]`);
		await page.fill('#transferometer-extra-size', '1MB');
		await page.press('#transferometer-extra-size', 'Enter');
		await until('slow no longer throttled', async () => (await readQuotaCells(page))[UNNAMED].state === 'ok');
		assert.deepEqual(srv.shim.calls.slice(n).filter(c => c.method === 'quota_extra').map(c => c.args)[1], { name: 'slow', bytes: 1e6 });
		await assertCellsMatch(page, dir, 'after the second extra allowance');
	});

	it('a refused call is shown as a notification, and changes nothing', async () => {
		// no refresh in between: the page keeps showing the quota the file no longer has
		await page.evaluate(() => L.require('poll').then(p => p.stop()));
		const text = readFileSync(file, 'utf8'), n = srv.shim.calls.length;
		const extra = usageJson(dir).quotas.find(x => x.name === 'slow').extra;
		writeFileSync(file, text.replace("config quota 'slow'", "config quota 'slow_renamed'"));
		try {
			await page.click(`tr[data-mac="${UNNAMED}"] button[data-action="quota-extra"]`);
			await page.fill('#transferometer-extra-size', '1MB');
			await page.press('#transferometer-extra-size', 'Enter');
			const note = await until('the notification', () => page.$('.alert-message:has-text("Adding the allowance failed:")'));
			const call = srv.shim.calls.slice(n).find(c => c.method === 'quota_extra');
			assert.equal(call.result[0], 0, 'the plugin answers with an error object, not a ubus status');
			assert.ok(call.result[1].error, JSON.stringify(call.result[1]));
			assert.ok((await note.textContent()).includes(call.result[1].error), 'the notification says what the router said');
		}
		finally {
			writeFileSync(file, text);
			await page.evaluate(() => L.require('poll').then(p => p.start()));
		}
		assert.equal(usageJson(dir).quotas.find(x => x.name === 'slow').extra, extra, 'nothing added');
	});

	it('a read-only session sees the bars and badges but no buttons', async () => {
		const ro = await startServer({ bin: BIN, configDir: dir, port: 0, readonly: true });
		const page2 = await browser.newPage({ viewport: { width: 1300, height: 900 }, locale: 'en-US' });
		const errors = [];
		page2.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
		page2.on('pageerror', (e) => errors.push(e.message));
		try {
			await page2.goto(ro.url + USAGE_PATH);
			await page2.waitForSelector('td[data-col="quota"]');
			await assertCellsMatch(page2, dir, 'read-only', { readonly: true });
			assert.equal(await page2.$$eval('td[data-col="quota"] button', (l) => l.length), 0);
			await page2.screenshot({ path: path.join(ARTIFACTS, 'usage-quota-readonly.png'), fullPage: true });
			assert.deepEqual(errors, []);
		}
		finally {
			await page2.close();
			await ro.close();
		}
	});

	it('no errors in the console', () => {
		assert.deepEqual(consoleErrors, []);
	});
});
