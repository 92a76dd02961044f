// Browser test: the usage and settings views in Debian's Chromium (driven by playwright-core),
// served by the LuCI test shim (tests/lucishim), whose /ubus runs the REAL plugin binary.
//
// Environment (set by whoever runs the test, e.g. tests/run.sh or `make test`):
//   TRANSFEROMETER_BIN         the binary (or a wrapper running it, e.g. inside a netns)
//   TRANSFEROMETER_CONFIG_DIR  its config directory (holds `transferometer`, and `firewall`)
//   CHROMIUM                   browser binary (default /usr/bin/chromium)
// Without TRANSFEROMETER_BIN / TRANSFEROMETER_CONFIG_DIR the test fails when CI is set and is
// skipped otherwise.
//
// Every figure the page shows is compared with what `TRANSFEROMETER_BIN usage --json` prints for
// the same config dir, formatted with the same helpers.js the page uses; so the data must not
// change while the test runs (no traffic in flight). The test writes and then restores
// <config dir>/firewall (to provoke the flow_offloading warning) and <config dir>/transferometer
// (Save & Apply on the settings page), and it zeroes counters (the reset flow).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, runPlugin } from './lucishim/server.mjs';
import * as uci from './lucishim/uci.mjs';
import { loadHelpers } from './load-helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
const BIN = process.env.TRANSFEROMETER_BIN || '';
const CFG = process.env.TRANSFEROMETER_CONFIG_DIR || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [ '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--disable-quic' ];
const USAGE_PATH = '/cgi-bin/luci/admin/status/transferometer/usage';
const SETTINGS_PATH = '/cgi-bin/luci/admin/status/transferometer/settings';

const missing = !BIN ? 'TRANSFEROMETER_BIN is not set (the transferometer binary the page is tested against)'
	: !CFG ? 'TRANSFEROMETER_CONFIG_DIR is not set (the config dir of that binary)'
	: !existsSync(BIN) ? `TRANSFEROMETER_BIN=${BIN} does not exist`
	: !existsSync(path.join(CFG, 'transferometer')) ? `${CFG}/transferometer does not exist`
	: !existsSync(CHROMIUM) ? `${CHROMIUM} does not exist (apt-get install chromium)`
	: null;

if (missing && process.env.CI) {
	it('browser test environment', () => {
		assert.fail(`${missing}; set it as make test-luci does`);
	});
}

const h = loadHelpers();

function usageJson(configDir = CFG) {
	const r = spawnSync(BIN, [ 'usage', '--json' ], {
		env: { ...process.env, TRANSFEROMETER_CONFIG_DIR: configDir }, encoding: 'utf8', timeout: 30000
	});
	assert.equal(r.status, 0, `${BIN} usage --json exited ${r.status}: ${r.stderr}`);
	const u = JSON.parse(r.stdout);
	assert.ok(u && Array.isArray(u.hosts), 'usage --json has hosts');
	return u;
}

async function until(what, fn, { timeout = 20000, interval = 200 } = {}) {
	const end = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
		}
		catch (e) { last = e; }
		if (Date.now() > end)
			throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
		await new Promise(r => setTimeout(r, interval));
	}
}

// What the table shows, cell by cell.
function readTable(page) {
	return page.$$eval('#transferometer-hosts tr[data-mac], #transferometer-hosts tr[data-totals]', (trs) => trs.map((tr) => {
		const cell = (col) => tr.querySelector(`td[data-col="${col}"]`);
		const bytes = (col) => {
			const td = cell(col);
			return { text: td.textContent, title: td.getAttribute('title'), bytes: td.getAttribute('data-bytes') };
		};
		const ips = cell('ips');
		return {
			mac: tr.getAttribute('data-mac'),
			totals: tr.hasAttribute('data-totals'),
			name: tr.querySelector('.transferometer-name') ? tr.querySelector('.transferometer-name').textContent : null,
			offline: !!tr.querySelector('.transferometer-offline'),
			macText: cell('mac') ? cell('mac').textContent : null,
			ips: ips ? Array.from(ips.childNodes).filter(n => n.nodeType === 3).map(n => n.data) : null,
			download: bytes('download'),
			upload: bytes('upload'),
			total: bytes('total'),
			rate: cell('rate').innerText,
			lastSeen: cell('last_seen') ? cell('last_seen').textContent : null
		};
	}));
}

function bytesCell(n, packets) {
	return { text: h.formatBytes(n), title: h.exactTitle(n, packets), bytes: String(n) };
}

// The table against one usage --json reply; returns a list of differences.
function compare(rows, u) {
	const diffs = [];
	const eq = (what, got, want) => {
		if (JSON.stringify(got) !== JSON.stringify(want))
			diffs.push(`${what}: page ${JSON.stringify(got)}, usage --json ${JSON.stringify(want)}`);
	};
	const hostRows = rows.filter(r => !r.totals);
	eq('rows', hostRows.map(r => r.mac).sort(), u.hosts.map(x => x.mac).sort());
	for (const x of u.hosts) {
		const r = hostRows.find(row => row.mac === x.mac);
		if (!r) continue;
		eq(`${x.mac} device`, r.name, x.hostname ? x.hostname : x.mac.toUpperCase());
		eq(`${x.mac} offline`, r.offline, x.active === false);
		eq(`${x.mac} mac`, r.macText, x.mac.toUpperCase());
		eq(`${x.mac} ips`, r.ips, x.ips.length ? x.ips : [ '-' ]);
		eq(`${x.mac} download`, r.download, bytesCell(x.download_bytes, x.download_packets));
		eq(`${x.mac} upload`, r.upload, bytesCell(x.upload_bytes, x.upload_packets));
		eq(`${x.mac} total`, r.total, bytesCell(x.download_bytes + x.upload_bytes, x.download_packets + x.upload_packets));
		if (!/ago$|^just now$|^never$/.test(r.lastSeen)) diffs.push(`${x.mac} last seen: ${r.lastSeen}`);
		if (!/^-$|^↓ .+\/s\n↑ .+\/s$/.test(r.rate)) diffs.push(`${x.mac} rate: ${JSON.stringify(r.rate)}`);
	}
	const t = rows.find(r => r.totals);
	if (u.hosts.length) {
		if (!t) diffs.push('no totals row');
		else {
			eq('totals download', t.download, bytesCell(u.totals.download_bytes, u.totals.download_packets));
			eq('totals upload', t.upload, bytesCell(u.totals.upload_bytes, u.totals.upload_packets));
			eq('totals total', t.total, bytesCell(u.totals.download_bytes + u.totals.upload_bytes,
				u.totals.download_packets + u.totals.upload_packets));
		}
	}
	return diffs;
}

// The page refreshes by itself; wait until what it shows equals a fresh usage --json.
async function assertPageMatchesUsage(page, what) {
	let diffs = [];
	await until(`the page to match usage --json (${what})`, async () => {
		diffs = compare(await readTable(page), usageJson());
		return diffs.length === 0;
	}, { timeout: 25000, interval: 1000 }).catch((e) => {
		throw new Error(`${e.message}\n  ${diffs.join('\n  ')}`);
	});
}

const rowOrder = (page) => page.$$eval('#transferometer-hosts tr[data-mac]', trs => trs.map(tr => tr.getAttribute('data-mac')));

describe('LuCI views in Chromium against the real binary', { skip: missing || false }, () => {
	let srv, browser, page;
	const consoleErrors = [];
	const restore = [];

	before(async () => {
		mkdirSync(ARTIFACTS, { recursive: true });
		srv = await startServer({ bin: BIN, configDir: CFG, port: 0, log: (m) => process.stderr.write(`shim: ${m}\n`) });
		const { chromium } = await import('playwright-core');
		browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
		page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
		page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`console: ${m.text()}`); });
		page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
	});

	after(async () => {
		for (const fn of restore.reverse()) {
			try { fn(); } catch (e) { process.stderr.write(`restore failed: ${e.message}\n`); }
		}
		if (browser) await browser.close();
		if (srv) await srv.close();
	});

	// Put a file back as it was (or remove it) when the test ends, whatever happens.
	function keep(file) {
		const had = existsSync(file), old = had ? readFileSync(file) : null;
		const put = () => { if (had) writeFileSync(file, old); else rmSync(file, { force: true }); };
		restore.push(put);
		return put;
	}

	it('shows every device with the numbers of usage --json', async () => {
		await page.goto(srv.url + USAGE_PATH);
		await page.waitForSelector('#transferometer-hosts tr.table-titles');
		const u = usageJson();
		assert.ok(u.hosts.length > 0, 'the config dir under test has devices (the page would only show its empty state)');
		await assertPageMatchesUsage(page, 'first load');
		const calls = srv.shim.calls.filter(c => c.object === 'transferometer');
		assert.ok(calls.some(c => c.method === 'usage' && c.result[0] === 0), 'the page called transferometer.usage');
	});

	it('refreshes by itself', async () => {
		const n = srv.shim.calls.filter(c => c.method === 'usage').length;
		await until('two more usage polls', () => srv.shim.calls.filter(c => c.method === 'usage').length >= n + 2, { timeout: 15000 });
		await assertPageMatchesUsage(page, 'after polling');
		const rates = await page.$$eval('#transferometer-hosts tr[data-mac] td[data-col="rate"]', tds => tds.map(td => td.innerText));
		for (const r of rates)
			assert.match(r, /^↓ .+\/s\n↑ .+\/s$/, 'after two polls every device has a rate');
	});

	it('sorts by a clicked column, and reverses on a second click', async () => {
		const u = usageJson();
		assert.equal(await page.getAttribute('th[data-sort="total"]', 'aria-sort'), 'descending', 'sorted by total at first');
		assert.deepEqual(await rowOrder(page), h.sortHosts(u.hosts, 'total', 'desc').map(x => x.mac));
		for (const key of [ 'device', 'mac', 'ips', 'download', 'upload', 'total', 'last_seen' ]) {
			for (const dir of [ 'asc', 'desc' ]) {
				await page.click(`th[data-sort="${key}"]`);
				assert.equal(await page.getAttribute(`th[data-sort="${key}"]`, 'aria-sort'), dir === 'asc' ? 'ascending' : 'descending', `${key} ${dir}`);
				assert.deepEqual(await rowOrder(page), h.sortHosts(u.hosts, key, dir).map(x => x.mac), `order by ${key} ${dir}`);
			}
		}
		await page.click('th[data-sort="rate"]');
		assert.equal(await page.getAttribute('th[data-sort="rate"]', 'aria-sort'), 'ascending');
		await page.click('th[data-sort="total"]');
		await page.click('th[data-sort="total"]');
		assert.equal(await page.getAttribute('th[data-sort="total"]', 'aria-sort'), 'descending');
	});

	it('shows the warnings of usage as banners (flow offloading)', async () => {
		const readBanners = () => page.$$eval('#transferometer-warnings .alert-message.warning',
			ds => ds.map(d => ({ code: d.getAttribute('data-code'), text: d.textContent })));
		const same = (banners, u) => JSON.stringify(banners.map(b => b.code)) === JSON.stringify(u.warnings.map(w => w.code)) &&
			banners.every((b, i) => b.text.endsWith(u.warnings[i].message));

		const firewall = path.join(CFG, 'firewall');
		const put = keep(firewall);
		writeFileSync(firewall, [
			'', "config defaults", "\toption input 'REJECT'", "\toption output 'ACCEPT'", "\toption forward 'REJECT'",
			"\toption flow_offloading '1'", ''
		].join('\n'));
		const u = usageJson();
		assert.ok(u.warnings.some(w => w.code === 'flow_offloading'), 'usage --json warns about flow offloading');
		await until('the flow_offloading banner', async () => same(await readBanners(), usageJson()));
		await page.screenshot({ path: path.join(ARTIFACTS, 'usage.png'), fullPage: true });

		put();
		await until('the banner to go', async () => {
			const b = await readBanners();
			return !b.some(x => x.code === 'flow_offloading') && same(b, usageJson());
		});
	});

	it('resets one device only after the confirmation', async () => {
		const before = usageJson();
		const victim = h.sortHosts(before.hosts.filter(x => x.download_bytes + x.upload_bytes > 0), 'total', 'desc')[0];
		assert.ok(victim, 'a device with counted traffic to reset');
		const row = `#transferometer-hosts tr[data-mac="${victim.mac}"]`;
		const resets = () => srv.shim.calls.filter(c => c.method === 'reset').length;
		const n0 = resets();

		await page.click(`${row} button[data-action="reset"]`);
		await page.waitForSelector('body.modal-overlay-active #modal_overlay .modal');
		assert.match(await page.textContent('#modal_overlay .modal'), new RegExp(victim.mac.toUpperCase()));
		await page.click('#modal_overlay button[data-action="cancel"]');
		await page.waitForSelector('body:not(.modal-overlay-active)');
		assert.equal(resets(), n0, 'Cancel sends no reset');
		assert.deepEqual(usageJson().hosts.find(x => x.mac === victim.mac).download_bytes, victim.download_bytes);

		await page.click(`${row} button[data-action="reset"]`);
		await page.waitForSelector('body.modal-overlay-active');
		await page.click('#modal_overlay button[data-action="confirm-reset"]');
		await page.waitForSelector('body:not(.modal-overlay-active)');
		await page.waitForFunction((sel) => {
			const r = document.querySelector(sel);
			return r && r.querySelector('td[data-col="download"]').getAttribute('data-bytes') === '0' &&
				r.querySelector('td[data-col="upload"]').getAttribute('data-bytes') === '0';
		}, row);
		const call = srv.shim.calls.filter(c => c.method === 'reset').pop();
		assert.deepEqual(call.args, { mac: victim.mac });

		const afterReset = usageJson();
		const v = afterReset.hosts.find(x => x.mac === victim.mac);
		assert.equal(v.download_bytes, 0);
		assert.equal(v.upload_bytes, 0);
		for (const x of before.hosts.filter(x => x.mac !== victim.mac)) {
			const y = afterReset.hosts.find(z => z.mac === x.mac);
			assert.equal(y.download_bytes, x.download_bytes, `${x.mac} untouched`);
			assert.equal(y.upload_bytes, x.upload_bytes, `${x.mac} untouched`);
		}
		await assertPageMatchesUsage(page, 'after one reset');
	});

	it('shows an error reply of the plugin as a notification', async () => {
		// The request leaves the page as the view sends it; only the MAC is made malformed on the way,
		// so the reply (and the message shown) is the real binary's.
		const bad = 'zz:not:a:mac';
		const expected = await runPlugin(BIN, [ 'rpcd', 'call', 'reset' ], { configDir: CFG, input: JSON.stringify({ mac: bad }) });
		const reply = JSON.parse(expected.stdout);
		assert.equal(typeof reply.error, 'string', 'the binary answers a malformed MAC with an error object');

		const before = usageJson();
		const isUbus = (url) => new URL(url).pathname.startsWith('/ubus');
		await page.route(isUbus, (route) => {
			const body = route.request().postDataJSON();
			const msgs = Array.isArray(body) ? body : [ body ];
			for (const m of msgs)
				if (m && Array.isArray(m.params) && m.params[1] === 'transferometer' && m.params[2] === 'reset')
					m.params[3] = { mac: bad };
			return route.continue({ postData: JSON.stringify(body) });
		});
		try {
			const mac = (await rowOrder(page))[0];
			await page.click(`#transferometer-hosts tr[data-mac="${mac}"] button[data-action="reset"]`);
			await page.click('#modal_overlay button[data-action="confirm-reset"]');
			const note = await page.waitForSelector('#maincontent > .alert-message.danger');
			const text = await note.textContent();
			assert.ok(text.includes(reply.error), `notification shows the error: ${text}`);
			if (reply.code) assert.ok(text.includes(reply.code), 'and its code');
			await page.click('#maincontent > .alert-message.danger button');
		}
		finally {
			await page.unroute(isUbus);
		}
		assert.equal(await page.$('body.modal-overlay-active'), null, 'modal closed');
		assert.deepEqual(usageJson().hosts.map(x => [ x.mac, x.download_bytes, x.upload_bytes ]),
			before.hosts.map(x => [ x.mac, x.download_bytes, x.upload_bytes ]), 'nothing was reset');
	});

	it('resets all devices after the confirmation', async () => {
		await page.click('#transferometer-reset-all');
		await page.waitForSelector('body.modal-overlay-active');
		await page.click('#modal_overlay button[data-action="confirm-reset"]');
		await page.waitForFunction(() => {
			const tds = document.querySelectorAll('#transferometer-hosts td[data-col="download"], #transferometer-hosts td[data-col="upload"]');
			return tds.length > 0 && Array.from(tds).every(td => td.getAttribute('data-bytes') === '0');
		});
		const call = srv.shim.calls.filter(c => c.method === 'reset').pop();
		assert.deepEqual(call.args, {}, 'no mac: all devices');
		for (const x of usageJson().hosts) {
			assert.equal(x.download_bytes, 0, x.mac);
			assert.equal(x.upload_bytes, 0, x.mac);
		}
		await assertPageMatchesUsage(page, 'after resetting all');
	});

	it('renders the settings form with the values of the config file', async () => {
		const file = path.join(CFG, 'transferometer');
		const put = keep(file);
		const sections = uci.parse(readFileSync(file, 'utf8'));
		const main = sections.find(s => s.name === 'main');
		assert.ok(main, 'config transferometer main');
		const opt = (k) => main.options.get(k);

		await page.goto(srv.url + SETTINGS_PATH);
		await page.waitForSelector('#cbi-transferometer .cbi-value');
		const id = (o) => `[id="widget.cbid.transferometer.main.${o}"]`;

		for (const o of [ 'enabled', 'network', 'subnet', 'ipv6', 'db_dir', 'backend', 'iptables_variant', 'lock_timeout' ])
			assert.ok(await page.$(`#cbi-transferometer-main-${o}`), `option ${o} is on the form`);

		assert.equal(await page.isChecked(id('enabled')), (opt('enabled') ?? '1') === '1');
		assert.equal(await page.isChecked(id('ipv6')), (opt('ipv6') ?? '1') === '1');
		assert.equal(await page.inputValue(id('network')), opt('network') ?? 'lan');
		const subnets = await page.$$eval('#cbi-transferometer-main-subnet .cbi-dynlist .item', is => is.map(i => i.getAttribute('data-value')));
		assert.deepEqual(subnets, [].concat(opt('subnet') ?? []));

		// CIDR validation on the subnet list
		await page.fill(id('subnet'), '10.0.0.0/33');
		assert.ok(await page.$eval(id('subnet'), e => e.classList.contains('cbi-input-invalid')), '10.0.0.0/33 is refused');
		await page.fill(id('subnet'), 'not a subnet');
		assert.ok(await page.$eval(id('subnet'), e => e.classList.contains('cbi-input-invalid')));
		await page.fill(id('subnet'), 'fd99::/64');
		assert.ok(!(await page.$eval(id('subnet'), e => e.classList.contains('cbi-input-invalid'))), 'fd99::/64 is fine');
		await page.press(id('subnet'), 'Enter');
		await page.fill(id('subnet'), '10.99.0.0/24');
		await page.click('#cbi-transferometer-main-subnet .cbi-button-add');

		// the advanced tab
		await page.click('.cbi-tabmenu li[data-tab="advanced"] a');
		assert.ok(await page.isVisible(id('iptables_variant')));
		assert.deepEqual(await page.$$eval(`${id('iptables_variant')} option`, os => os.map(o => o.value)), [ 'auto', 'nft', 'legacy' ]);
		assert.equal(await page.inputValue(id('iptables_variant')), opt('iptables_variant') ?? 'auto');
		assert.equal(await page.inputValue(id('backend')), opt('backend') ?? 'iptables');
		await page.selectOption(id('iptables_variant'), 'legacy');
		await page.fill(id('lock_timeout'), '301');
		assert.ok(await page.$eval(id('lock_timeout'), e => e.classList.contains('cbi-input-invalid')), 'lock_timeout 301 is refused');
		await page.fill(id('lock_timeout'), '42');
		await page.screenshot({ path: path.join(ARTIFACTS, 'config.png'), fullPage: true });

		// Save & Apply writes the file through the uci object
		await Promise.all([
			page.waitForEvent('load', { timeout: 20000 }),
			page.click('.cbi-page-actions .cbi-button-apply')
		]);
		const saved = uci.parse(readFileSync(file, 'utf8')).find(s => s.name === 'main').options;
		assert.deepEqual(saved.get('subnet'), [].concat(opt('subnet') ?? [], 'fd99::/64', '10.99.0.0/24'));
		assert.equal(saved.get('iptables_variant'), 'legacy');
		assert.equal(saved.get('lock_timeout'), '42');
		for (const [ k, v ] of main.options)
			if (![ 'subnet', 'iptables_variant', 'lock_timeout' ].includes(k))
				assert.deepEqual(saved.get(k), v, `${k} kept`);
		await page.waitForSelector('#cbi-transferometer .cbi-value');
		assert.equal(await page.inputValue(id('lock_timeout')), '42', 'the reloaded form shows the saved value');
		put();
	});

	it('explains an empty table: accounting disabled', async (t) => {
		// A copy of the config with accounting off and an empty database: usage only reads the
		// (empty) ledger then, it touches no counters.
		const dir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-luci-disabled.'));
		restore.push(() => rmSync(dir, { recursive: true, force: true }));
		const cfg = path.join(dir, 'config');
		mkdirSync(cfg);
		const sections = uci.parse(readFileSync(path.join(CFG, 'transferometer'), 'utf8'));
		const main = sections.find(s => s.name === 'main');
		main.options.set('enabled', '0');
		main.options.set('db_dir', path.join(dir, 'db'));
		main.options.set('lock_dir', path.join(dir, 'lock'));
		main.options.set('pid_file', path.join(dir, 'transferometer.pid'));
		writeFileSync(path.join(cfg, 'transferometer'), uci.serialize(sections));
		const u = usageJson(cfg);
		if (u.enabled !== false || u.hosts.length) {
			t.skip('the binary under test does not follow TRANSFEROMETER_CONFIG_DIR');
			return;
		}
		const srv2 = await startServer({ bin: BIN, configDir: cfg, port: 0 });
		try {
			await page.goto(srv2.url + USAGE_PATH);
			const row = await page.waitForSelector('#transferometer-hosts tr#transferometer-empty');
			assert.equal(await row.getAttribute('data-reason'), 'disabled');
			assert.match(await row.textContent(), /disabled/);
			assert.ok(await page.$('#transferometer-empty a[href$="/admin/status/transferometer/settings"]'), 'links to the settings');
			const codes = await page.$$eval('#transferometer-warnings .alert-message', ds => ds.map(d => d.getAttribute('data-code')));
			assert.deepEqual(codes, usageJson(cfg).warnings.map(w => w.code));
			assert.equal(await page.$('#transferometer-hosts tr[data-totals]'), null, 'no totals row');
		}
		finally {
			await srv2.close();
		}
	});

	it('logged no console errors', () => {
		assert.deepEqual(consoleErrors, []);
	});
});
