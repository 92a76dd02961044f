// LuCI test shim, translations: the page in the session's language, from the .lmo catalogues the
// luci-i18n-transferometer-* packages install, served as LuCI serves them.
//
// On a router: luci-base's dispatcher picks the language (uci luci.main.lang, 'auto': the first
// language of the browser's Accept-Language that LuCI has, from the luci.languages list the
// luci-i18n packages' uci-defaults fill), loads every /usr/lib/lua/luci/i18n/*.LANG.lmo, renders
// the page with <html lang="LANG"> and, before luci.js, a <script> from
// /cgi-bin/luci/admin/translations/LANG, which answers `window.TR={"%08x":"…",…};`: each
// catalogue entry under the hex of its key (the SuperFastHash of msgid, of context \x01 msgid, of
// msgid \x02 form; "00000000" the Plural-Forms expression). The client's _() and N_() look strings
// up there by that hash (luci.js of the shim does it as cbi.js does). Menu titles are translated
// by the dispatcher.
//
// withI18n(handler, { dirs }) wraps the shim's request handler (server.mjs createShim().handler)
// with exactly that: the catalogues are read and decoded from the .lmo files in `dirs`, nothing
// else is needed from LuCI. Without a catalogue for the browser's languages the page stays
// English, as on a router.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/* SuperFastHash as LuCI computes keys (sfh_hash(data, len, len), tail bytes sign-extended) */
export function sfh(input) {
	const b = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
	const n = b.length;
	if (n === 0) return 0;
	let h = n >>> 0, i = 0;
	const get16 = (o) => b[o] | (b[o + 1] << 8);
	const s8 = (o) => (b[o] << 24) >> 24;
	for (let k = n >>> 2; k > 0; k--, i += 4) {
		h = (h + get16(i)) >>> 0;
		const tmp = ((get16(i + 2) << 11) ^ h) >>> 0;
		h = ((h << 16) ^ tmp) >>> 0;
		h = (h + (h >>> 11)) >>> 0;
	}
	switch (n & 3) {
	case 3:
		h = (h + get16(i)) >>> 0;
		h = (h ^ (h << 16)) >>> 0;
		h = (h ^ (s8(i + 2) << 18)) >>> 0;
		h = (h + (h >>> 11)) >>> 0;
		break;
	case 2:
		h = (h + get16(i)) >>> 0;
		h = (h ^ (h << 11)) >>> 0;
		h = (h + (h >>> 17)) >>> 0;
		break;
	case 1:
		h = (h + s8(i)) >>> 0;
		h = (h ^ (h << 10)) >>> 0;
		h = (h + (h >>> 1)) >>> 0;
		break;
	}
	h = (h ^ (h << 3)) >>> 0;
	h = (h + (h >>> 5)) >>> 0;
	h = (h ^ (h << 4)) >>> 0;
	h = (h + (h >>> 17)) >>> 0;
	h = (h ^ (h << 25)) >>> 0;
	h = (h + (h >>> 6)) >>> 0;
	return h;
}

export const hex8 = (k) => (0x100000000 + k).toString(16).slice(1);

/* What LuCI's _() hashes: whitespace trimmed and runs of it made one space. */
export const trimws = (s) => String(s).trim().replace(/[ \t\n]+/g, ' ');

/* A .lmo file as lmo.c reads it: [[key, value], …] in index order. */
export function decodeLmo(buf, name = 'lmo') {
	if (buf.length < 4) throw new Error(`${name}: too short`);
	const idx = buf.readUInt32BE(buf.length - 4);
	if (idx >= buf.length || (buf.length - 4 - idx) % 16) throw new Error(`${name}: bad index offset ${idx}`);
	const out = [];
	for (let p = idx; p < buf.length - 4; p += 16) {
		const key = buf.readUInt32BE(p), off = buf.readUInt32BE(p + 8), len = buf.readUInt32BE(p + 12);
		if (off + len > idx) throw new Error(`${name}: entry ${hex8(key)} outside the data`);
		out.push([ key, buf.toString('utf8', off, off + len) ]);
	}
	return out;
}

/* The body of admin/translations/LANG, as luci-base's action_translations writes it. */
export function translationsJs(entries) {
	return 'window.TR={' + entries.map(([ k, v ]) => `"${hex8(k)}":${JSON.stringify(v)},`).join('') + '};';
}

/* Every *.LANG.lmo of the directories: Map LANG -> entries (the archives in turn, as lmo.c). */
export function loadCatalogues(dirs) {
	const cats = new Map();
	for (const dir of dirs) {
		for (const f of readdirSync(dir).sort()) {
			const m = /^[^.]+\.([A-Za-z0-9_-]+)\.lmo$/.exec(f);
			if (!m) continue;
			const lang = m[1];
			if (!cats.has(lang)) cats.set(lang, []);
			cats.get(lang).push(...decodeLmo(readFileSync(path.join(dir, f)), f));
		}
	}
	return cats;
}

/* LuCI's 'auto' language: the first of Accept-Language that has a catalogue, else its base. */
export function pickLanguage(acceptLanguage, available) {
	for (const part of String(acceptLanguage || '').split(',')) {
		const tag = part.replace(/;.*$/, '').trim().toLowerCase().replace(/_/g, '-');
		if (!tag) continue;
		if (available.has(tag)) return tag;
		const base = tag.replace(/-.*$/, '');
		if (available.has(base)) return base;
	}
	return null;
}

const htmlEsc = (s) => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
const htmlUnesc = (s) => String(s).replace(/&#(\d+);/g, (m, d) => String.fromCharCode(+d))
	.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"');

export function withI18n(handler, { dirs, log = () => {} } = {}) {
	const cats = loadCatalogues(dirs);
	const tables = new Map([ ...cats ].map(([ lang, es ]) => [ lang, new Map(es.map(([ k, v ]) => [ k, v ])) ]));
	const tr = (lang, s) => tables.get(lang).get(sfh(trimws(s))) ?? s;

	/* the dispatcher's part of a page: the language, the catalogue's script, menu titles */
	const localise = (html, lang) => html
		.replace(/<html lang="[^"]*"/, `<html lang="${lang}"`)
		.replace(/<body class="lang_[^" ]*/, `<body class="lang_${lang}`)
		.replace(/<script src="\/luci-static\/resources\/luci\.js"><\/script>/,
			`<script src="/cgi-bin/luci/admin/translations/${lang}"></script>\n$&`)
		.replace(/(<li class="cbi-tab[^"]*"[^>]*><a href="[^"]*">)([^<]*)(<\/a>)/g,
			(m, a, title, b) => a + htmlEsc(tr(lang, htmlUnesc(title))) + b)
		.replace(/(<span class="crumbs">)([^<]*)(<\/span>)/, (m, a, crumbs, b) =>
			a + crumbs.split(' &rsaquo; ').map(c => htmlEsc(tr(lang, htmlUnesc(c)))).join(' &rsaquo; ') + b)
		.replace(/(<title>)([^<]*?)( - LuCI)/, (m, a, title, b) => a + htmlEsc(tr(lang, htmlUnesc(title))) + b);

	return async function i18nHandler(req, res) {
		const url = new URL(req.url, 'http://localhost');
		const m = /^\/cgi-bin\/luci\/admin\/translations\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
		if (m) {
			res.writeHead(200, { 'Content-Type': 'application/javascript; charset=UTF-8', 'Cache-Control': 'no-cache' });
			res.end(translationsJs(cats.get(m[1].toLowerCase()) || []));
			return;
		}
		const lang = pickLanguage(req.headers['accept-language'], cats);
		if (!lang) return handler(req, res);
		const writeHead = res.writeHead.bind(res), end = res.end.bind(res);
		let head = null;
		res.writeHead = (...args) => { head = args; return res; };
		res.end = (body, ...rest) => {
			if (head) {
				const hdrs = head.find(x => x && typeof x === 'object') || {};
				const ct = Object.entries(hdrs).find(([ k ]) => k.toLowerCase() === 'content-type');
				if (ct && /^text\/html/.test(ct[1]) && body != null) {
					body = localise(String(body), lang);
					log(`page ${url.pathname} in ${lang}`);
				}
				writeHead(...head);
			}
			return end(body, ...rest);
		};
		return handler(req, res);
	};
}
