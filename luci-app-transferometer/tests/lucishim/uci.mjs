// A small UCI file reader/writer for the test shim's `uci` ubus object (get/set/delete/commit),
// so that config.js (form.Map) can load and save /etc/config/transferometer from the test's
// config directory the way rpcd's uci object does on a router.
//
// Reads: `config TYPE ['NAME']`, `option KEY VALUE`, `list KEY VALUE`, # comments, single or
// double quotes or bare words, backslash escapes outside single quotes, and `'\''` (adjacent
// quoted pieces are one word, as in uci). Writes the way `uci commit` does: comments dropped,
// every value single-quoted, a blank line before each section.

import { applySectionChange } from './uci-sections.mjs';

export function tokenize(line) {
	const words = [];
	let i = 0;

	while (i < line.length) {
		while (i < line.length && /\s/.test(line[i])) i++;
		if (i >= line.length || line[i] === '#') break;

		let word = '';
		while (i < line.length && !/\s/.test(line[i])) {
			const c = line[i];
			if (c === "'") {
				const end = line.indexOf("'", i + 1);
				if (end < 0) throw new Error('unterminated quote');
				word += line.slice(i + 1, end);
				i = end + 1;
			}
			else if (c === '"') {
				i++;
				while (i < line.length && line[i] !== '"') {
					if (line[i] === '\\' && i + 1 < line.length) i++;
					word += line[i++];
				}
				if (i >= line.length) throw new Error('unterminated quote');
				i++;
			}
			else if (c === '\\' && i + 1 < line.length) {
				word += line[i + 1];
				i += 2;
			}
			else {
				word += c;
				i++;
			}
		}
		words.push(word);
	}

	return words;
}

// -> [{ type, name, anonymous, options: Map(key -> string | string[]) }]
export function parse(text) {
	const sections = [];
	let cur = null, anon = 0;

	String(text).split(/\r?\n/).forEach((line, n) => {
		let w;
		try { w = tokenize(line); }
		catch (e) { throw new Error(`line ${n + 1}: ${e.message}`); }
		if (!w.length) return;

		switch (w[0]) {
		case 'package':
			break;
		case 'config':
			if (w.length < 2) throw new Error(`line ${n + 1}: config without type`);
			cur = {
				type: w[1],
				name: w[2] || `cfg${(anon++).toString(16).padStart(2, '0')}`,
				anonymous: !w[2],
				options: new Map()
			};
			sections.push(cur);
			break;
		case 'option':
			if (!cur || w.length < 3) throw new Error(`line ${n + 1}: bad option`);
			cur.options.set(w[1], w[2]);
			break;
		case 'list': {
			if (!cur || w.length < 3) throw new Error(`line ${n + 1}: bad list`);
			const old = cur.options.get(w[1]);
			cur.options.set(w[1], Array.isArray(old) ? old.concat(w[2]) : [ w[2] ]);
			break;
		}
		default:
			throw new Error(`line ${n + 1}: unknown keyword ${w[0]}`);
		}
	});

	return sections;
}

const quote = (v) => `'${String(v).replace(/'/g, "'\\''")}'`;

export function serialize(sections) {
	let out = '';
	for (const s of sections) {
		out += `\nconfig ${s.type}${s.anonymous ? '' : ' ' + quote(s.name)}\n`;
		for (const [ k, v ] of s.options) {
			if (Array.isArray(v))
				for (const item of v) out += `\tlist ${k} ${quote(item)}\n`;
			else
				out += `\toption ${k} ${quote(v)}\n`;
		}
	}
	return out;
}

// The `values` object of `ubus call uci get {"config": ...}`.
export function toUbusValues(sections) {
	const values = {};
	sections.forEach((s, index) => {
		const v = { '.anonymous': s.anonymous, '.type': s.type, '.name': s.name, '.index': index };
		for (const [ k, val ] of s.options) v[k] = Array.isArray(val) ? val.slice() : val;
		values[s.name] = v;
	});
	return values;
}

// Staged changes, applied in order: ['set', section, key, value] / ['unset', section, key]
// (and a whole section's add / remove: uci-sections.mjs).
export function applyChanges(sections, changes) {
	const copy = sections.map(s => ({ ...s, options: new Map(s.options) }));
	for (const [ op, sid, key, value ] of changes) {
		if (applySectionChange(copy, [ op, sid, key, value ])) continue;
		const s = copy.find(x => x.name === sid);
		if (!s) continue;
		if (op === 'set') s.options.set(key, Array.isArray(value) ? value.map(String) : String(value));
		else if (op === 'unset') s.options.delete(key);
	}
	return copy;
}
