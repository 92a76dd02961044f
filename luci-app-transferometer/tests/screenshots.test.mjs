// Screenshots for the README: the Usage page (light and dark theme) and the Quotas page (light) of a
// home network in use, on a config dir of its own next to the one under test (its own database,
// lock, flash directory and kernel objects TMSHOT, torn down after): showcase-ledger.mjs's
// ledger restored by the binary (`transferometer restore` checks it as it checks any backup), the
// devices' addresses given as dnsmasq gives them, names and groups as config host sections, and two
// quotas, one in its warning range and one used up. It checks what the pictures are meant to show
// (every device with its name and group, the month's days in the chart, the quota bar and badge, no
// warning banner, the theme's colours); the chart's figures themselves are browser.test.mjs's.
// The files go to tests/artifacts/, and with TRANSFEROMETER_SCREENSHOTS=docs to docs/screenshots/
// (usage-light.png, usage-dark.png, quotas-light.png), which the README shows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lucishim/server.mjs';
import * as uci from './lucishim/uci.mjs';
import { BIN, CFG, CHROMIUM, CHROMIUM_ARGS, USAGE_PATH, QUOTAS_PATH, missing, skipOrFail } from './browser-env.mjs';
import { SHOWCASE_DEVICES, showcaseBackup, showcasePeriodStart } from './showcase-ledger.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = [ path.join(HERE, 'artifacts') ].concat(process.env.TRANSFEROMETER_SCREENSHOTS === 'docs'
	? [ path.join(HERE, '..', '..', 'docs', 'screenshots') ] : []);
const GB = 1e9, MB = 1e6;

function run(dir, args, input) {
	return spawnSync(BIN, args, { env: { ...process.env, TRANSFEROMETER_CONFIG_DIR: dir }, encoding: 'utf8', timeout: 30000, input });
}
function ok(r, what) {
	assert.equal(r.status, 0, `${what}: exit ${r.status}: ${r.stderr}`);
	return r.stdout;
}

if (missing && process.env.CI) {
	it('screenshot test environment', () => assert.fail(`${missing}; set it as make test-luci does`));
}

describe('Screenshots of the pages in use', { skip: skipOrFail(missing) }, () => {
	let dir, srv, browser, usage;

	before(async () => {
		dir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-shots.'));
		// the config under test's network settings, with paths, chains and feed of its own; nftables,
		// which enforces quotas (with iptables the page would rightly warn that it does not)
		const main = uci.parse(readFileSync(path.join(CFG, 'transferometer'), 'utf8')).find(s => s.type === 'transferometer');
		assert.ok(main, 'the config under test has a config transferometer section');
		const now = new Date(), start = showcasePeriodStart(now);
		const own = { enabled: '1', db_dir: path.join(dir, 'db'), persist_dir: path.join(dir, 'persist'), lock_dir: path.join(dir, 'lock'),
			pid_file: path.join(dir, 'transferometer.pid'), leasefile: path.join(dir, 'dhcp.leases'), chain_prefix: 'TMSHOT',
			backend: 'nftables', live_port: '0', live_tls_port: '0', period: 'monthly', period_start: String(start) };
		for (const k of [ 'period_days', 'generations' ]) main.options.delete(k);
		for (const [ k, v ] of Object.entries(own)) main.options.set(k, v);
		const file = path.join(dir, 'transferometer');
		writeFileSync(file, uci.serialize([ main ]));

		const restored = ok(run(dir, [ 'restore', '-' ], JSON.stringify(showcaseBackup(now, start))), 'restore of the showcase ledger');
		assert.match(restored, /restored 8 devices/);
		// addresses as dnsmasq's dhcp-script gives them (a backup holds none)
		const subnet = [].concat(main.options.get('subnet') || []).find(s => /^\d+\.\d+\.\d+\.0\/24$/.test(s));
		assert.ok(subnet, `an IPv4 /24 among the subnets of the config under test: ${main.options.get('subnet')}`);
		SHOWCASE_DEVICES.forEach((d, i) => ok(run(dir, [ 'add', d.mac, subnet.replace(/0\/24$/, String(120 + i)), d.host ]), `add ${d.mac}`));

		// names and groups; the kids' shared quota about nine tenths used, the console's daily one used up
		usage = JSON.parse(ok(run(dir, [ 'usage', '--json' ]), 'usage --json'));
		const byMac = Object.fromEntries(usage.hosts.map(x => [ x.mac, x ]));
		const kidsUsed = SHOWCASE_DEVICES.filter(d => d.group === 'Kids').reduce((n, d) => n + byMac[d.mac].download_bytes + byMac[d.mac].upload_bytes, 0);
		const sw = SHOWCASE_DEVICES.find(d => d.host === 'nintendo-switch');
		const swToday = byMac[sw.mac].today.download_bytes + byMac[sw.mac].today.upload_bytes;
		assert.ok(swToday > 2 * MB, `the console moved something today: ${JSON.stringify(byMac[sw.mac])}`);
		const hosts = SHOWCASE_DEVICES.filter(d => d.name || d.group).map(d => `\nconfig host\n\toption mac '${d.mac}'\n` +
			(d.name ? `\toption name '${d.name}'\n` : '') + (d.group ? `\toption group '${d.group}'\n` : '')).join('');
		writeFileSync(file, readFileSync(file, 'utf8') + hosts +
			`\nconfig quota 'kids'\n\tlist group 'Kids'\n\toption limit '${Math.ceil(kidsUsed / 0.88 / (10 * GB)) * 10}GB'\n\tlist notify '80'\n` +
			`\nconfig quota 'console'\n\tlist mac '${sw.mac}'\n\toption limit '${Math.floor(swToday * 0.8 / MB)}MB'\n\toption per 'day'\n`);
		ok(run(dir, [ 'config', '--json' ]), 'the showcase config');
		usage = JSON.parse(ok(run(dir, [ 'usage', '--json' ]), 'usage --json'));

		srv = await startServer({ bin: BIN, configDir: dir, port: 0, log: (m) => process.stderr.write(`shim: ${m}\n`) });
		const { chromium } = await import('playwright-core');
		browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
		for (const d of OUT) mkdirSync(d, { recursive: true });
	});

	after(async () => {
		if (browser) await browser.close();
		if (srv) await srv.close();
		if (dir) {
			const r = run(dir, [ 'teardown' ]);
			if (r.status !== 0) process.stderr.write(`teardown of the showcase config: exit ${r.status}: ${r.stderr}\n`);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it('the ledger is one of a month in use: days, hours, quotas', () => {
		assert.deepEqual(usage.warnings || [], [], 'nothing to warn about');
		assert.equal(usage.hosts.length, SHOWCASE_DEVICES.length);
		const days = (usage.period.end - usage.period.start) / 86400;
		assert.ok(days >= 28 && days <= 31, `a month-long period: ${JSON.stringify(usage.period)}`);
		const states = Object.fromEntries((usage.quotas || []).map(q => [ q.name, q.state ]));
		assert.deepEqual(states, { kids: 'warning', console: 'blocked' }, JSON.stringify(usage.quotas));
	});

	for (const scheme of [ 'light', 'dark' ]) {
		it(`Usage, ${scheme} theme`, async () => {
			const ctx = await browser.newContext({ viewport: { width: 1500, height: 900 }, locale: 'en-US', colorScheme: scheme });
			try {
				const pg = await ctx.newPage();
				await pg.goto(srv.url + USAGE_PATH);
				await pg.waitForSelector('#transferometer-chart-days svg');
				await pg.waitForSelector('#transferometer-groups tr[data-group]');
				assert.equal(await pg.evaluate(() => document.documentElement.getAttribute('data-darkmode')), String(scheme === 'dark'));
				assert.equal(await pg.$$eval('#transferometer-warnings .alert-message', ds => ds.length), 0, 'no warning banner');
				const names = await pg.$$eval('#transferometer-hosts tr[data-mac] td[data-col="device"]', tds => tds.map(td => td.innerText));
				for (const d of SHOWCASE_DEVICES)
					assert.ok(names.some(n => n.includes(d.name || d.host)), `${d.name || d.host} is listed: ${JSON.stringify(names)}`);
				assert.deepEqual(await pg.$$eval('#transferometer-groups tr[data-group]', trs => trs.map(tr => tr.getAttribute('data-group'))).then(g => g.sort()),
					[ 'Kids', 'Parents' ]);
				const bars = await pg.$$eval('#transferometer-chart-days g.transferometer-bucket:not([data-future]) rect[data-series]', rs => rs.length);
				assert.ok(bars >= 24 * 2, `a bar for each day so far: ${bars} segments`);
				assert.ok(await pg.$('#transferometer-hosts td[data-col="quota"] [role="progressbar"]'), 'quota bars');
				// the TV, the biggest, opened: its days and today's hours
				const tv = SHOWCASE_DEVICES.find(d => d.host === 'LG-webOS-TV').mac;
				await pg.click(`#transferometer-hosts tr[data-mac="${tv}"] button[data-action="expand"]`);
				await pg.waitForSelector(`#transferometer-detail-${tv.replace(/:/g, '')}-days svg`);
				await pg.mouse.move(1, 1);
				for (const d of OUT)
					await pg.screenshot({ path: path.join(d, `usage-${scheme}.png`), fullPage: true });
			}
			finally {
				await ctx.close();
			}
		});
	}

	it('Quotas, light theme', async () => {
		const ctx = await browser.newContext({ viewport: { width: 1500, height: 900 }, locale: 'en-US', colorScheme: 'light' });
		try {
			const pg = await ctx.newPage();
			await pg.goto(srv.url + QUOTAS_PATH);
			await pg.waitForSelector('[id="widget.cbid.transferometer.kids.limit"]');
			assert.ok(await pg.$('[id="widget.cbid.transferometer.console.limit"]'));
			for (const d of OUT)
				await pg.screenshot({ path: path.join(d, 'quotas-light.png'), fullPage: true });
		}
		finally {
			await ctx.close();
		}
	});
});
