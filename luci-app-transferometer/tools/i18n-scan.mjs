#!/usr/bin/env node
/*
 * i18n-scan.mjs: the translation template of luci-app-transferometer, as LuCI's own scanner
 * (openwrt/luci build/i18n-scan.pl) would write it, without perl or gettext.
 *
 *   node tools/i18n-scan.mjs            print the template
 *   node tools/i18n-scan.mjs -w         write po/templates/transferometer.pot
 *
 * What LuCI's scanner does, and so this one:
 *  - files: *.js, and the *.json under menu.d/ and acl.d/ (their "title" and "description"
 *    values are taken as if written _("...")), of what the package installs: htdocs/ and root/
 *    (tests/ and node_modules/ beside them are not scanned; LuCI's apps have none);
 *  - calls: xgettext's JavaScript keywords _:1, _:1,2c, N_:2,3, N_:2,3,4c: a string literal (or
 *    '…' + '…' concatenation; a template literal without ${}) as the argument, a second string
 *    argument of _() or a fourth of N_() as the context; a call with no literal there is skipped;
 *  - each msgid, plural and context with \n and \t turned into spaces, runs of spaces made one and
 *    the ends trimmed (what LuCI's _() does at run time before it hashes); an empty one is dropped;
 *  - one entry per context and msgid, with every place it occurs ("#: path:line", the line of its
 *    first string literal, sorted by path and line), entries sorted by msgid then context (msguniq
 *    -s), strings wrapped at 79 columns where gettext wraps them, after the header
 *    msgid "" / msgstr "Content-Type: text/plain; charset=UTF-8".
 * Paths are relative to the repository root (luci-app-transferometer/htdocs/...), as LuCI's are
 * to its tree.
 */
import { readFileSync, readdirSync, statSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DOMAIN = 'transferometer';
export const POT = path.join(APP_DIR, 'po', 'templates', DOMAIN + '.pot');

/* xgettext's keywords for .js in i18n-scan.pl: argument numbers of msgid, plural, context. */
const KEYWORDS = {
	_: [ { id: 1, ctx: 2 }, { id: 1 } ],
	N_: [ { id: 2, plural: 3, ctx: 4 }, { id: 2, plural: 3 } ]
};

/* ------------------------------------------------------------------ tokenizer */

const isIdStart = c => /[A-Za-z_$\u0080-\uffff]/.test(c);
const isIdPart = c => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
/* After these a '/' starts a regular expression, as xgettext decides it. */
const REGEX_AFTER_WORDS = new Set([ 'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await' ]);

function readEscape(src, i) {
	/* src[i] is the character after the backslash; returns [text, next index] */
	const c = src[i];
	switch (c) {
	case 'n': return [ '\n', i + 1 ];
	case 't': return [ '\t', i + 1 ];
	case 'r': return [ '\r', i + 1 ];
	case 'b': return [ '\b', i + 1 ];
	case 'f': return [ '\f', i + 1 ];
	case 'v': return [ '\v', i + 1 ];
	case '0': if (!/[0-9]/.test(src[i + 1] || '')) return [ '\0', i + 1 ]; break;
	case '\r': return [ '', src[i + 1] === '\n' ? i + 2 : i + 1 ];
	case '\n': case '\u2028': case '\u2029': return [ '', i + 1 ];
	case 'x': {
		const h = src.slice(i + 1, i + 3);
		if (/^[0-9a-fA-F]{2}$/.test(h)) return [ String.fromCharCode(parseInt(h, 16)), i + 3 ];
		break;
	}
	case 'u': {
		if (src[i + 1] === '{') {
			const end = src.indexOf('}', i + 2);
			const h = src.slice(i + 2, end);
			if (end > 0 && /^[0-9a-fA-F]+$/.test(h)) return [ String.fromCodePoint(parseInt(h, 16)), end + 1 ];
		}
		const h = src.slice(i + 1, i + 5);
		if (/^[0-9a-fA-F]{4}$/.test(h)) return [ String.fromCharCode(parseInt(h, 16)), i + 5 ];
		break;
	}
	}
	return [ c, i + 1 ];
}

/* Tokens: { t: 'str'|'id'|'('|')'|'['|']'|'{'|'}'|','|'+'|'tmpl'|'other', v, line } */
export function tokenize(src) {
	const toks = [];
	let i = 0, line = 1;
	/* template literals with ${}: the stack of brace depths where a substitution ends */
	const tmplStack = [];
	let braceDepth = 0;
	const prevSignificant = () => toks.length ? toks[toks.length - 1] : null;
	const regexAllowed = () => {
		const p = prevSignificant();
		if (!p) return true;
		if (p.t === 'id') return REGEX_AFTER_WORDS.has(p.v);
		return !(p.t === 'str' || p.t === 'tmpl' || p.t === 'num' || p.t === ')' || p.t === ']' || p.t === '}' || p.t === 're');
	};

	/* reads a template literal's chunk from i (after ` or }) to ` or ${ */
	const readTemplate = () => {
		let s = '';
		while (i < src.length) {
			const c = src[i];
			if (c === '`') { i++; return [ s, true ]; }
			if (c === '$' && src[i + 1] === '{') { i += 2; return [ s, false ]; }
			if (c === '\\') {
				if (src[i + 1] === '\n') line++;
				const [ t, n ] = readEscape(src, i + 1);
				s += t; i = n; continue;
			}
			if (c === '\n') line++;
			s += c; i++;
		}
		return [ s, true ];
	};

	while (i < src.length) {
		const c = src[i];
		if (c === '\n') { line++; i++; continue; }
		if (/\s/.test(c)) { i++; continue; }
		if (c === '/' && src[i + 1] === '/') {
			while (i < src.length && src[i] !== '\n') i++;
			continue;
		}
		if (c === '/' && src[i + 1] === '*') {
			const end = src.indexOf('*/', i + 2);
			const stop = end < 0 ? src.length : end + 2;
			for (let j = i; j < stop; j++) if (src[j] === '\n') line++;
			i = stop;
			continue;
		}
		if (c === '"' || c === "'") {
			const start = line;
			let s = '';
			i++;
			while (i < src.length && src[i] !== c) {
				if (src[i] === '\\') {
					if (src[i + 1] === '\n') line++;
					const [ t, n ] = readEscape(src, i + 1);
					s += t; i = n; continue;
				}
				if (src[i] === '\n') { line++; break; } /* unterminated */
				s += src[i++];
			}
			i++;
			toks.push({ t: 'str', v: s, line: start });
			continue;
		}
		if (c === '`') {
			const start = line;
			i++;
			const [ s, closed ] = readTemplate();
			if (closed) toks.push({ t: 'str', v: s, line: start });
			else {
				toks.push({ t: 'tmpl', line: start });
				tmplStack.push(braceDepth);
				toks.push({ t: '(', line, synthetic: true });
			}
			continue;
		}
		if (c === '}' && tmplStack.length && tmplStack[tmplStack.length - 1] === braceDepth) {
			/* end of a ${} substitution: the template goes on */
			i++;
			tmplStack.pop();
			toks.push({ t: ')', line, synthetic: true });
			const [ , closed ] = readTemplate();
			if (!closed) {
				tmplStack.push(braceDepth);
				toks.push({ t: '(', line, synthetic: true });
			}
			else
				toks.push({ t: 'tmpl', line });
			continue;
		}
		if (c === '/' && regexAllowed()) {
			let inClass = false;
			i++;
			while (i < src.length && src[i] !== '\n') {
				if (src[i] === '\\') { i += 2; continue; }
				if (src[i] === '[') inClass = true;
				else if (src[i] === ']') inClass = false;
				else if (src[i] === '/' && !inClass) break;
				i++;
			}
			i++;
			while (i < src.length && isIdPart(src[i])) i++;
			toks.push({ t: 're', line });
			continue;
		}
		if (isIdStart(c)) {
			let j = i + 1;
			while (j < src.length && isIdPart(src[j])) j++;
			toks.push({ t: 'id', v: src.slice(i, j), line });
			i = j;
			continue;
		}
		if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] || ''))) {
			let j = i + 1;
			while (j < src.length && /[0-9A-Za-z_.]/.test(src[j])) j++;
			toks.push({ t: 'num', line });
			i = j;
			continue;
		}
		if (c === '{') braceDepth++;
		if (c === '}') braceDepth--;
		if ('()[]{},+'.includes(c)) {
			/* '++' is not a concatenation */
			if (c === '+' && src[i + 1] === '+') { toks.push({ t: 'other', line }); i += 2; continue; }
			if (c === '+' && src[i + 1] === '=') { toks.push({ t: 'other', line }); i += 2; continue; }
			toks.push({ t: c, line });
			i++;
			continue;
		}
		toks.push({ t: 'other', v: c, line });
		i++;
	}
	return toks;
}

/* xgettext joins "a" + "b" + ... into one string token (at the first one's line). */
function concatStrings(toks) {
	const out = [];
	for (let i = 0; i < toks.length; i++) {
		const t = toks[i];
		if (t.t !== 'str') { out.push(t); continue; }
		let s = t.v;
		while (toks[i + 1] && toks[i + 1].t === '+' && toks[i + 2] && toks[i + 2].t === 'str') {
			s += toks[i + 2].v;
			i += 2;
		}
		out.push({ t: 'str', v: s, line: t.line });
	}
	return out;
}

/* ------------------------------------------------------------------ extraction */

/* The messages of one JavaScript source: [{ id, plural, ctx, line }] (raw strings). */
export function extractJs(src) {
	const toks = concatStrings(tokenize(src));
	const found = [];
	const closers = { '(': ')', '[': ']', '{': '}' };

	/* Walks tokens from i inside a bracket opened with `open`; `call` collects the first
	 * string of each argument when this level is a keyword call's argument list. */
	function balanced(i, open, call) {
		let arg = 1;
		while (i < toks.length) {
			const t = toks[i];
			if (open && t.t === closers[open]) return i + 1;
			if (t.t === ')' || t.t === ']' || t.t === '}') { i++; continue; } /* unbalanced: ignore */
			if (t.t === ',' && call) { arg++; i++; continue; }
			if (t.t === 'str') {
				if (call && !call.args.has(arg)) call.args.set(arg, t);
				i++;
				continue;
			}
			if (t.t === 'id' && Object.hasOwn(KEYWORDS, t.v) && toks[i + 1] && toks[i + 1].t === '(') {
				const inner = { kw: t.v, args: new Map() };
				i = balanced(i + 2, '(', inner);
				finish(inner);
				continue;
			}
			if (t.t === '(' || t.t === '[' || t.t === '{') {
				i = balanced(i + 1, t.t, null);
				continue;
			}
			i++;
		}
		return i;
	}

	function finish(call) {
		for (const shape of KEYWORDS[call.kw]) {
			const need = [ shape.id, shape.plural, shape.ctx ].filter(n => n != null);
			if (!need.every(n => call.args.has(n))) continue;
			const id = call.args.get(shape.id);
			found.push({
				id: id.v,
				plural: shape.plural ? call.args.get(shape.plural).v : null,
				ctx: shape.ctx ? call.args.get(shape.ctx).v : null,
				line: id.line
			});
			return;
		}
	}

	balanced(0, null, null);
	return found;
}

/* i18n-scan.pl's preprocess_json: "title"/"description" values become _("...") calls. */
export function preprocessJson(src) {
	return src.replace(/("(?:title|description)")\s*:\s*("(?:[^"\\]|\\.)*")/gs, '$1: _($2)');
}

/* ------------------------------------------------------------------ PO strings */

/* A string as written between quotes in a PO file (gettext's escapes). */
export function poEscape(s) {
	const map = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"' };
	return s.replace(/[\x07\b\f\n\r\t\v\\"]/g, c => map[c]);
}

/* i18n-scan.pl's whitespace_collapse, on the escaped form. */
export function collapse(escaped) {
	return escaped.replace(/\\(.)/g, (m, c) => (c === 'n' || c === 't') ? ' ' : m)
		.replace(/ {2,}/g, ' ').replace(/^ /, '').replace(/ $/, '');
}

/* Unicode line-breaking classes (UAX #14) of the characters LuCI strings use; anything else
 * is taken as a letter (AL), East Asian wide characters as ideographs (ID). */
function lbClass(ch) {
	const c = ch.codePointAt(0);
	if (ch === ' ') return 'SP';
	if (ch === '\t' || ch === '|' || ch === '\u2013' || ch === '\u00ad') return 'BA';
	if (ch === '-') return 'HY';
	if (ch === '/') return 'SY';
	if (',.:;'.includes(ch)) return 'IS';
	if ('!?'.includes(ch)) return 'EX';
	if ('([{'.includes(ch)) return 'OP';
	if (ch === '}') return 'CL';
	if (')]'.includes(ch)) return 'CP';
	if ('"\'\u2018\u2019\u201c\u201d\u00ab\u00bb'.includes(ch)) return 'QU';
	if ('$+\\\u20ac\u00a3'.includes(ch)) return 'PR';
	if ('%\u00b0\u2030'.includes(ch)) return 'PO';
	if (ch >= '0' && ch <= '9') return 'NU';
	if (ch === '\u2026' || ch === '\u2025') return 'IN';
	if (ch === '\u2014') return 'B2';
	if (ch === '\u00a0' || ch === '\u202f') return 'GL';
	if ((c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x3040 && c <= 0x30ff)) return 'ID';
	if ('\u3001\u3002\uff0c\uff0e\uff1a\uff1b\uff01\uff1f\uff09\u300d\u300f\u3011'.includes(ch)) return 'CL';
	if ('\uff08\u300c\u300e\u3010'.includes(ch)) return 'OP';
	return 'AL';
}

/* May a line break before chars[i] (UAX #14's rules for these classes)? */
function breakBefore(cls, i) {
	const b = cls[i], a = cls[i - 1];
	if (b === 'SP') return false; /* LB7 */
	/* LB13: not before ] ) ! ? , . : ; / even after spaces */
	if (b === 'CL' || b === 'CP' || b === 'EX' || b === 'IS' || b === 'SY') return false;
	/* skip back over spaces for the rules with SP* */
	let j = i - 1;
	while (j >= 0 && cls[j] === 'SP') j--;
	const before = j >= 0 ? cls[j] : null;
	if (before === 'OP') return false; /* LB14 */
	if (before === 'QU' && b === 'OP') return false; /* LB15 */
	if ((before === 'CL' || before === 'CP') && b === 'NS') return false; /* LB16 */
	if (before === 'B2' && b === 'B2') return false; /* LB17 */
	if (a === 'SP') return true; /* LB18 */
	if (b === 'QU' || a === 'QU') return false; /* LB19 */
	if (b === 'GL' || a === 'GL') return false; /* LB12 */
	if (b === 'BA' || b === 'HY' || b === 'NS') return false; /* LB21 */
	if (b === 'IN') return false; /* LB22, as gnulib has it */
	if ((a === 'AL' && b === 'NU') || (a === 'NU' && b === 'AL')) return false; /* LB23 */
	if ((a === 'PR' || a === 'PO') && b === 'AL') return false; /* LB24 */
	if (a === 'AL' && (b === 'PR' || b === 'PO')) return false;
	/* LB25: numbers with their prefixes, postfixes and separators */
	if ((a === 'CL' || a === 'CP' || a === 'NU') && (b === 'PO' || b === 'PR')) return false;
	if ((a === 'PO' || a === 'PR') && (b === 'OP' || b === 'NU')) return false;
	if ((a === 'HY' || a === 'IS' || a === 'NU' || a === 'SY') && b === 'NU') return false;
	if ((a === 'AL' || a === 'NU') && b === 'OP') return false; /* LB30 */
	if (a === 'CP' && (b === 'AL' || b === 'NU')) return false;
	if (a === 'AL' && b === 'AL') return false; /* LB28 */
	if (a === 'ID' && b === 'PO') return false;
	if (a === 'PR' && b === 'ID') return false;
	return true; /* LB31 */
}

const charWidth = ch => lbClass(ch) === 'ID' || /[\u3000-\u303f\uff00-\uff60]/.test(ch) ? 2 : 1;

/*
 * One PO field as gettext writes it at its default width (79): `keyword "value"` when it fits,
 * else `keyword ""` and the value broken where line breaking allows, each line at most 79
 * columns with its quotes (gnulib's ulc_width_linebreaks; the backslash of an escape never
 * starts a line).
 */
export function poField(keyword, value) {
	const esc = poEscape(value);
	const chars = Array.from(esc);
	const width = 79 - 1 - 1;
	const cls = chars.map(lbClass);
	const possible = chars.map((ch, i) => i > 0 && breakBefore(cls, i));
	/* no break inside an escape (between the backslash and its character) */
	for (let i = 0; i < chars.length; i++)
		if (chars[i] === '\\') possible[++i] = false;
	const layout = (startcol) => {
		const breaks = new Set();
		let lastCol = startcol, piece = 0, lastBreak = -1;
		for (let i = 0; i < chars.length; i++) {
			if (possible[i]) {
				if (lastBreak >= 0 && lastCol + piece > width) { breaks.add(lastBreak); lastCol = 0; }
				lastBreak = i;
				lastCol += piece;
				piece = 0;
			}
			piece += charWidth(chars[i]);
		}
		if (lastBreak >= 0 && lastCol + piece > width) breaks.add(lastBreak);
		return breaks;
	};
	let breaks = layout(keyword.length + 1 + 1 - 1);
	if (breaks.size === 0)
		return [ `${keyword} "${esc}"` ];
	breaks = layout(0);
	const lines = [ `${keyword} ""` ];
	let cur = '';
	chars.forEach((ch, i) => {
		if (breaks.has(i)) { lines.push(`"${cur}"`); cur = ''; }
		cur += ch;
	});
	lines.push(`"${cur}"`);
	return lines;
}

/* ------------------------------------------------------------------ the template */

function walk(dir, out) {
	let names;
	try { names = readdirSync(dir); } catch { return out; }
	for (const n of names.sort()) {
		const p = path.join(dir, n);
		if (statSync(p).isDirectory()) walk(p, out);
		else out.push(p);
	}
	return out;
}

/* The files i18n-scan.pl reads, of those the package installs. */
export function sourceFiles(appDir = APP_DIR) {
	return [ 'htdocs', 'root' ].flatMap(d => walk(path.join(appDir, d), []))
		.filter(f => /\.(js|htm|lua)$/.test(f) || /\/(menu|acl)\.d\/[^/]+\.json$/.test(f));
}

/* Every message of the app: Map key (ctx \x04 id) -> { id, plural, ctx, refs: [[path, line]] } */
export function scanApp(appDir = APP_DIR) {
	const repoRoot = path.dirname(appDir);
	const msgs = new Map();
	for (const file of sourceFiles(appDir)) {
		if (/\.(htm|lua)$/.test(file))
			throw new Error(`${file}: .htm and .lua templates are not scanned here (this app has none)`);
		let src = readFileSync(file, 'utf8');
		if (file.endsWith('.json')) src = preprocessJson(src);
		const rel = path.relative(repoRoot, file).split(path.sep).join('/');
		for (const m of extractJs(src)) {
			const id = collapse(poEscape(m.id));
			if (id === '') continue;
			const ctx = m.ctx == null ? null : collapse(poEscape(m.ctx));
			const plural = m.plural == null ? null : collapse(poEscape(m.plural));
			const key = (ctx ?? '\x00') + '\x04' + id;
			let e = msgs.get(key);
			if (!e) msgs.set(key, e = { id, ctx, plural, refs: [] });
			else if (e.plural == null && plural != null) e.plural = plural;
			if (!e.refs.some(([ p, l ]) => p === rel && l === m.line)) e.refs.push([ rel, m.line ]);
		}
	}
	return msgs;
}

const unesc = s => s.replace(/\\(.)/g, (m, c) => ({ a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' })[c] ?? c);

/* byte order of UTF-8 strings, as strcmp */
const cmpBytes = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export function renderPot(msgs) {
	const entries = [ ...msgs.values() ].sort((a, b) =>
		cmpBytes(a.id, b.id) || (a.ctx === b.ctx ? 0 : a.ctx == null ? -1 : b.ctx == null ? 1 : cmpBytes(a.ctx, b.ctx)));
	const out = [ 'msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8"' ];
	for (const e of entries) {
		out.push('');
		const refs = [ ...e.refs ].sort((a, b) => cmpBytes(a[0], b[0]) || a[1] - b[1]);
		for (const [ p, l ] of refs) out.push(`#: ${p}:${l}`);
		if (e.ctx != null) out.push(...poField('msgctxt', unesc(e.ctx)));
		out.push(...poField('msgid', unesc(e.id)));
		if (e.plural != null) {
			out.push(...poField('msgid_plural', unesc(e.plural)));
			out.push('msgstr[0] ""', 'msgstr[1] ""');
		}
		else
			out.push('msgstr ""');
	}
	return out.join('\n') + '\n';
}

export function buildPot(appDir = APP_DIR) {
	return renderPot(scanApp(appDir));
}

/* ------------------------------------------------------------------ reading .po files */

const unquote = (q, where) => {
	if (!/^"(?:[^"\\]|\\.)*"$/.test(q)) throw new Error(`${where}: not a quoted string: ${q}`);
	return q.slice(1, -1).replace(/\\(.)/g, (m, c) => ({ a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' })[c] ?? m);
};

/*
 * A .po file as gettext reads it: [{ ctx, id, plural, str: [..], flags: [..], obsolete }],
 * strings unescaped, the header (msgid "") included.
 */
export function parsePo(text, name = 'po') {
	const entries = [];
	let e = null, field = null;
	/* an entry ends with its msgstr: a comment, msgctxt or msgid after one starts the next */
	const entry = () => {
		if (!e || e.str.length) {
			e = { ctx: null, id: null, plural: null, str: [], flags: [], obsolete: false };
			entries.push(e);
		}
		return e;
	};
	text.split('\n').forEach((raw, n) => {
		const where = `${name}:${n + 1}`;
		let line = raw.trimEnd(), m;
		const obsolete = line.startsWith('#~');
		if (obsolete) line = line.replace(/^#~\s?/, '');
		if (line === '') { field = null; return; }
		if (line.startsWith('#')) {
			field = null;
			if (line.startsWith('#,')) entry().flags.push(...line.slice(2).split(',').map(f => f.trim()).filter(Boolean));
			else entry();
			return;
		}
		if ((m = /^msgctxt\s+(".*")$/.exec(line))) { entry().ctx = unquote(m[1], where); field = 'ctx'; }
		else if ((m = /^msgid\s+(".*")$/.exec(line))) { entry().id = unquote(m[1], where); field = 'id'; }
		else if ((m = /^msgid_plural\s+(".*")$/.exec(line)) && e) { e.plural = unquote(m[1], where); field = 'plural'; }
		else if ((m = /^msgstr(?:\[(\d+)\])?\s+(".*")$/.exec(line)) && e && e.id != null) { field = +(m[1] || 0); e.str[field] = unquote(m[2], where); }
		else if (line.startsWith('"') && e && field != null) {
			const v = unquote(line, where);
			if (typeof field === 'number') e.str[field] += v; else e[field] += v;
		}
		else throw new Error(`${where}: cannot read: ${raw}`);
		if (obsolete) e.obsolete = true;
	});
	return entries.filter(x => x.id != null);
}

/* The header's fields of a parsed .po: { 'Plural-Forms': '...', ... } */
export function poHeader(entries) {
	const h = entries.find(x => x.id === '' && x.ctx == null && !x.obsolete);
	const out = {};
	for (const l of (h ? h.str[0] : '').split('\n')) {
		const i = l.indexOf(':');
		if (i > 0) out[l.slice(0, i)] = l.slice(i + 1).trim();
	}
	return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const pot = buildPot();
	if (process.argv.includes('-w')) {
		writeFileSync(POT + '.tmp', pot);
		renameSync(POT + '.tmp', POT);
		console.log(`${path.relative(process.cwd(), POT)}: ${pot.split('\nmsgid ').length - 2} messages`);
	}
	else
		process.stdout.write(pot);
}
