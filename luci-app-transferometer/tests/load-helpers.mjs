// Loads htdocs/.../transferometer/helpers.js, the file the router serves, unchanged, the way
// LuCI's L.require does: the source becomes the body of a function whose parameters are the
// required classes ('require baseclass' -> baseclass), and the class it returns is instantiated.
// The stub baseclass is just enough for `baseclass.extend({...})`; `_` is the identity, as in an
// untranslated LuCI, and `N_(n, one, many)` picks the English form and translates it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const HELPERS_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..',
	'htdocs', 'luci-static', 'resources', 'transferometer', 'helpers.js');

export function loadHelpers({ translate = (s) => s } = {}) {
	const source = readFileSync(HELPERS_PATH, 'utf8');
	const baseclass = {
		extend(props) {
			const C = function() {};
			C.prototype = Object.assign(Object.create(null), props);
			return C;
		}
	};
	// eslint-disable-next-line no-new-func
	const factory = new Function('window', 'document', 'L', 'baseclass', '_', 'N_', source);
	const C = factory(undefined, undefined, {}, baseclass, translate, (n, one, many) => translate(n == 1 ? one : many));
	if (typeof C !== 'function')
		throw new Error('helpers.js did not return a class');
	return new C();
}
