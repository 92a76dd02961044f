// The page in the user's language: the usage and settings views in Chromium with a German and a
// Chinese browser, translated from the catalogues the luci-i18n-transferometer-* packages install.
//
// The catalogues are made as `make ipk` makes them (go/cmd/mkapk luci-i18n: the packages' trees,
// .lmo files compiled as LuCI's po2lmo compiles them) and served by the test shim as LuCI's
// dispatcher serves them (tests/lucishim/i18n.mjs: the language from Accept-Language, the catalogue
// decoded from the .lmo as window.TR, menu titles translated); the shim's luci.js looks strings up
// as cbi.js does. So what is checked is the packaged catalogue, read the way a router reads it.
//
// Environment as for browser.test.mjs (TRANSFEROMETER_BIN, TRANSFEROMETER_CONFIG_DIR, CHROMIUM; this
// test reads a copy of the config dir's files and changes nothing), and Go (GO, default `go` on
// PATH) to build the catalogues.
// Without them the browser part fails when CI is set and is skipped otherwise.
import { describe, it, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createShim } from './lucishim/server.mjs';
import { withI18n, loadCatalogues, pickLanguage, sfh, hex8, trimws, translationsJs } from './lucishim/i18n.mjs';
import { parsePo, POT } from '../tools/i18n-scan.mjs';
import { loadHelpers } from './load-helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const APP = path.resolve(HERE, '..');
const REPO = path.resolve(APP, '..');
const ARTIFACTS = path.join(HERE, 'artifacts');
const BIN = process.env.TRANSFEROMETER_BIN || '';
const CFG = process.env.TRANSFEROMETER_CONFIG_DIR || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const GO = process.env.GO || 'go';
const CHROMIUM_ARGS = [ '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--disable-quic' ];
const USAGE_PATH = '/cgi-bin/luci/admin/status/transferometer/usage';
const SETTINGS_PATH = '/cgi-bin/luci/admin/status/transferometer/settings';

/* the browser's locale, the LuCI language it gets, the po directory that language comes from */
const LANGS = [
	{ locale: 'zh-CN', accept: 'zh-CN,zh;q=0.9,en;q=0.5', lang: 'zh-cn', po: 'zh_Hans' },
	{ locale: 'de-DE', accept: 'de-DE,de;q=0.9,en;q=0.5', lang: 'de', po: 'de' }
];

const goMissing = spawnSync(GO, [ 'version' ], { encoding: 'utf8' }).status !== 0 ? `no Go (${GO}) to build the catalogues with` : null;
const missing = goMissing
	|| (!BIN ? 'TRANSFEROMETER_BIN is not set' : !CFG ? 'TRANSFEROMETER_CONFIG_DIR is not set'
	: !existsSync(BIN) ? `TRANSFEROMETER_BIN=${BIN} does not exist`
	: !existsSync(path.join(CFG, 'transferometer')) ? `${CFG}/transferometer does not exist`
	: !existsSync(CHROMIUM) ? `${CHROMIUM} does not exist (apt-get install chromium)` : null);
const skipOrFail = (reason) => reason && !process.env.CI ? reason : false;

/* The translation packages' trees, as `make ipk` packs them; the catalogue directories. */
let treeDir = null;
function catalogueDirs() {
	if (!treeDir) {
		treeDir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-i18n-'));
		const tool = path.join(treeDir, 'mkapk');
		const b = spawnSync(GO, [ 'build', '-o', tool, './cmd/mkapk' ], { cwd: path.join(REPO, 'go'), encoding: 'utf8' });
		assert.equal(b.status, 0, `go build ./cmd/mkapk: ${b.stderr}`);
		const r = spawnSync(tool, [ 'luci-i18n', '-root', REPO, '-out', path.join(treeDir, 'pkgs') ], { encoding: 'utf8' });
		assert.equal(r.status, 0, `mkapk luci-i18n: ${r.stderr}`);
	}
	const pkgs = path.join(treeDir, 'pkgs');
	return readdirSync(pkgs).sort().map(p => path.join(pkgs, p, 'data', 'usr', 'lib', 'lua', 'luci', 'i18n'));
}
after(() => { if (treeDir) rmSync(treeDir, { recursive: true, force: true }); });

/* msgid (and context) -> translation(s) of a po file */
function poTable(dir) {
	const t = new Map();
	for (const e of parsePo(readFileSync(path.join(APP, 'po', dir, 'transferometer.po'), 'utf8'), dir))
		if (!e.obsolete && e.id !== '') t.set((e.ctx == null ? '' : e.ctx + '\u0001') + e.id, e.plural == null ? e.str[0] : e.str);
	return t;
}

test('the shim picks the language as LuCI\'s dispatcher does (Accept-Language, then its base language)', () => {
	const have = new Map([ [ 'de', [] ], [ 'zh-cn', [] ] ]);
	assert.equal(pickLanguage('zh-CN,zh;q=0.9', have), 'zh-cn');
	assert.equal(pickLanguage('de-AT,en;q=0.5', have), 'de');
	assert.equal(pickLanguage('fr-FR,de;q=0.3', have), 'de');
	assert.equal(pickLanguage('en-US,en', have), null);
	assert.equal(pickLanguage(undefined, have), null);
	assert.equal(translationsJs([ [ 0x1234abcd, 'a "b"' ], [ 0, 'nplurals=1; plural=0;' ] ]),
		'window.TR={"1234abcd":"a \\"b\\"","00000000":"nplurals=1; plural=0;",};');
});

test('the packaged catalogues hold every translation under the key LuCI looks it up by', { skip: skipOrFail(goMissing) }, () => {
	if (goMissing) assert.fail(`${goMissing} (CI is set)`);
	const cats = loadCatalogues(catalogueDirs());
	assert.deepEqual([ ...cats.keys() ].sort(), LANGS.map(l => l.lang).sort());
	const potIds = parsePo(readFileSync(POT, 'utf8')).filter(e => e.id !== '');
	for (const { lang, po } of LANGS) {
		const tr = new Map(cats.get(lang).map(([ k, v ]) => [ k, v ]));
		const table = poTable(po);
		let n = 0;
		for (const e of potIds) {
			const key = (e.ctx == null ? '' : trimws(e.ctx) + '\u0001') + trimws(e.id);
			const want = table.get((e.ctx == null ? '' : e.ctx + '\u0001') + e.id);
			if (e.plural == null) {
				/* po2lmo leaves out a message translated as itself: _() then shows the msgid */
				const got = tr.get(sfh(key)) ?? e.id;
				assert.equal(got, want, `${lang}: ${JSON.stringify(e.id)}`);
			}
			else want.forEach((form, i) => assert.equal(tr.get(sfh(key + '\u0002' + i)) ?? (i ? e.plural : e.id), form, `${lang}: ${e.id} [${i}]`));
			n++;
		}
		assert.ok(n > 100, `${lang}: ${n} messages`);
		assert.ok(tr.has(0), `${lang}: the Plural-Forms entry`);
	}
});

describe('the page in Simplified Chinese and German (Chromium)', { skip: skipOrFail(missing) }, () => {
	let server, url, browser, cfgCopy;
	const h = loadHelpers();
	const menu = JSON.parse(readFileSync(path.join(APP, 'root/usr/share/luci/menu.d/luci-app-transferometer.json'), 'utf8'));
	const potIds = parsePo(readFileSync(POT, 'utf8')).filter(e => e.id !== '' && e.ctx == null && e.plural == null);

	before(async () => {
		if (missing) assert.fail(`${missing} (CI is set: failing instead of skipping)`);
		/* a copy of the config files: settings the browser test changes meanwhile do not reach this
		 * page (the database and the counters, named by absolute paths there, are the same) */
		cfgCopy = mkdtempSync(path.join(os.tmpdir(), 'transferometer-i18n-cfg-'));
		for (const f of readdirSync(CFG))
			if (statSync(path.join(CFG, f)).isFile()) copyFileSync(path.join(CFG, f), path.join(cfgCopy, f));
		const shim = createShim({ bin: BIN, configDir: cfgCopy });
		server = http.createServer(withI18n(shim.handler, { dirs: catalogueDirs() }));
		await new Promise((res, rej) => { server.once('error', rej); server.listen(0, '127.0.0.1', res); });
		url = `http://127.0.0.1:${server.address().port}`;
		const { chromium } = await import('playwright-core');
		browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
		mkdirSync(ARTIFACTS, { recursive: true });
	});

	after(async () => {
		if (browser) await browser.close();
		if (server) { server.closeAllConnections?.(); await new Promise(r => server.close(r)); }
		if (cfgCopy) rmSync(cfgCopy, { recursive: true, force: true });
	});

	/* Every text node, title, placeholder and aria-label of the page that is, whole, a message of
	 * the template left in English although the catalogue translates it. */
	async function englishLeft(page, table) {
		const shown = await page.evaluate(() => {
			const out = [];
			const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
			for (let n; (n = walk.nextNode());) if (n.data.trim()) out.push(n.data.trim());
			for (const el of document.querySelectorAll('[title], [placeholder], [aria-label]'))
				for (const a of [ 'title', 'placeholder', 'aria-label' ]) if (el.getAttribute(a)) out.push(el.getAttribute(a).trim());
			return out;
		});
		const english = new Set(potIds.filter(e => table.get(e.id) && table.get(e.id) !== e.id).map(e => trimws(e.id)));
		return [ ...new Set(shown.filter(s => english.has(trimws(s)))) ];
	}

	for (const L of LANGS) {
		it(`usage page in ${L.po} (browser locale ${L.locale})`, async () => {
			const table = poTable(L.po);
			const t = (id) => table.get(id);
			const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: L.locale,
				extraHTTPHeaders: { 'Accept-Language': L.accept } });
			try {
				const page = await ctx.newPage();
				const errors = [];
				page.on('pageerror', e => errors.push(String(e)));
				await page.goto(url + USAGE_PATH);
				await page.waitForSelector('#transferometer-hosts tr[data-mac], #transferometer-empty', { timeout: 30000 });
				await page.waitForSelector('#transferometer-summary:not(:empty)', { timeout: 30000 });

				/* the dispatcher's part: language, catalogue, menu */
				assert.equal(await page.evaluate(() => document.documentElement.lang), L.lang);
				const trKeys = await page.evaluate(() => Object.keys(window.TR || {}).length);
				assert.ok(trKeys > 100, `window.TR has ${trKeys} entries`);
				const tabs = await page.$$eval('.cbi-tabmenu a', as => as.map(a => a.textContent));
				assert.ok(tabs.length >= 2, `tabs ${tabs}`);
				const titles = Object.values(menu).map(n => n.title);
				for (const tab of tabs) assert.ok(titles.some(x => t(x) === tab), `tab ${JSON.stringify(tab)} is no translated menu title`);
				assert.ok(tabs.includes(t('Usage')) && tabs.includes(t('Settings')), `tabs ${tabs}`);

				/* the view's strings */
				const heads = await page.$$eval('#transferometer-hosts th[data-sort]', ths =>
					Object.fromEntries(ths.map(th => [ th.getAttribute('data-sort'), th.textContent ])));
				for (const [ col, id ] of [ [ 'device', 'Device' ], [ 'download', 'Download' ], [ 'upload', 'Upload' ], [ 'total', 'Total' ], [ 'last_seen', 'Last seen' ] ])
					assert.ok((heads[col] || '').startsWith(t(id)), `column ${col}: ${JSON.stringify(heads[col])}, want ${t(id)}`);
				const left = await englishLeft(page, table);
				assert.deepEqual(left, [], `shown in English although translated: ${JSON.stringify(left)}`);

				/* a plural through N_() and the catalogue's Plural-Forms */
				const rem = await page.$('#transferometer-remaining');
				if (rem) {
					const days = +(await rem.getAttribute('data-days'));
					const forms = t('%d day left in this period.');
					const want = (L.po === 'de' ? forms[days === 1 ? 0 : 1] : forms[0]).replace('%d', String(days));
					assert.equal((await rem.textContent()).trim(), want);
				}

				/* numbers and dates in the browser's locale */
				const summary = await page.textContent('#transferometer-summary');
				const at = t('Collected at %s').replace('%s', '');
				assert.ok(summary.includes(at), `summary ${JSON.stringify(summary)} lacks ${JSON.stringify(at)}`);
				const date = L.po === 'de' ? /\d{1,2}\.\d{1,2}\.\d{4}, \d{2}:\d{2}:\d{2}/ : /\d{4}\/\d{1,2}\/\d{1,2} \d{2}:\d{2}:\d{2}/;
				assert.match(summary, date, `the collection time in ${L.locale}`);
				const cells = await page.$$eval('#transferometer-hosts td[data-col="total"][data-bytes]', tds =>
					tds.map(td => [ +td.getAttribute('data-bytes'), td.textContent ]));
				for (const [ n, text ] of cells)
					assert.equal(text, h.formatBytes(n, L.locale), `total ${n} in ${L.locale}`);
				if (L.po === 'de' && cells.some(([ n ]) => n >= 1024))
					assert.ok(cells.some(([ n, text ]) => n >= 1024 && /\d,\d/.test(text)), `German decimal comma in ${JSON.stringify(cells)}`);

				await page.screenshot({ path: path.join(ARTIFACTS, `usage-${L.po}.png`), fullPage: true });
				assert.deepEqual(errors, []);
			}
			finally { await ctx.close(); }
		});

		it(`settings page in ${L.po}`, async () => {
			const table = poTable(L.po);
			const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: L.locale,
				extraHTTPHeaders: { 'Accept-Language': L.accept } });
			try {
				const page = await ctx.newPage();
				await page.goto(url + SETTINGS_PATH);
				await page.waitForSelector('.cbi-map', { timeout: 30000 });
				const text = await page.textContent('.cbi-map');
				for (const id of [ 'General Settings', 'Enable accounting', 'Refresh interval', 'Counting backend' ])
					assert.ok(text.includes(table.get(id)), `settings page lacks ${JSON.stringify(table.get(id))} (${id})`);
				const left = await englishLeft(page, table);
				assert.deepEqual(left, [], `shown in English although translated: ${JSON.stringify(left)}`);
				await page.screenshot({ path: path.join(ARTIFACTS, `config-${L.po}.png`), fullPage: true });
			}
			finally { await ctx.close(); }
		});
	}

	/* every other view of the menu: nothing of the template left in English */
	const others = Object.entries(menu).filter(([ k, n ]) => n.action && n.action.type === 'view'
		&& ![ USAGE_PATH, SETTINGS_PATH ].includes('/cgi-bin/luci/' + k)).map(([ k ]) => k);
	for (const L of LANGS) for (const k of others) {
		it(`${k} in ${L.po}`, async () => {
			const table = poTable(L.po);
			const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: L.locale,
				extraHTTPHeaders: { 'Accept-Language': L.accept } });
			try {
				const page = await ctx.newPage();
				await page.goto(url + '/cgi-bin/luci/' + k);
				await page.waitForSelector('#view > :not(.spinning)', { timeout: 30000 });
				await page.waitForLoadState('networkidle');
				assert.equal(await page.evaluate(() => document.documentElement.lang), L.lang);
				const left = await englishLeft(page, table);
				assert.deepEqual(left, [], `shown in English although translated: ${JSON.stringify(left)}`);
				await page.screenshot({ path: path.join(ARTIFACTS, `${k.split('/').pop()}-${L.po}.png`), fullPage: true });
			}
			finally { await ctx.close(); }
		});
	}

	it('an English browser gets the English page (no catalogue for en)', async () => {
		const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: 'en-US' });
		try {
			const page = await ctx.newPage();
			await page.goto(url + USAGE_PATH);
			await page.waitForSelector('#transferometer-summary:not(:empty)', { timeout: 30000 });
			assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
			assert.equal(await page.evaluate(() => window.TR === undefined), true);
			assert.ok((await page.textContent('#transferometer-summary')).startsWith('Collected at '));
		}
		finally { await ctx.close(); }
	});
});
