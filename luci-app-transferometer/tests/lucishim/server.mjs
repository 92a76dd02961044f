// LuCI test shim: an HTTP server that serves luci-app-transferometer's views the way a router's
// uhttpd + LuCI would, backed by the REAL transferometer plugin binary. For tests and demos only.
//
// This is NOT LuCI. It implements only the subset of LuCI that the views in this package use:
//   - pages:   /cgi-bin/luci/<menu path> built from root/usr/share/luci/menu.d/*.json ("view" and
//              "alias" actions; sibling entries become tabs), loading resources/luci.js (the shim
//              runtime) and instantiating the view like LuCI's ui.instantiateView();
//   - static:  /luci-static/resources/* from the package's htdocs/ first (the files that ship),
//              then the shim's own resources/ (luci.js, rpc.js, ui.js, form.js) and shim.css;
//   - /ubus:   JSON-RPC 2.0 as uhttpd-mod-ubus speaks it (single requests and batches):
//              {"method":"call","params":[session, object, method, args]} -> {"result":[status, data]}.
//              Calls are checked against root/usr/share/rpcd/acl.d/luci-app-transferometer.json
//              (read + write grants of the session's groups; denial = JSON-RPC error -32002, as rpcd).
//              object "transferometer": runs `<bin> rpcd call <method>` with the args JSON on stdin
//              (written once, stdin closed) and env TRANSFEROMETER_CONFIG_DIR, 20 s timeout, and
//              turns stdout into a ubus reply as rpcd does (one JSON object -> [0, obj]; anything
//              else -> [2] INVALID_ARGUMENT; nothing -> [5] NO_DATA; timeout -> [7]); a method
//              missing from `<bin> rpcd list` -> [3] METHOD_NOT_FOUND.
//              object "uci": get / set / delete / changes / revert / commit / apply / confirm on
//              <config dir>/<config>, with changes staged in memory until commit/apply (as rpcd's
//              session delta), enough for form.Map to load and save.
//              object "luci-rpc", method getHostHints: the names LuCI knows for MACs, from
//              <config dir>/ethers ("MAC NAME" lines, as /etc/ethers) and <config dir>/dhcp
//              (`config host` static leases with mac and name, as /etc/config/dhcp), in luci-rpc's
//              shape { "AA:BB:..": { name, ipaddrs, ip6addrs } }; a missing file gives no names.
//              object "session", method access { scope, object, function }: { access } by the
//              session's grants (scope "ubus" or "uci"), as rpcd answers it for the page's session.
//   - readonly: the session of a user granted only the read half of the ACL group: the page's
//              L.env.nodespec.readonly is true (as LuCI's dispatcher sets it) and /ubus refuses
//              the write grants (reset, uci set/commit/apply) with "Access denied".
//   - groups:   the session's ACL groups (default: every group the package ships, as an admin has).
//              A menu node whose depends.acl names a group the session lacks, or has a parent that
//              does, is not served (403) and is no tab, as LuCI's dispatcher hides it.
//   - session:  L.env.sessionid is SESSION_ID (32 hex digits, like rpcd's); the page presents it to
//              the daemon's live feed, so a test's fake `ubus` can vouch for exactly this id.
//   - liveForward { host, port }: a plain TCP relay from <listen address>:port to host:port. On a
//              router LuCI and the live feed (transferometer daemon) share the router's address;
//              when the daemon runs elsewhere (a network namespace), the relay puts its port on
//              the shim's address, so the page's ws://<page host>:<live port> reaches it and the
//              daemon sees the browser's Host and Origin unchanged.
//   - tls { cert, key }: serve https instead of http (PEM strings), as LuCI behind uhttpd's
//              certificate; the page then has to use the feed's TLS port (wss://).
// It binds to loopback only.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, existsSync, statSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as uci from './uci.mjs';
import { sectionCall } from './uci-sections.mjs';

const SHIM_DIR = path.dirname(fileURLToPath(import.meta.url));
export const APP_ROOT = path.resolve(SHIM_DIR, '..', '..');

const MIME = {
	'.js': 'application/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
	'.json': 'application/json',
	'.svg': 'image/svg+xml',
	'.png': 'image/png',
	'.html': 'text/html; charset=utf-8'
};

// The shim's session id (rpcd makes 32 lowercase hex digits).
export const SESSION_ID = '0123456789abcdef0123456789abcdef';

const UBUS_STATUS = { OK: 0, INVALID_ARGUMENT: 2, METHOD_NOT_FOUND: 3, NOT_FOUND: 4, NO_DATA: 5, PERMISSION_DENIED: 6, TIMEOUT: 7 };
const PLUGIN_TIMEOUT_MS = 20000;
const MAX_STDOUT = 16 << 20;
const MAX_BODY = 1 << 20;

export function isLoopback(host) {
	return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// The union of ACL groups' grants, as rpcd gives a session with all of them.
function mergeGroups(list) {
	const out = {};
	for (const g of list) for (const mode of [ 'read', 'write' ]) {
		if (!g[mode]) continue;
		const m = out[mode] = out[mode] || {};
		for (const [ object, methods ] of Object.entries(g[mode].ubus || {})) {
			m.ubus = m.ubus || {};
			m.ubus[object] = [ ...new Set([ ...(m.ubus[object] || []), ...methods ]) ];
		}
		if (g[mode].uci) m.uci = [ ...new Set([ ...(m.uci || []), ...g[mode].uci ]) ];
	}
	return out;
}

function readJSONDir(dir) {
	const out = {};
	if (!existsSync(dir)) return out;
	for (const f of readdirSync(dir).filter(f => f.endsWith('.json')).sort())
		Object.assign(out, JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
	return out;
}

// Run the plugin as rpcd does: argv, one write of the args object, stdin closed.
export function runPlugin(bin, argv, { configDir, input = null, timeoutMs = PLUGIN_TIMEOUT_MS } = {}) {
	return new Promise((resolve) => {
		const env = { ...process.env };
		if (configDir) env.TRANSFEROMETER_CONFIG_DIR = configDir;
		let child;
		try {
			child = spawn(bin, argv, { env, stdio: [ 'pipe', 'pipe', 'pipe' ] });
		}
		catch (err) {
			resolve({ error: err, stdout: '', stderr: '', code: null, timedOut: false });
			return;
		}
		const out = [], errs = [];
		let size = 0, timedOut = false, done = false;
		const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
		child.stdout.on('data', (d) => { size += d.length; if (size <= MAX_STDOUT) out.push(d); else child.kill('SIGKILL'); });
		child.stderr.on('data', (d) => { if (errs.length < 64) errs.push(d); });
		child.stdin.on('error', () => {});
		const finish = (extra) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8'), timedOut, ...extra });
		};
		child.on('error', (error) => finish({ error, code: null }));
		child.on('close', (code, signal) => finish({ code, signal }));
		if (input != null) child.stdin.end(input);
		else child.stdin.end();
	});
}

// rpcd exec.c: the reply must be one JSON object.
function pluginReply(res) {
	if (res.timedOut) return [ UBUS_STATUS.TIMEOUT ];
	if (res.error) return [ UBUS_STATUS.NOT_FOUND ];
	const text = res.stdout.trim();
	if (!text) return [ UBUS_STATUS.NO_DATA ];
	let obj;
	try { obj = JSON.parse(text); }
	catch { return [ UBUS_STATUS.INVALID_ARGUMENT ]; }
	if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [ UBUS_STATUS.INVALID_ARGUMENT ];
	return [ UBUS_STATUS.OK, obj ];
}

export function createShim({ bin, configDir, appRoot = APP_ROOT, readonly = false, groups = null, log = () => {} } = {}) {
	if (!bin) throw new Error('createShim: bin (the transferometer binary) is required');
	if (!configDir) throw new Error('createShim: configDir is required');

	const menu = readJSONDir(path.join(appRoot, 'root', 'usr', 'share', 'luci', 'menu.d'));
	const acls = readJSONDir(path.join(appRoot, 'root', 'usr', 'share', 'rpcd', 'acl.d'));
	const granted = groups || Object.keys(acls);
	const acl = mergeGroups(granted.map(g => acls[g] || {}));
	const staged = new Map();   // config -> [changes]
	let signature = null;       // from `bin rpcd list`
	const calls = [];           // every ubus call, for tests

	const modes = readonly ? [ 'read' ] : [ 'read', 'write' ];

	function allowedUbus(object, method) {
		return modes.some(mode => {
			const m = acl[mode] && acl[mode].ubus && acl[mode].ubus[object];
			return Array.isArray(m) && (m.includes(method) || m.includes('*'));
		});
	}

	function allowedUci(config, write) {
		return modes.filter(mode => !write || mode === 'write')
			.some(mode => Array.isArray(acl[mode] && acl[mode].uci) && acl[mode].uci.includes(config));
	}

	async function pluginSignature() {
		if (signature) return signature;
		const res = await runPlugin(bin, [ 'rpcd', 'list' ], { configDir, input: null });
		const reply = pluginReply(res);
		if (reply[0] === 0) signature = reply[1];
		else log(`transferometer rpcd list failed (${res.stderr.trim() || 'status ' + reply[0]})`);
		return signature;
	}

	function configFile(config) {
		if (!/^[A-Za-z0-9_-]+$/.test(config)) return null;
		return path.join(configDir, config);
	}

	function loadConfig(config) {
		const file = configFile(config);
		if (!file || !existsSync(file)) return null;
		return uci.parse(readFileSync(file, 'utf8'));
	}

	function commit(config) {
		const changes = staged.get(config) || [];
		const sections = loadConfig(config);
		if (!sections) return UBUS_STATUS.NOT_FOUND;
		const file = configFile(config);
		writeFileSync(file + '.shim-tmp', uci.serialize(uci.applyChanges(sections, changes)));
		renameSync(file + '.shim-tmp', file);
		staged.delete(config);
		log(`uci: committed ${changes.length} change(s) to ${file}`);
		return UBUS_STATUS.OK;
	}

	async function callUci(method, args) {
		const config = args && args.config;
		const write = [ 'set', 'delete', 'revert', 'commit', 'add', 'rename', 'order' ].includes(method);
		if ([ 'apply', 'confirm', 'rollback' ].includes(method)) {
			if (readonly || !acl.write || !acl.write.uci) return { denied: true };
		}
		else if (typeof config !== 'string' || !allowedUci(config, write)) {
			return { denied: true };
		}

		const sectionReply = sectionCall(method, args, { loadConfig, staged, uci });  // add, delete of a whole section
		if (sectionReply) return sectionReply;

		switch (method) {
		case 'get': {
			const sections = loadConfig(config);
			if (!sections) return { result: [ UBUS_STATUS.NOT_FOUND ] };
			const values = uci.toUbusValues(uci.applyChanges(sections, staged.get(config) || []));
			if (args.section != null) {
				const s = values[args.section];
				if (!s) return { result: [ UBUS_STATUS.NOT_FOUND ] };
				if (args.option != null)
					return { result: s[args.option] != null ? [ 0, { value: s[args.option] } ] : [ UBUS_STATUS.NOT_FOUND ] };
				return { result: [ 0, { values: s } ] };
			}
			return { result: [ 0, { values } ] };
		}
		case 'set': {
			if (!loadConfig(config)) return { result: [ UBUS_STATUS.NOT_FOUND ] };
			const list = staged.get(config) || [];
			for (const [ k, v ] of Object.entries(args.values || {})) {
				if (!/^[A-Za-z0-9_]+$/.test(k)) return { result: [ UBUS_STATUS.INVALID_ARGUMENT ] };
				list.push([ 'set', args.section, k, v ]);
			}
			staged.set(config, list);
			return { result: [ 0 ] };
		}
		case 'delete': {
			const list = staged.get(config) || [];
			const opts = args.options || (args.option != null ? [ args.option ] : []);
			for (const k of opts) list.push([ 'unset', args.section, k ]);
			staged.set(config, list);
			return { result: [ 0 ] };
		}
		case 'changes': {
			const changes = {};
			for (const [ c, list ] of staged) if (!config || c === config) changes[c] = list.map(x => x.slice());
			return { result: [ 0, { changes } ] };
		}
		case 'revert':
			staged.delete(config);
			return { result: [ 0 ] };
		case 'commit':
			return { result: [ commit(config) ] };
		case 'apply':
			for (const c of [ ...staged.keys() ]) commit(c);
			return { result: [ 0 ] };
		case 'confirm':
		case 'rollback':
			return { result: [ 0 ] };
		}
		return { result: [ UBUS_STATUS.METHOD_NOT_FOUND ] };
	}

	// luci-rpc getHostHints from the config dir's ethers and dhcp files (what LuCI reads on a router,
	// besides the neighbour table and the leases of the running dnsmasq).
	function hostHints() {
		const hints = {};
		const put = (mac, name, ip) => {
			const m = String(mac || '').trim().toUpperCase().replace(/-/g, ':');
			if (!/^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/.test(m)) return;
			const h = hints[m] = hints[m] || { ipaddrs: [], ip6addrs: [] };
			if (name && !h.name) h.name = String(name);
			if (ip) (String(ip).includes(':') ? h.ip6addrs : h.ipaddrs).push(String(ip));
		};
		const ethers = path.join(configDir, 'ethers');
		if (existsSync(ethers))
			for (const line of readFileSync(ethers, 'utf8').split('\n')) {
				const w = line.replace(/#.*/, '').trim().split(/\s+/);
				if (w.length >= 2) put(w[0], /^[0-9.:]+$/.test(w[1]) ? null : w[1], /^[0-9.:]+$/.test(w[1]) ? w[1] : null);
			}
		const dhcp = loadConfig('dhcp');
		for (const s of dhcp || []) {
			if (s.type !== 'host') continue;
			const macs = s.options.get('mac'), name = s.options.get('name'), ip = s.options.get('ip');
			for (const m of [].concat(macs || []).flatMap(v => String(v).split(/\s+/)))
				put(m, Array.isArray(name) ? name[0] : name, Array.isArray(ip) ? ip[0] : ip);
		}
		return hints;
	}

	async function callObject(object, method, args) {
		if (object === 'uci') return callUci(method, args);

		if (object === 'luci-rpc') {
			if (!allowedUbus(object, method)) return { denied: true };
			if (method === 'getHostHints') return { result: [ UBUS_STATUS.OK, hostHints() ] };
			return { result: [ UBUS_STATUS.METHOD_NOT_FOUND ] };
		}

		// luci-base grants session access to every session (its "unauthenticated" group)
		if (object === 'session' && method === 'access') {
			const a = args || {};
			const write = a.function === 'write';
			const access = a.scope === 'uci' ? (write ? !readonly && allowedUci(a.object, true) : allowedUci(a.object, false))
				: a.scope === 'ubus' ? allowedUbus(a.object, a.function)
				: false;
			return { result: [ UBUS_STATUS.OK, { access: !!access } ] };
		}

		if (object === 'transferometer') {
			if (!allowedUbus(object, method)) return { denied: true };
			const sig = await pluginSignature();
			if (sig && !Object.prototype.hasOwnProperty.call(sig, method))
				return { result: [ UBUS_STATUS.METHOD_NOT_FOUND ] };
			const res = await runPlugin(bin, [ 'rpcd', 'call', method ], { configDir, input: JSON.stringify(args || {}) });
			const reply = pluginReply(res);
			if (reply[0] !== 0) log(`transferometer ${method}: ubus status ${reply[0]}${res.stderr ? ': ' + res.stderr.trim() : ''}`);
			return { result: reply };
		}

		return { notFound: true };
	}

	async function handleMessage(msg) {
		const id = (msg && msg.id !== undefined) ? msg.id : null;
		if (!msg || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string')
			return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid request' } };

		if (msg.method === 'list')
			return { jsonrpc: '2.0', id, result: { transferometer: (await pluginSignature()) || {} } };

		if (msg.method !== 'call' || !Array.isArray(msg.params) || msg.params.length < 3)
			return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };

		const [ , object, method, args ] = msg.params;
		if (args != null && (typeof args !== 'object' || Array.isArray(args)))
			return { jsonrpc: '2.0', id, error: { code: -32602, message: 'Invalid parameters' } };

		const r = await callObject(object, method, args || {});
		calls.push({ object, method, args: args || {}, result: r.result, denied: !!r.denied });
		if (r.denied) return { jsonrpc: '2.0', id, error: { code: -32002, message: 'Access denied' } };
		if (r.notFound) return { jsonrpc: '2.0', id, error: { code: -32000, message: 'Object not found' } };
		return { jsonrpc: '2.0', id, result: r.result };
	}

	// Every node on the way to menuPath must have its depends.acl groups granted.
	function accessible(menuPath) {
		const parts = menuPath.split('/');
		return parts.every((_, i) => {
			const n = menu[parts.slice(0, i + 1).join('/')];
			const need = n && n.depends && n.depends.acl;
			return !Array.isArray(need) || need.every(g => granted.includes(g));
		});
	}

	function menuChildren(prefix) {
		return Object.keys(menu)
			.filter(k => k.startsWith(prefix + '/') && !k.slice(prefix.length + 1).includes('/'))
			.sort((a, b) => (menu[a].order || 0) - (menu[b].order || 0));
	}

	function page(menuPath, viewPath) {
		const parent = menuPath.split('/').slice(0, -1).join('/');
		const tabs = menuChildren(parent).filter(k => menu[k].action && menu[k].action.type === 'view' && accessible(k));
		const esc = (s) => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
		const env = {
			base_url: '/luci-static/resources',
			resource: '/luci-static/resources',
			media: '/luci-static/shim',
			scriptname: '/cgi-bin/luci',
			requestpath: menuPath.split('/'),
			dispatchpath: menuPath.split('/'),
			sessionid: SESSION_ID,
			ubuspath: '/ubus/',
			nodespec: {
				satisfied: true,
				readonly,
				title: menu[menuPath] ? menu[menuPath].title : '',
				action: menu[menuPath] ? menu[menuPath].action : null,
				depends: menu[menuPath] ? menu[menuPath].depends : null
			},
			pollinterval: 5,
			rpctimeout: 20
		};
		const crumbs = [ 'admin/status', parent ].filter(p => menu[p] || p === 'admin/status')
			.map(p => esc(menu[p] ? menu[p].title : 'Status'));

		return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(menu[parent] ? menu[parent].title : 'LuCI')} - LuCI (test shim)</title>
<link rel="stylesheet" href="/luci-static/shim/shim.css">
<script>/* the bootstrap theme's automatic dark mode */
document.documentElement.setAttribute('data-darkmode', String(!!(window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches)));</script>
<script src="/luci-static/resources/luci.js"></script>
<script>L = new LuCI(${JSON.stringify(env).replace(/</g, '\\u003c')});</script>
</head>
<body class="lang_en" data-page="${esc(menuPath.replace(/\//g, '-'))}">
<header class="shim-header">
	<span class="brand">OpenWrt</span>
	<span class="crumbs">${crumbs.join(' &rsaquo; ')}</span>
	<span class="shim-note" title="Served by luci-app-transferometer/tests/lucishim, not by LuCI">LuCI test shim</span>
</header>
<div id="maincontent" class="container">
	<ul class="cbi-tabmenu">
${tabs.map(k => `		<li class="${k === menuPath ? 'cbi-tab' : 'cbi-tab-disabled'}" data-tab="${esc(k.split('/').pop())}"><a href="/cgi-bin/luci/${esc(k)}">${esc(menu[k].title)}</a></li>`).join('\n')}
	</ul>
	<div id="view"><div class="spinning">Loading view…</div></div>
</div>
<footer class="shim-footer">Transferometer views served by the LuCI test shim (tests/lucishim) against the real plugin binary.</footer>
<script>L.require('ui').then(function(ui) { ui.instantiateView(${JSON.stringify(viewPath)}); });</script>
</body>
</html>
`;
	}

	function sendFile(res, file) {
		res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
		res.end(readFileSync(file));
	}

	function resolveStatic(urlPath) {
		const roots = [];
		if (urlPath.startsWith('/luci-static/resources/'))
			roots.push([ path.join(appRoot, 'htdocs', 'luci-static', 'resources'), urlPath.slice('/luci-static/resources/'.length) ],
			           [ path.join(SHIM_DIR, 'resources'), urlPath.slice('/luci-static/resources/'.length) ]);
		else if (urlPath.startsWith('/luci-static/shim/'))
			roots.push([ path.join(SHIM_DIR, 'resources'), urlPath.slice('/luci-static/shim/'.length) ]);
		for (const [ root, rel ] of roots) {
			const file = path.resolve(root, rel);
			if (!file.startsWith(root + path.sep)) continue;
			if (existsSync(file) && statSync(file).isFile()) return file;
		}
		return null;
	}

	async function handler(req, res) {
		const url = new URL(req.url, 'http://localhost');
		const p = decodeURIComponent(url.pathname);

		try {
			if (p === '/ubus' || p === '/ubus/' || p.startsWith('/ubus/')) {
				if (req.method !== 'POST') { res.writeHead(400); res.end(); return; }
				const chunks = [];
				let size = 0;
				for await (const c of req) {
					size += c.length;
					if (size > MAX_BODY) { res.writeHead(413); res.end(); return; }
					chunks.push(c);
				}
				let body;
				try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); }
				catch {
					res.writeHead(200, { 'Content-Type': 'application/json' });
					res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
					return;
				}
				const reply = Array.isArray(body) ? await Promise.all(body.map(handleMessage)) : await handleMessage(body);
				res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
				res.end(JSON.stringify(reply));
				return;
			}

			if (p === '/' || p === '/cgi-bin/luci' || p === '/cgi-bin/luci/' || p === '/cgi-bin/luci/admin') {
				res.writeHead(302, { Location: '/cgi-bin/luci/admin/status/transferometer' });
				res.end();
				return;
			}

			if (p === '/favicon.ico') { res.writeHead(204); res.end(); return; }

			if (p.startsWith('/cgi-bin/luci/')) {
				let mp = p.slice('/cgi-bin/luci/'.length).replace(/\/+$/, '');
				const node = menu[mp];
				if (node && !accessible(mp)) {
					res.writeHead(403, { 'Content-Type': 'text/plain' });
					res.end('Access denied\n');
					return;
				}
				if (node && node.action && node.action.type === 'alias') {
					res.writeHead(302, { Location: '/cgi-bin/luci/' + node.action.path });
					res.end();
					return;
				}
				if (node && node.action && node.action.type === 'firstchild') {
					const first = menuChildren(mp)[0];
					if (first) { res.writeHead(302, { Location: '/cgi-bin/luci/' + first }); res.end(); return; }
				}
				if (node && node.action && node.action.type === 'view') {
					res.writeHead(200, { 'Content-Type': MIME['.html'], 'Cache-Control': 'no-store' });
					res.end(page(mp, node.action.path));
					return;
				}
			}

			const file = (req.method === 'GET' || req.method === 'HEAD') ? resolveStatic(p) : null;
			if (file) { sendFile(res, file); return; }

			res.writeHead(404, { 'Content-Type': 'text/plain' });
			res.end('Not found\n');
		}
		catch (err) {
			log(`error serving ${p}: ${err && err.stack || err}`);
			if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
			res.end('Internal error\n');
		}
	}

	return { handler, calls, staged, menu, acl, readonly, granted, accessible };
}

// A TCP relay: listens on host:port, connects each client to to.host:to.port (to.port 0: the port
// it listens on) and pipes both ways. Resolves to { port, server, close() }; .accepted holds the
// time (ms) of every connection, for tests.
export function startRelay({ host = '127.0.0.1', port = 0, to, log = () => {} }) {
	if (!isLoopback(host)) return Promise.reject(new Error(`refusing to bind ${host}: the shim serves on loopback only`));
	const sockets = new Set();
	const relay = { accepted: [] };
	const server = net.createServer((client) => {
		relay.accepted.push(Date.now());
		const upstream = net.connect(to.port || relay.port, to.host);
		sockets.add(client).add(upstream);
		const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
		client.on('error', drop).on('close', drop);
		upstream.on('error', (e) => { log(`live relay: ${to.host}:${to.port || relay.port}: ${e.code || e.message}`); drop(); }).on('close', drop);
		client.pipe(upstream);
		upstream.pipe(client);
	});
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, host, () => {
			relay.server = server;
			relay.port = server.address().port;
			relay.close = () => new Promise(r => { for (const s of sockets) s.destroy(); server.close(() => r()); });
			resolve(relay);
		});
	});
}

// Start a server (http, or https with tls); resolves to { server, url, port, shim, relay, close() }.
export async function startServer({ bin, configDir, host = '127.0.0.1', port = 8080, appRoot = APP_ROOT, readonly = false,
	groups = null, liveForward = null, tls = null, log } = {}) {
	if (!isLoopback(host)) throw new Error(`refusing to bind ${host}: the shim serves on loopback only`);
	const shim = createShim({ bin, configDir, appRoot, readonly, groups, log });
	const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, shim.handler) : http.createServer(shim.handler);
	const relay = liveForward ? await startRelay({ host, port: liveForward.port, to: liveForward, log }) : null;
	return new Promise((resolve, reject) => {
		server.once('error', (e) => { if (relay) relay.close(); reject(e); });
		server.listen(port, host, () => {
			const addr = server.address();
			const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
			resolve({
				server, shim, relay, port: addr.port,
				url: `${tls ? 'https' : 'http'}://${h}:${addr.port}`,
				close: () => Promise.all([
					new Promise(r => { server.closeAllConnections?.(); server.close(() => r()); }),
					relay ? relay.close() : null
				])
			});
		});
	});
}
