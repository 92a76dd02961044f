// Loads htdocs/.../transferometer/quota.js, the file the router serves, unchanged, the way LuCI's
// L.require does (as load-helpers.mjs loads helpers.js): the source is the body of a function of
// its required classes. rpc is a stub recording what the file declares (instance.declared); ui and
// dom are empty (the pure functions touch neither); `_` is the identity unless translate is given.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const QUOTA_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..',
	'htdocs', 'luci-static', 'resources', 'transferometer', 'quota.js');

export function loadQuota({ translate = (s) => s } = {}) {
	const source = readFileSync(QUOTA_PATH, 'utf8');
	const baseclass = {
		extend(props) {
			const C = function() {};
			C.prototype = Object.assign(Object.create(null), props);
			return C;
		}
	};
	const declared = [];
	const rpc = { declare: (o) => { declared.push(o); return () => Promise.resolve({}); } };
	// eslint-disable-next-line no-new-func
	const factory = new Function('window', 'document', 'L', 'baseclass', 'rpc', 'ui', 'dom', '_', source);
	const C = factory(undefined, undefined, {}, baseclass, rpc, {}, {}, translate);
	const q = new C();
	q.declared = declared;
	return q;
}

