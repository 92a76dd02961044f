// Static checks of the package as it ships: the class files load under LuCI's pragma rules and
// require only LuCI's public modules, the ubus calls the view declares are the contract's and are
// granted by the ACL (viewing and changing settings in separate groups, enforced by the shim as rpcd
// and LuCI would), the menu points at files that exist, and the Makefile is a luci.mk package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, SESSION_ID } from './lucishim/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RES = path.join(ROOT, 'htdocs', 'luci-static', 'resources');
const read = (...p) => readFileSync(path.join(ROOT, ...p), 'utf8');

// The pragma scan of luci.js's require(): leading quoted strings, stopping at the first one that is
// neither 'use strict' nor 'require NAME [as ALIAS]' (quotes inside comments count too).
function pragmas(source) {
	const out = [];
	const requirematch = /^require[ \t]+(\S+)(?:[ \t]+as[ \t]+([a-zA-Z_]\S*))?$/;
	for (let i = 0, off = -1, quote = -1, esc = false; i < source.length; i++) {
		const chr = source.charCodeAt(i);
		if (esc) esc = false;
		else if (chr === 92) esc = true;
		else if (chr === quote) {
			const s = source.substring(off, i), m = requirematch.exec(s);
			if (m) out.push({ name: m[1], as: m[2] || m[1].replace(/[^a-zA-Z0-9_]/g, '_') });
			else if (!/^use[ \t]+strict$/.test(s)) break;
			off = quote = -1;
		}
		else if (quote === -1 && (chr === 34 || chr === 39)) { off = i + 1; quote = chr; }
	}
	return out;
}

const PUBLIC = new Set([ 'baseclass', 'view', 'rpc', 'poll', 'ui', 'dom', 'form', 'uci', 'request', 'fs', 'network', 'validation' ]);
const FILES = {
	'view/transferometer/usage.js': [ 'view', 'rpc', 'poll', 'ui', 'dom', 'transferometer.helpers', 'transferometer.quota' ],
	'view/transferometer/config.js': [ 'view', 'form', 'transferometer.helpers' ],
	'view/transferometer/quotas.js': [ 'view', 'form', 'rpc', 'ui', 'transferometer.quota' ],
	'transferometer/helpers.js': [ 'baseclass' ],
	'transferometer/quota.js': [ 'baseclass', 'rpc', 'ui', 'dom' ]
};

test('class files: pragmas as LuCI reads them, public modules only, valid function bodies', () => {
	for (const [ rel, want ] of Object.entries(FILES)) {
		const src = readFileSync(path.join(RES, rel), 'utf8');
		const deps = pragmas(src);
		assert.deepEqual(deps.map(d => d.name), want, rel);
		for (const d of deps)
			assert.ok(PUBLIC.has(d.name) || d.name.startsWith('transferometer.'), `${rel} requires ${d.name}`);
		assert.doesNotThrow(() => new Function('window', 'document', 'L', ...deps.map(d => d.as), src), rel);
		assert.match(src, /^'use strict';\n/, `${rel} starts with 'use strict'`);
	}
	const found = [];
	const walk = (dir) => readdirSync(dir, { withFileTypes: true }).forEach(e =>
		e.isDirectory() ? walk(path.join(dir, e.name)) : found.push(path.relative(RES, path.join(dir, e.name))));
	walk(RES);
	assert.deepEqual(found.sort(), Object.keys(FILES).sort(), 'every shipped class file is checked');
});

// Evaluate usage.js with recording stubs: what it declares is what the router will be asked.
function declaredCalls() {
	const src = read('htdocs', 'luci-static', 'resources', 'view', 'transferometer', 'usage.js');
	const decls = [];
	const stub = new Proxy({}, { get: () => () => {} });
	const rpc = { declare: (o) => { decls.push(o); return () => Promise.resolve({}); } };
	const view = { extend: (o) => o };
	const L = { isObject: (v) => v != null && typeof v === 'object', bind: (f, s) => f.bind(s) };
	String.prototype.format = String.prototype.format || function() { return String(this); };
	const _ = (s) => s;
	const proto = new Function('window', 'document', 'L', 'view', 'rpc', 'poll', 'ui', 'dom', 'helpers', '_', 'E', src)(
		{}, {}, L, view, rpc, stub, stub, stub, stub, _, () => ({}));
	return { decls, proto };
}

test('usage.js: rpc.declare for transferometer usage/hosts/reset, whole replies, no save footer', () => {
	const { decls, proto } = declaredCalls();
	const byMethod = Object.fromEntries(decls.filter(d => d.object === 'transferometer').map(d => [ d.method, d ]));
	assert.deepEqual(Object.keys(byMethod).sort(), [ 'backup', 'history', 'hosts', 'reset', 'restore', 'usage' ]);
	// besides: LuCI's host names, the session's right to write names (uci), and the names' uci calls
	assert.deepEqual(decls.filter(d => d.object !== 'transferometer').map(d => `${d.object}.${d.method}`).sort(),
		[ 'luci-rpc.getHostHints', 'session.access', 'uci.add', 'uci.commit', 'uci.delete', 'uci.get', 'uci.set' ]);
	for (const d of decls.filter(d => d.object === 'transferometer')) {
		assert.deepEqual(d.expect, { '': {} }, `${d.method}: error objects must come through whole`);
	}
	assert.deepEqual(byMethod.usage.params, [ 'mac', 'period' ]);
	assert.deepEqual(byMethod.reset.params, [ 'mac' ]);
	assert.deepEqual(byMethod.history.params, [ 'period', 'mac' ]);
	assert.deepEqual(byMethod.restore.params, [ 'data' ]);
	assert.ok(!byMethod.hosts.params || byMethod.hosts.params.length === 0);
	assert.equal(proto.handleSave, null);
	assert.equal(proto.handleSaveApply, null);
	assert.equal(proto.handleReset, null);
	assert.equal(typeof proto.load, 'function');
	assert.equal(typeof proto.render, 'function');
});

const VIEW_GROUP = 'luci-app-transferometer', SETTINGS_GROUP = 'luci-app-transferometer-settings';

// Two groups, as OpenWrt's own apps split theirs (luci-mod-system-config and the like): viewing and
// resetting never implies changing settings, whose paths the binary writes as root.
test('ACL: a view-and-reset group and a settings group, each exactly what its views use', () => {
	const acl = JSON.parse(read('root', 'usr', 'share', 'rpcd', 'acl.d', 'luci-app-transferometer.json'));
	assert.deepEqual(Object.keys(acl), [ VIEW_GROUP, SETTINGS_GROUP ]);
	const v = acl[VIEW_GROUP], s = acl[SETTINGS_GROUP];
	for (const g of [ v, s ]) assert.equal(typeof g.description, 'string');
	assert.deepEqual(v.read, { ubus: { transferometer: [ 'hosts', 'usage', 'history' ], 'luci-rpc': [ 'getHostHints' ] }, uci: [ 'transferometer' ] });
	assert.deepEqual(v.write, { ubus: { transferometer: [ 'reset', 'quota_lift', 'quota_extra', 'backup', 'restore' ] } }, 'viewing grants no uci write');
	assert.deepEqual(s.read, { uci: [ 'transferometer' ] });
	assert.deepEqual(s.write, { uci: [ 'transferometer' ] }, 'the settings group grants no ubus call');
	const granted = new Set([ ...v.read.ubus.transferometer, ...v.write.ubus.transferometer ]);
	assert.deepEqual(v.write.ubus.transferometer.filter(m => m === 'backup' || m === 'restore'), [ 'backup', 'restore' ],
		'backup and restore are write grants: a backup exposes everything, a restore replaces it');
	for (const d of declaredCalls().decls.filter(d => d.object === 'luci-rpc'))
		assert.ok(v.read.ubus[d.object].includes(d.method), `the view group grants ${d.object}.${d.method}`);
	for (const d of declaredCalls().decls.filter(d => d.object === 'transferometer'))
		assert.ok(granted.has(d.method), `the view group grants transferometer.${d.method}`);
});

test('menu: Status > Transferometer with the usage and settings views; settings behind the settings ACL', () => {
	const menu = JSON.parse(read('root', 'usr', 'share', 'luci', 'menu.d', 'luci-app-transferometer.json'));
	const top = menu['admin/status/transferometer'];
	assert.ok(top, 'admin/status/transferometer');
	assert.deepEqual(top.depends.acl, [ VIEW_GROUP ]);
	assert.deepEqual(menu['admin/status/transferometer/settings'].depends.acl, [ SETTINGS_GROUP ]);
	assert.equal(menu['admin/status/transferometer/usage'].depends, undefined, 'usage needs only the view group');
	const views = Object.entries(menu).filter(([ , v ]) => v.action && v.action.type === 'view');
	assert.deepEqual(views.map(([ k ]) => k).sort(), [ 'admin/status/transferometer/quotas', 'admin/status/transferometer/settings', 'admin/status/transferometer/usage' ]);
	assert.deepEqual(menu['admin/status/transferometer/quotas'].depends.acl, [ SETTINGS_GROUP ], 'quotas are settings');
	for (const [ k, v ] of views) {
		assert.ok(existsSync(path.join(RES, 'view', v.action.path + '.js')), `${k} -> view/${v.action.path}.js`);
		assert.equal(typeof v.title, 'string');
	}
	if (top.action.type === 'alias')
		assert.ok(menu[top.action.path], 'alias target exists');
});

// The shim enforces the package's ACL and menu as rpcd and LuCI's dispatcher do: a session with only
// the view group sees usage and may reset, but gets no settings page and no uci write.
test('ACL in use: view-only session vs. a session with both groups', async () => {
	const dir = mkdtempSync(path.join(tmpdir(), 'tm-acl-'));
	writeFileSync(path.join(dir, 'transferometer'), "config transferometer 'main'\n\toption enabled '1'\n");
	const ubus = (base, method, args, object = 'uci') => fetch(base + '/ubus', {
		method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'call', params: [ SESSION_ID, object, method, args ] })
	}).then(r => r.json());
	const run = async (groups) => {
		const srv = await startServer({ bin: '/bin/false', configDir: dir, port: 0, groups });
		const base = `http://127.0.0.1:${srv.port}`;
		try {
			const status = async (p) => (await fetch(base + '/cgi-bin/luci/' + p, { redirect: 'manual' })).status;
			const usagePage = await (await fetch(base + '/cgi-bin/luci/admin/status/transferometer/usage')).text();
			return {
				usage: await status('admin/status/transferometer/usage'),
				settings: await status('admin/status/transferometer/settings'),
				settingsTab: usagePage.includes('data-tab="settings"'),
				quotas: await status('admin/status/transferometer/quotas'),
				quotasTab: usagePage.includes('data-tab="quotas"'),
				uciGet: !(await ubus(base, 'get', { config: 'transferometer' })).error,
				uciSet: !(await ubus(base, 'set', { config: 'transferometer', section: 'main', values: { pid_file: '/etc/shadow' } })).error,
				reset: !(await ubus(base, 'reset', {}, 'transferometer')).error
			};
		}
		finally { await srv.close(); }
	};
	try {
		assert.deepEqual(await run([ VIEW_GROUP ]),
			{ usage: 200, settings: 403, settingsTab: false, quotas: 403, quotasTab: false, uciGet: true, uciSet: false, reset: true });
		assert.deepEqual(await run([ VIEW_GROUP, SETTINGS_GROUP ]),
			{ usage: 200, settings: 200, settingsTab: true, quotas: 200, quotasTab: true, uciGet: true, uciSet: true, reset: true });
		assert.deepEqual(await run(null), await run([ VIEW_GROUP, SETTINGS_GROUP ]), 'by default the shim session has every group');
	}
	finally { rmSync(dir, { recursive: true, force: true }); }
});

test('Makefile: a luci.mk package depending on luci-base and transferometer', () => {
	const mk = read('Makefile');
	assert.match(mk, /^LUCI_TITLE:=\S/m);
	assert.match(mk, /^LUCI_DEPENDS:=\+luci-base \+transferometer$/m);
	assert.match(mk, /^PKG_LICENSE:=\S/m);
	assert.match(mk, /^include \$\(TOPDIR\)\/rules\.mk$/m);
	assert.match(mk, /^include \$\(TOPDIR\)\/feeds\/luci\/luci\.mk$/m);
	assert.match(mk, /^# call BuildPackage - OpenWrt buildroot signature$/m);
});
