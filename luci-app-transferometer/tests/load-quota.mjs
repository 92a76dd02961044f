// Loads htdocs/.../transferometer/quota.js, the file the router serves, unchanged, the way LuCI's
// L.require does (load-helpers.mjs's loadClassFile). rpc is a stub recording what the file
// declares (instance.declared); ui and dom are empty (the pure functions touch neither); `_` is
// the identity unless translate is given.
import path from 'node:path';
import { RESOURCES, loadClassFile } from './load-helpers.mjs';

export function loadQuota({ translate = (s) => s } = {}) {
	const declared = [];
	const rpc = { declare: (o) => { declared.push(o); return () => Promise.resolve({}); } };
	const q = loadClassFile(path.join(RESOURCES, 'transferometer', 'quota.js'), { translate, requires: { rpc, ui: {}, dom: {} } });
	q.declared = declared;
	return q;
}
