/*
 * The translation template and catalogues of luci-app-transferometer:
 *  - po/templates/transferometer.pot is what the scanner (tools/i18n-scan.mjs) makes of the
 *    sources now: a string added to the page without updating the template fails here;
 *  - the scanner gives what LuCI's own scanner (build/i18n-scan.pl: xgettext + msguniq) gave for
 *    the same inputs (tests/i18n/scan-cases*, tests/i18n/wrap.pot; README there);
 *  - every po/LANG/transferometer.po translates every message of the template (no fuzzy, no empty
 *    plural form, no message the template no longer has) with the same %-directives in the same
 *    order (String.format has no positional arguments), in a directory luci.mk turns into a
 *    luci-i18n-transferometer-LANG package.
 * Fix a failure with README's "Translations" steps: node tools/i18n-scan.mjs -w, msgmerge, translate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_DIR, POT, DOMAIN, buildPot, parsePo, poHeader, poField, extractJs, tokenize, sourceFiles } from '../tools/i18n-scan.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const key = e => (e.ctx == null ? '' : e.ctx + '\u0004') + e.id;

/* luci.mk's language table (LUCI_LANG.*) and the aliases it names packages and catalogues by
 * (LUCI_LC_ALIAS.*): a po/ directory by another name gives no package. */
const LUCI_LANGS = [ 'ar', 'bg', 'bn_BD', 'ca', 'cs', 'de', 'el', 'en', 'es', 'fi', 'fr', 'he', 'hi', 'hu', 'it', 'ja', 'ko', 'mr', 'ms', 'nb_NO', 'nl', 'pl', 'pt', 'pt_BR', 'ro', 'ru', 'sk', 'sv', 'tr', 'uk', 'vi', 'zh_Hans', 'zh_Hant' ];

/* String.format's directives (cbi.js), %% left out */
const directives = s => (s.match(/%(?:'.|0|\x20)?-?\d*(?:\.\d+)?[%bcdufoxXsqhjtm]/g) || []).filter(d => d !== '%%');

test('po/templates/transferometer.pot is current (node tools/i18n-scan.mjs -w)', () => {
	const want = buildPot();
	const have = existsSync(POT) ? readFileSync(POT, 'utf8') : '';
	if (have === want) return;
	const ids = t => new Set(parsePo(t).filter(e => e.id !== '').map(key));
	const w = ids(want), h = ids(have);
	const added = [ ...w ].filter(k => !h.has(k)), gone = [ ...h ].filter(k => !w.has(k));
	assert.fail(`${path.relative(APP_DIR, POT)} is out of date (run node tools/i18n-scan.mjs -w, then msgmerge the po files):\n` +
		`  new in the sources: ${JSON.stringify(added)}\n  no longer in the sources: ${JSON.stringify(gone)}` +
		(added.length || gone.length ? '' : '\n  (same messages; places or order differ)'));
});

test('the scanner gives what LuCI\'s i18n-scan.pl gave for the same sources', () => {
	const want = readFileSync(path.join(HERE, 'i18n', 'scan-cases.pot'), 'utf8');
	assert.equal(buildPot(path.join(HERE, 'i18n', 'scan-cases')), want);
});

test('strings are wrapped where gettext wraps them', () => {
	const entries = parsePo(readFileSync(path.join(HERE, 'i18n', 'wrap.pot'), 'utf8')).filter(e => e.id !== '');
	assert.ok(entries.length >= 300);
	const text = readFileSync(path.join(HERE, 'i18n', 'wrap.pot'), 'utf8');
	let n = 0;
	for (const block of text.split('\n\n').slice(1)) {
		const lines = block.trim().split('\n');
		const idLines = lines.slice(lines.findIndex(l => l.startsWith('msgid ')), lines.indexOf('msgstr ""'));
		const id = parsePo(block)[0].id;
		assert.equal(poField('msgid', id).join('\n'), idLines.join('\n'), `msgid ${JSON.stringify(id)}`);
		n++;
	}
	assert.equal(n, entries.length);
});

test('the scanner takes calls as xgettext does', () => {
	const got = extractJs([
		"_('a' + b + 'c'); _(b + 'x' + 'y');",
		"_(fn('inner')); _(`t ${_('sub')}`);",
		"x = a / 2; _('after /'); y = /_\\('re'\\)/;",
		"o.toString(_('proto'));",
		"N_(n, 'one', 'many', 'Ctx'); N_(n, 'only');"
	].join('\n'));
	assert.deepEqual(got.map(m => [ m.line, m.ctx, m.id, m.plural ]), [
		[ 1, null, 'a', null ], [ 1, null, 'xy', null ],
		[ 2, null, 'sub', null ],
		[ 3, null, 'after /', null ],
		[ 4, null, 'proto', null ],
		[ 5, 'Ctx', 'one', 'many' ]
	]);
});

/* A message handed to _() in a variable (a wrapper like tr(s) { return _(s); }) is translated at
 * run time but never reaches the template: LuCI's scanner (xgettext) sees literals only. */
const wrapped = sourceFiles().filter(f => f.endsWith('.js')).flatMap((f) => {
	const t = tokenize(readFileSync(f, 'utf8'));
	return t.flatMap((x, i) => (x.t === 'id' && x.v === '_' && t[i + 1] && t[i + 1].t === '(' && t[i + 2] && t[i + 2].t !== 'str'
		&& !(t[i - 1] && t[i - 1].t === 'id' && t[i - 1].v === 'function'))
		? [ `${path.relative(APP_DIR, f)}:${x.line}` ] : []);
});
test('every _() call names its message as a literal, so that the scanner sees it', () => {
	assert.deepEqual(wrapped, [], `_() of a non-literal (its strings never reach the template): ${wrapped.join(', ')}`);
});

const pot = parsePo(readFileSync(POT, 'utf8'), 'transferometer.pot').filter(e => e.id !== '');
const langs = readdirSync(path.join(APP_DIR, 'po')).filter(d => d !== 'templates').sort();

test('translations: German and Simplified Chinese at least, in po directories luci.mk knows', () => {
	for (const l of [ 'de', 'zh_Hans' ]) assert.ok(langs.includes(l), `po/${l} missing`);
	for (const l of langs) {
		assert.ok(LUCI_LANGS.includes(l), `po/${l}: not a language of luci.mk (LUCI_LANG.*): no package would be built`);
		assert.deepEqual(readdirSync(path.join(APP_DIR, 'po', l)), [ DOMAIN + '.po' ], `po/${l} holds ${DOMAIN}.po only`);
	}
});

for (const lang of langs) {
	test(`po/${lang}/${DOMAIN}.po translates every message of the template`, () => {
		const file = path.join(APP_DIR, 'po', lang, DOMAIN + '.po');
		const entries = parsePo(readFileSync(file, 'utf8'), `${lang}/${DOMAIN}.po`);
		const hdr = poHeader(entries);
		assert.equal(hdr.Language, lang, 'header Language');
		assert.match(hdr['Content-Type'] || '', /charset=UTF-8/, 'header Content-Type');
		const nplurals = +((/nplurals\s*=\s*(\d+)/.exec(hdr['Plural-Forms'] || '') || [])[1]);
		assert.ok(nplurals >= 1, 'header Plural-Forms');
		const byKey = new Map(entries.filter(e => !e.obsolete && e.id !== '').map(e => [ key(e), e ]));
		const problems = [];
		for (const p of pot) {
			const e = byKey.get(key(p));
			const name = JSON.stringify(p.ctx == null ? p.id : `${p.ctx}|${p.id}`);
			if (!e) { problems.push(`missing ${name}`); continue; }
			if (e.flags.includes('fuzzy')) problems.push(`fuzzy ${name}`);
			if ((p.plural == null) !== (e.plural == null) || (p.plural != null && p.plural !== e.plural))
				problems.push(`plural of ${name} differs from the template`);
			const forms = p.plural == null ? 1 : nplurals;
			for (let i = 0; i < forms; i++) {
				const s = e.str[i];
				if (!s) { problems.push(`untranslated ${name}${forms > 1 ? ` [${i}]` : ''}`); continue; }
				const src = (p.plural != null && (nplurals === 1 || i > 0)) ? p.plural : p.id;
				if (directives(s).join() !== directives(src).join())
					problems.push(`${name}${forms > 1 ? ` [${i}]` : ''}: directives ${directives(s)} for ${directives(src)}`);
			}
			if (e.str.length > forms) problems.push(`${name}: ${e.str.length} forms, Plural-Forms says ${forms}`);
		}
		const inPot = new Set(pot.map(key));
		for (const k of byKey.keys())
			if (!inPot.has(k)) problems.push(`not in the template (msgmerge removes it): ${JSON.stringify(k)}`);
		assert.deepEqual(problems, [], `${path.relative(APP_DIR, file)}:\n  ${problems.join('\n  ')}`);
	});
}
