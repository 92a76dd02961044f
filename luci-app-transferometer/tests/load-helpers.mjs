// Loads htdocs/.../transferometer/helpers.js, the file the router serves, unchanged, the way
// LuCI's L.require does: the source becomes the body of a function whose parameters are the
// required classes ('require baseclass' -> baseclass), and the class it returns is instantiated.
// The stub baseclass is just enough for `baseclass.extend({...})`; `_` is the identity, as in an
// untranslated LuCI, and `N_(n, one, many)` picks the English form and translates it.
// loadClassFile does the same for another class file (load-quota.mjs).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const RESOURCES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..',
	'htdocs', 'luci-static', 'resources');
export const HELPERS_PATH = path.join(RESOURCES, 'transferometer', 'helpers.js');

const baseclass = {
	extend(props) {
		const C = function() {};
		C.prototype = Object.assign(Object.create(null), props);
		return C;
	}
};

// An instance of the class the file returns; requires: the classes it 'require's, by parameter
// name (baseclass, _ and N_ are given).
export function loadClassFile(file, { translate = (s) => s, requires = {} } = {}) {
	const source = readFileSync(file, 'utf8');
	const names = Object.keys(requires);
	// eslint-disable-next-line no-new-func
	const factory = new Function('window', 'document', 'L', 'baseclass', '_', 'N_', ...names, source);
	const C = factory(undefined, undefined, {}, baseclass, translate,
		(n, one, many) => translate(n == 1 ? one : many), ...names.map(n => requires[n]));
	if (typeof C !== 'function')
		throw new Error(`${path.basename(file)} did not return a class`);
	return new C();
}

export function loadHelpers({ translate = (s) => s } = {}) {
	return loadClassFile(HELPERS_PATH, { translate });
}
