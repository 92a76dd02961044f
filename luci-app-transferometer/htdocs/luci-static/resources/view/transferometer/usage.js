'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require dom';
'require transferometer.helpers as helpers';
'require transferometer.quota as quota';

/*
 * Status / Transferometer / Usage: traffic per LAN device, from the
 * ubus object transferometer (rpcd exec plugin), refreshed by poll, for
 * the accounting period picked in the selector; current rates from the
 * daemon's live websocket feed when it can be reached, else from the
 * change between two refreshes.
 *
 * The plugin answers every call with one JSON object; failures come
 * back as an object with an error member, never as a ubus status, so
 * expect keeps the whole reply.  A transport failure (HTTP, JSON-RPC,
 * ubus status) rejects and is turned into the same error shape.
 */

var POLL_INTERVAL = 5;

/* A live rate older than this (ms) no longer counts as live. */
var LIVE_STALE_MS = 5000;

/*
 * Codes of usage's warnings that inform rather than warn: placement_netdev
 * says the nftables backend counts on the LAN devices (because software
 * flow offloading is on), which gives complete figures.
 */
var NOTICE_CODES = [ 'placement_netdev' ];

var callUsage = rpc.declare({
	object: 'transferometer',
	method: 'usage',
	params: [ 'mac', 'period' ],
	expect: { '': {} },
	reject: true
});

var callHosts = rpc.declare({
	object: 'transferometer',
	method: 'hosts',
	expect: { '': {} },
	reject: true
});

var callReset = rpc.declare({
	object: 'transferometer',
	method: 'reset',
	params: [ 'mac' ],
	expect: { '': {} },
	reject: true
});

var callHistory = rpc.declare({
	object: 'transferometer',
	method: 'history',
	params: [ 'period', 'mac' ],
	expect: { '': {} },
	reject: true
});

var callBackup = rpc.declare({
	object: 'transferometer',
	method: 'backup',
	expect: { '': {} },
	reject: true
});

var callRestore = rpc.declare({
	object: 'transferometer',
	method: 'restore',
	params: [ 'data' ],
	expect: { '': {} },
	reject: true
});

/* The names LuCI itself knows for MACs: /etc/ethers, static leases, neighbours. */
var callHostHints = rpc.declare({
	object: 'luci-rpc',
	method: 'getHostHints',
	expect: { '': {} }
});

/* Whether the session may write uci transferometer (the settings ACL group), to offer name editing. */
var callSessionAccess = rpc.declare({
	object: 'session',
	method: 'access',
	params: [ 'scope', 'object', 'function' ],
	expect: { 'access': false }
});

/* Names and groups are `config host` sections of /etc/config/transferometer, as the service reads them. */
var callUciGet = rpc.declare({
	object: 'uci',
	method: 'get',
	params: [ 'config' ],
	expect: { values: {} },
	reject: true
});

var callUciAdd = rpc.declare({
	object: 'uci',
	method: 'add',
	params: [ 'config', 'type', 'values' ],
	expect: { section: '' },
	reject: true
});

var callUciSet = rpc.declare({
	object: 'uci',
	method: 'set',
	params: [ 'config', 'section', 'values' ],
	reject: true
});

var callUciDelete = rpc.declare({
	object: 'uci',
	method: 'delete',
	params: [ 'config', 'section', 'options' ],
	reject: true
});

var callUciCommit = rpc.declare({
	object: 'uci',
	method: 'commit',
	params: [ 'config' ],
	reject: true
});

/* Where the table's sort and search are kept across reloads. */
var STATE_KEY = 'luci-app-transferometer.usage.table';

/*
 * The largest backup file the page uploads: base64 makes it a third
 * larger, and uhttpd takes JSON-RPC posts of at most 64 KiB (the
 * service's own backups for the page stay under 45 KiB).
 */
var MAX_RESTORE_BYTES = 47 * 1024;

/* History (the charts) is fetched again every this many polls. */
var HISTORY_EVERY = 6;

/* Colours of the chart's series (the top devices), mid tones readable on light and dark themes; then "others". */
var PALETTE = [ '#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1' ],
    OTHERS_COLOR = '#8c8c8c';

var SVG_NS = 'http://www.w3.org/2000/svg';

/*
 * An SVG element with E()'s attributes and children: E() makes HTML
 * elements, but it takes an existing node, so the node is made in the
 * SVG namespace first (as bandwidth.js makes its lines).
 */
function S(tag, attrs, children) {
	return E(document.createElementNS(SVG_NS, tag), attrs || {}, children || []);
}

/* The page's own styles: charts, legend, tooltip, the screen-reader table, visible focus. */
var STYLE = [
	'#cbi-transferometer-usage .transferometer-chart { position: relative; overflow-x: auto; margin: .5em 0 1em; }',
	'#cbi-transferometer-usage .transferometer-chart svg { display: block; max-width: none; color: inherit; }',
	'#cbi-transferometer-usage .transferometer-chart .transferometer-axis { stroke: currentColor; stroke-opacity: .45; }',
	'#cbi-transferometer-usage .transferometer-chart .transferometer-grid { stroke: currentColor; stroke-opacity: .12; }',
	'#cbi-transferometer-usage .transferometer-chart text { fill: currentColor; font-size: 11px; }',
	'#cbi-transferometer-usage .transferometer-chart .transferometer-hit { fill: currentColor; fill-opacity: 0; }',
	'#cbi-transferometer-usage .transferometer-chart g.transferometer-bucket:hover .transferometer-hit { fill-opacity: .08; }',
	'#cbi-transferometer-usage .transferometer-chart rect[data-dir="up"] { fill-opacity: .7; }',
	'#cbi-transferometer-usage .transferometer-legend { list-style: none; display: flex; flex-wrap: wrap; gap: .25em 1em; margin: .25em 0; padding: 0; }',
	'#cbi-transferometer-usage .transferometer-swatch { display: inline-block; width: .9em; height: .9em; margin-right: .35em; vertical-align: -.1em; border-radius: 2px; }',
	'#cbi-transferometer-usage .transferometer-tooltip { position: absolute; z-index: 10; pointer-events: none; padding: .4em .6em; border-radius: 4px;',
	'  background: var(--background-color-high, Canvas); color: var(--text-color-high, CanvasText); border: 1px solid var(--border-color-medium, GrayText);',
	'  box-shadow: 0 2px 6px rgba(0, 0, 0, .25); white-space: nowrap; font-size: 12px; }',
	'#cbi-transferometer-usage .transferometer-sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;',
	'  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }',
	'#cbi-transferometer-usage button.transferometer-sort { all: unset; display: block; width: 100%; cursor: pointer; text-align: inherit; }',
	'#cbi-transferometer-usage .transferometer-chart g[data-future] text { opacity: .5; }',
	'#cbi-transferometer-usage button.transferometer-icon { min-width: 2em; padding: 0 .4em; margin-right: .4em; line-height: 1.6; }',
	'#cbi-transferometer-usage button:focus-visible, #cbi-transferometer-usage input:focus-visible, #cbi-transferometer-usage select:focus-visible {',
	'  outline: 2px solid var(--primary-color-high, Highlight); outline-offset: 2px; }',
	'#cbi-transferometer-usage tr.transferometer-detail > td { padding: .5em 1em 1em; }',
	'#cbi-transferometer-usage td.transferometer-device { white-space: nowrap; }',
	'#cbi-transferometer-usage .transferometer-detail h4 { margin: .5em 0 .25em; }',
	'#cbi-transferometer-usage .transferometer-muted { opacity: .65; }'
].join('\n');

function rpcFailure(err) {
	return {
		error: String((err && err.message) || err || '?').split(/\n/)[0],
		code: 'rpc_failed'
	};
}

/*
 * A reply is good when it is an object without error that carries the
 * member the contract promises (hosts for usage and hosts, reset for
 * reset).  This also catches a non-zero ubus status on LuCI releases
 * whose rpc.js has no reject option: expect then yields an empty object.
 */
function isFailure(res, member) {
	return !L.isObject(res) || res.error != null || !Array.isArray(res[member || 'hosts']);
}

function failureText(res) {
	if (!L.isObject(res) || res.error == null)
		return _('no valid reply from the transferometer ubus object');

	return res.code ? '%s (%s)'.format(res.error, res.code) : String(res.error);
}

/* getHostHints' reply (MAC -> { name, ipaddrs, ip6addrs }) keyed by upper-case MAC, names only. */
function hintsByMAC(reply) {
	var out = {};

	if (!L.isObject(reply))
		return out;

	for (var mac in reply) {
		var m = helpers.normalizeMAC(mac);

		if (m && L.isObject(reply[mac]) && typeof(reply[mac].name) == 'string' && reply[mac].name !== '')
			out[m] = { name: reply[mac].name };
	}

	return out;
}

/* The `config host` section of uci get's values that names mac, or null. */
function hostSectionOf(values, mac) {
	for (var sid in (values || {})) {
		var v = values[sid];

		if (L.isObject(v) && v['.type'] == 'host' && helpers.normalizeMAC(v.mac) === mac)
			return sid;
	}

	return null;
}

/*
 * The session of a user granted only the read half of the ACL: the
 * dispatcher marks the page readonly (L.env.nodespec.readonly, the flag
 * behind L.hasViewPermission()), and rpcd refuses reset.
 */
function isReadonly() {
	return L.isObject(L.env.nodespec) && !!L.env.nodespec.readonly;
}

/*
 * Columns: key, title, whether it sorts, extra cell class, and when it
 * is shown: 'always', 'current' (the current period only: rates make no
 * sense for a closed one), 'today' (current period and all-time, which
 * hold today), 'write' (users who may reset).
 */
var COLUMNS = [
	[ 'device',    _('Device'),       true,  ' transferometer-device', 'always' ],
	[ 'mac',       _('MAC address'),  true,  '',                      'always' ],
	[ 'ips',       _('IP addresses'), true,  '',                      'always' ],
	[ 'download',  _('Download'),     true,  ' right',                'always' ],
	[ 'upload',    _('Upload'),       true,  ' right',                'always' ],
	[ 'total',     _('Total'),        true,  ' right',                'always' ],
	[ 'today',     _('Today'),        true,  ' right',                'today' ],
	[ 'rate',      _('Current rate'), true,  ' right',                'current' ],
	[ 'last_seen', _('Last seen'),    true,  '',                      'always' ],
	[ 'quota',     _('Quota'),        false, '',                      'quota' ],
	[ 'actions',   '',                false, ' cbi-section-actions',  'write' ]
];

return view.extend({
	load: function() {
		return Promise.all([
			callUsage().catch(rpcFailure),
			L.resolveDefault(callHostHints(), {}),
			isReadonly() ? false : L.resolveDefault(callSessionAccess('uci', 'transferometer', 'write'), false)
		]);
	},

	render: function(data) {
		var usage = data[0],
		    saved = this.loadTableState();

		this.sortKey = saved.sortKey;
		this.sortDir = saved.sortDir;
		this.query = saved.query;
		this.hints = hintsByMAC(data[1]);
		this.snapshot = null;
		this.rates = {};
		this.usage = null;
		this.lastFailure = null;
		this.readonly = isReadonly();
		/* names and groups are written to uci transferometer: the settings group's write grant */
		this.canEditNames = !this.readonly && data[2] === true;

		/* history of the shown period (the charts), and of the expanded devices */
		this.history = null;
		this.historyFailure = null;
		this.historyPolls = 0;
		this.expanded = {};
		this.details = {};
		this.hostSections = null;

		/* the selected period: 'current', 'all' or a period key */
		this.period = 'current';
		/* bumped when the selection changes: replies to older requests are dropped */
		this.generation = 0;
		/* load() just fetched: the poll's first run, right after, is skipped */
		this.fetchedAt = Date.now();

		/* live feed state */
		this.ws = null;
		this.liveTimer = null;
		this.liveAttempt = 0;
		this.liveRates = null;
		this.liveSeen = 0;
		this.liveHeard = false;
		this.liveFailures = 0;

		this.warningsNode = E('div', { 'id': 'transferometer-warnings' });
		this.statusNode = E('div', { 'id': 'transferometer-status' });
		this.periodNode = E('select', {
			'class': 'cbi-input-select',
			'id': 'transferometer-period',
			/* themes give selects a fixed width that cuts the label off */
			'style': 'width:auto',
			'aria-label': _('Period'),
			'change': L.bind(this.handlePeriod, this)
		});
		this.csvNode = E('button', {
			'class': 'cbi-button cbi-button-action',
			'id': 'transferometer-download-csv',
			'title': _('The figures of the period shown, one row per device'),
			'click': L.bind(this.handleDownload, this, 'csv')
		}, [ _('Download CSV') ]);
		this.jsonNode = E('button', {
			'class': 'cbi-button cbi-button-action',
			'id': 'transferometer-download-json',
			'title': _('The whole reply of the router for the period shown'),
			'click': L.bind(this.handleDownload, this, 'json')
		}, [ _('Download JSON') ]);
		this.searchNode = E('input', {
			'type': 'search',
			'class': 'cbi-input-text',
			'id': 'transferometer-search',
			'value': this.query,
			'placeholder': _('Name, MAC or address'),
			'aria-label': _('Search devices by name, MAC or address'),
			'input': L.bind(this.handleSearch, this)
		});
		this.backupNode = this.readonly ? null : E('button', {
			'class': 'cbi-button cbi-button-action',
			'id': 'transferometer-backup',
			'title': _('Download the whole ledger (every device, day and period) as one file'),
			'click': ui.createHandlerFn(this, 'handleBackup')
		}, [ _('Backup') ]);
		this.restoreFileNode = this.readonly ? null : E('input', {
			'type': 'file',
			'id': 'transferometer-restore-file',
			'accept': '.gz,application/gzip,application/x-gzip',
			'hidden': 'hidden',
			'change': L.bind(this.handleRestoreFile, this)
		});
		this.restoreNode = this.readonly ? null : E('button', {
			'class': 'cbi-button cbi-button-negative',
			'id': 'transferometer-restore',
			'title': _('Replace the ledger with a backup file'),
			'click': L.bind(function() { this.restoreFileNode.value = ''; this.restoreFileNode.click(); }, this)
		}, [ _('Restore…') ]);
		this.periodLabelNode = E('div', { 'class': 'cbi-section-descr', 'id': 'transferometer-period-label' });
		this.historyNode = E('div', { 'class': 'cbi-section', 'id': 'transferometer-history' });
		this.groupsNode = E('div', { 'class': 'cbi-section', 'id': 'transferometer-groups-section' });
		this.summaryNode = E('div', { 'class': 'cbi-section-descr', 'id': 'transferometer-summary' });
		this.tableNode = E('table', {
			'class': 'table cbi-section-table',
			'id': 'transferometer-hosts',
			'data-source': 'poll'
		});
		this.routerNode = E('div', { 'class': 'cbi-section-descr', 'id': 'transferometer-router' });
		this.resetAllNode = this.readonly ? null : E('button', {
			'class': 'cbi-button cbi-button-negative',
			'id': 'transferometer-reset-all',
			'click': ui.createHandlerFn(this, 'handleResetAll')
		}, [ _('Reset all counters…') ]);

		var node = E('div', { 'class': 'cbi-map', 'id': 'cbi-transferometer-usage' }, [
			E('style', {}, [ STYLE ]),
			E('h2', { 'name': 'content' }, [ _('Transferometer') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('Traffic of every LAN device in the accounting period you pick. The page refreshes every %d seconds; the current rate comes live from the router when its live feed can be reached, else it is the change between two refreshes.').format(POLL_INTERVAL)
			]),
			this.warningsNode,
			this.statusNode,
			E('div', { 'class': 'cbi-section' }, [
				E('div', {
					'id': 'transferometer-toolbar',
					'style': 'display:flex; flex-wrap:wrap; align-items:center; gap:.5em 1em; margin-bottom:.5em'
				}, [
					E('label', { 'for': 'transferometer-period', 'style': 'display:flex; align-items:center; gap:.5em' }, [
						_('Period:'), this.periodNode
					]),
					E('label', { 'for': 'transferometer-search', 'style': 'display:flex; align-items:center; gap:.5em' }, [
						_('Search:'), this.searchNode
					]),
					E('span', { 'style': 'margin-left:auto; display:flex; flex-wrap:wrap; gap:.5em' }, [
						this.csvNode, this.jsonNode,
						this.backupNode || '', this.restoreNode || '', this.restoreFileNode || ''
					])
				]),
				this.periodLabelNode,
				this.summaryNode
			]),
			this.historyNode,
			this.groupsNode,
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Devices') ]),
				this.tableNode,
				this.routerNode
			]),
			this.resetAllNode ? E('div', { 'class': 'cbi-page-actions' }, [ this.resetAllNode ]) : ''
		]);

		this.update(usage);
		this.refreshHistory();

		poll.add(L.bind(this.poll, this), POLL_INTERVAL);

		return node;
	},

	/* --- the table's sort and search, kept across reloads --- */

	loadTableState: function() {
		try {
			return helpers.parseTableState(window.localStorage.getItem(STATE_KEY));
		}
		catch (e) {
			return helpers.parseTableState(null);
		}
	},

	saveTableState: function() {
		try {
			window.localStorage.setItem(STATE_KEY, JSON.stringify({ sortKey: this.sortKey, sortDir: this.sortDir, query: this.query }));
		}
		catch (e) {
			/* private mode or storage full: the page works without remembering */
		}
	},

	handleSearch: function(ev) {
		this.query = String(ev.target.value || '');
		this.saveTableState();
		this.renderRows();
	},

	/* The poll step: skipped when the last fetch is too recent to give a rate. */
	poll: function() {
		if (Date.now() - this.fetchedAt < (POLL_INTERVAL - 1) * 1000)
			return Promise.resolve();

		if (++this.historyPolls >= HISTORY_EVERY) {
			this.historyPolls = 0;
			this.refreshHistory();
			this.refreshDetails();
		}

		return this.refresh();
	},

	refresh: function() {
		var gen = this.generation;

		this.fetchedAt = Date.now();

		return callUsage(undefined, this.period != 'current' ? this.period : undefined)
			.catch(rpcFailure)
			.then(L.bind(function(res) {
				if (gen === this.generation)
					this.update(res);
			}, this));
	},

	update: function(usage) {
		if (isFailure(usage)) {
			/* the selected period is no longer kept (or the router's clock moved): back to the current one */
			if (L.isObject(usage) && usage.code == 'not_found' && this.period != 'current') {
				this.lastFailure = null;
				this.reportFailure(_('The selected period is not available: %s. Showing the current period.'), usage);
				this.selectPeriod('current');
				return this.refresh();
			}

			this.reportFailure(_('Could not read the traffic counters: %s'), usage);

			if (!this.usage)
				this.renderRows();

			this.updateTools();

			return;
		}

		this.lastFailure = null;

		/* rates from successive replies, for the current period only */
		var key = this.periodKey(usage);

		if (this.isCurrent(usage)) {
			if (this.snapshotKey != key) {
				this.snapshot = null;
				this.rates = {};
				this.snapshotKey = key;
			}

			var r = helpers.computeRates(this.snapshot, usage);

			this.snapshot = r.snapshot;

			if (r.rates)
				this.rates = r.rates;
		}

		this.usage = usage;

		this.renderPeriods(usage);
		this.renderWarnings(Array.isArray(usage.warnings) ? usage.warnings : []);
		this.renderStatus(usage);
		this.renderGroups(usage);
		this.renderRows();
		this.updateTools();
		this.checkLive();
	},

	periodKey: function(usage) {
		return (L.isObject(usage) && L.isObject(usage.period)) ? String(usage.period.key) : null;
	},

	/* A reply for the current period (a backend without periods has only that one). */
	isCurrent: function(usage) {
		if (!L.isObject(usage) || !L.isObject(usage.period))
			return true;

		return Array.isArray(usage.periods) && usage.period.key === usage.periods[0];
	},

	isAll: function(usage) {
		return L.isObject(usage) && L.isObject(usage.period) && usage.period.key === 'all';
	},

	columnShown: function(col) {
		switch (col[4]) {
		case 'current': return this.isCurrent(this.usage);
		case 'today':   return this.isCurrent(this.usage) || this.isAll(this.usage);
		case 'write':   return !this.readonly;
		case 'quota':   return this.isCurrent(this.usage) && quota.shown(this.usage);
		}

		return true;
	},

	columns: function() {
		return COLUMNS.filter(L.bind(this.columnShown, this));
	},

	/* One notification per distinct failure, not one per poll. */
	reportFailure: function(fmt, res) {
		var text = failureText(res);

		if (text === this.lastFailure)
			return;

		this.lastFailure = text;

		ui.addNotification(null, E('p', [ fmt.format(text) ]), 'danger');
	},

	/* The selector: the periods of the reply (backends without periods get none). */
	renderPeriods: function(usage) {
		var show = Array.isArray(usage.periods);

		this.periodNode.parentNode.style.display = show ? 'flex' : 'none';

		if (!show)
			return;

		var opts = helpers.periodOptions(usage.periods),
		    sel = this.period,
		    sig = JSON.stringify(opts);

		if (!opts.some(function(o) { return o.value === sel; }))
			opts.splice(opts.length - 1, 0, { value: sel, label: _('Period from %s').format(helpers.shortDate(sel)) });

		if (sig !== this.periodSig || this.periodNode.value !== sel) {
			dom.content(this.periodNode, opts.map(function(o) {
				return E('option', { 'value': o.value }, [ o.label ]);
			}));
			this.periodNode.value = sel;
			this.periodSig = sig;
		}
	},

	/* A new selection: replies to requests made before it are dropped, and poll-based rates start over. */
	selectPeriod: function(value) {
		this.period = value;
		this.generation++;
		this.periodNode.value = value;
		this.snapshot = null;
		this.rates = {};
	},

	handlePeriod: function(ev) {
		var value = ev.target.value;

		if (value === this.period)
			return;

		this.selectPeriod(value);
		this.periodNode.disabled = true;
		this.refreshHistory();
		this.refreshDetails();

		return this.refresh().finally(L.bind(function() {
			this.periodNode.disabled = false;
		}, this));
	},

	updateTools: function() {
		var ok = L.isObject(this.usage) && Array.isArray(this.usage.hosts);

		this.csvNode.disabled = !ok;
		this.jsonNode.disabled = !ok;
	},

	/* The shown period as a file: a Blob, an object URL, a temporary <a download>. */
	handleDownload: function(format, ev) {
		var usage = this.usage;

		if (!L.isObject(usage) || !Array.isArray(usage.hosts))
			return;

		var csv = (format == 'csv'),
		    blob = new Blob([ csv ? helpers.usageCSV(usage) : helpers.usageJSON(usage) ], {
				type: csv ? 'text/csv;charset=utf-8' : 'application/json'
			}),
		    url = URL.createObjectURL(blob),
		    a = E('a', {
				'href': url,
				'download': helpers.exportFilename(usage, csv ? 'csv' : 'json'),
				'style': 'display:none'
			});

		document.body.appendChild(a);
		a.click();
		document.body.removeChild(a);

		window.setTimeout(function() { URL.revokeObjectURL(url); }, 10000);
	},

	/* Warnings as banners; the ones that only inform (NOTICE_CODES) as notices. */
	renderWarnings: function(warnings) {
		dom.content(this.warningsNode, warnings.map(function(w) {
			var code = String(w.code || ''),
			    notice = NOTICE_CODES.indexOf(code) >= 0;

			return E('div', {
				'class': notice ? 'alert-message notice' : 'alert-message warning',
				'data-code': code
			}, [
				E('strong', [ notice ? _('Note:') : _('Warning:') ]), ' ',
				String(w.message || w.code || '')
			]);
		}));
	},

	renderStatus: function(usage) {
		var hosts = Array.isArray(usage.hosts) ? usage.hosts : [],
		    warned = (Array.isArray(usage.warnings) ? usage.warnings : []).some(function(w) {
				return w && w.code == 'disabled';
			});

		/* the backend usually says so itself, as a warning with code disabled */
		dom.content(this.statusNode, (usage.enabled === false && hosts.length && !warned) ? E('div', {
			'class': 'alert-message notice',
			'id': 'transferometer-disabled'
		}, [ _('Accounting is disabled: these figures are not being updated.') ]) : []);

		dom.content(this.periodLabelNode, !L.isObject(usage.period) ? [] : this.isAll(usage) ? [
			E('strong', [ _('Since the last reset') ])
		] : [
			E('strong', [ this.isCurrent(usage) ? _('Current period:') : _('Period:') ]), ' ',
			helpers.periodLabel(usage.period)
		]);

		var at = +usage.collected_at;

		dom.content(this.summaryNode, isFinite(at) && at > 0 ? [
			_('Collected at %s').format(new Date(at * 1000).toLocaleString()),
			usage.backend ? ' · ' + _('backend: %s').format(usage.backend) : '',
			/* where the forwarded bytes are counted, when it is not the usual forward hook */
			usage.placement == 'netdev' ? ' · ' : '',
			usage.placement == 'netdev' ? E('span', {
				'id': 'transferometer-placement',
				'data-placement': 'netdev',
				'title': String(usage.placement_reason || '')
			}, [ _('counted on the LAN devices') ]) : '',
			this.isCurrent(usage) ? E('span', { 'id': 'transferometer-rate-source' }) : ''
		] : []);

		this.renderRateSource();

		var rt = usage.router,
		    un = usage.unattributed,
		    extra = [];

		if (L.isObject(rt))
			extra.push(E('span', { 'id': 'transferometer-router-traffic' }, [
				_('The router itself:') + ' ',
				E('span', { 'title': helpers.exactTitle(+rt.input_bytes || 0, rt.input_packets) }, [
					_('%s received').format(helpers.formatBytes(+rt.input_bytes || 0))
				]),
				', ',
				E('span', { 'title': helpers.exactTitle(+rt.output_bytes || 0, rt.output_packets) }, [
					_('%s sent').format(helpers.formatBytes(+rt.output_bytes || 0))
				]),
				'. '
			]));

		/* LAN traffic of addresses that belong to no known device */
		if (L.isObject(un) && ((+un.download_bytes || 0) + (+un.upload_bytes || 0)) > 0)
			extra.push(E('span', { 'id': 'transferometer-unattributed' }, [
				_('Not attributed to a device:') + ' ',
				E('span', { 'title': helpers.exactTitle(+un.download_bytes || 0, un.download_packets) }, [
					_('%s down').format(helpers.formatBytes(+un.download_bytes || 0))
				]),
				', ',
				E('span', { 'title': helpers.exactTitle(+un.upload_bytes || 0, un.upload_packets) }, [
					_('%s up').format(helpers.formatBytes(+un.upload_bytes || 0))
				]),
				'.'
			]));

		dom.content(this.routerNode, extra);
	},

	renderHeader: function(cols) {
		var self = this;

		return E('tr', { 'class': 'tr table-titles' }, cols.map(function(col) {
			var key = col[0];

			if (!col[2])
				return E('th', { 'class': 'th' + col[3] }, [ col[1] ]);

			var active = (self.sortKey == key);

			return E('th', {
				'class': 'th' + col[3] + (active ? ' sorted' : ''),
				'data-sort': key,
				'aria-sort': active ? (self.sortDir == 'asc' ? 'ascending' : 'descending') : 'none',
				'style': 'user-select:none'
			}, [ E('button', {
				'type': 'button',
				'class': 'transferometer-sort',
				'data-action': 'sort',
				'data-key': key,
				'title': _('Sort by this column'),
				'click': L.bind(self.handleSort, self, key)
			}, [ col[1], active ? (self.sortDir == 'asc' ? ' ▲' : ' ▼') : '' ]) ]);
		}));
	},

	renderRows: function() {
		var usage = this.usage,
		    hosts = (usage && Array.isArray(usage.hosts)) ? usage.hosts : [],
		    cols = this.columns(),
		    rows = [],
		    focus = this.focusedControl();

		/* a sort column that is not shown (rate, today) falls back to total */
		if (!cols.some(L.bind(function(c) { return c[0] == this.sortKey; }, this))) {
			this.sortKey = 'total';
			this.sortDir = 'desc';
		}

		rows.push(this.renderHeader(cols));

		if (!usage) {
			rows.push(this.renderPlaceholder(cols, _('No data: the traffic counters could not be read.')));
		}
		else if (!hosts.length) {
			rows.push(this.renderEmpty(cols, usage));
		}
		else {
			var rates = this.currentRates(),
			    byMAC = {},
			    shown = helpers.filterHosts(hosts, this.query, this.hints),
			    sorted = helpers.sortHosts(helpers.withShownNames(shown, this.hints), this.sortKey, this.sortDir, rates);

			hosts.forEach(function(h) { byMAC[h.mac] = h; });

			for (var i = 0; i < sorted.length; i++) {
				var host = byMAC[sorted[i].mac] || sorted[i];

				rows.push(this.renderHost(cols, host, i, rates));

				if (this.expanded[host.mac])
					rows.push(this.renderDetail(cols, host));
			}

			if (!sorted.length)
				rows.push(this.renderPlaceholder(cols, _('No device matches the search.')));

			rows.push(this.renderTotals(cols, usage, this.query.trim() ? shown : hosts, rates, hosts.length));
		}

		dom.content(this.tableNode, rows);
		this.restoreFocus(focus);
		this.tableNode.setAttribute('data-period', this.periodKey(usage) || '');
		this.tableNode.setAttribute('data-source', this.rateSource());

		if (this.resetAllNode)
			this.resetAllNode.disabled = !hosts.length;
	},

	/* The table is rebuilt on every refresh: the control that had the focus gets it back. */
	focusedControl: function() {
		var el = document.activeElement;

		if (!el || !this.tableNode.contains(el) || !el.hasAttribute('data-action'))
			return null;

		var row = el.closest('tr');

		return {
			action: el.getAttribute('data-action'),
			key: el.getAttribute('data-key'),
			mac: row ? row.getAttribute('data-mac') : null
		};
	},

	restoreFocus: function(f) {
		if (!f)
			return;

		var sel = '[data-action="%s"]'.format(f.action) + (f.key ? '[data-key="%s"]'.format(f.key) : ''),
		    scope = f.mac ? this.tableNode.querySelector('tr[data-mac="%s"]'.format(f.mac)) : this.tableNode,
		    el = scope ? scope.querySelector(sel) : null;

		if (el)
			el.focus();
	},

	renderPlaceholder: function(cols, text) {
		var em = E('em', [ text ]);

		return E('tr', { 'class': 'tr placeholder', 'id': 'transferometer-empty' }, [
			E('td', { 'class': 'td', 'colspan': cols.length }, [ em ])
		]);
	},

	/* Explain an empty table: disabled, or nothing seen yet. */
	renderEmpty: function(cols, usage) {
		if (usage.enabled === false) {
			var off = this.renderPlaceholder(cols, _('Accounting is disabled, so no traffic is being counted.'));

			off.firstChild.appendChild(E('span', [
				' ',
				E('a', { 'href': L.url('admin/status/transferometer/settings') }, [ _('Enable it in the settings.') ])
			]));
			off.setAttribute('data-reason', 'disabled');

			return off;
		}

		var row = this.renderPlaceholder(cols, _('No devices have been seen on the LAN yet. A device appears here once it gets a DHCP lease or shows up in the neighbour table; dnsmasq reports new neighbours within about 90 seconds.'));

		row.setAttribute('data-reason', 'no-hosts');

		/* Known hosts without counters would be a different story: ask. */
		callHosts().then(function(res) {
			var n = isFailure(res, 'hosts') ? 0 : res.hosts.length;

			if (n > 0 && row.parentNode) {
				dom.content(row.querySelector('em'), [
					_('%d devices are known, but none of them has been counted yet.').format(n)
				]);
				row.setAttribute('data-reason', 'not-counted');
			}
		}).catch(function() {});

		return row;
	},

	renderBytesCell: function(col, bytes, packets) {
		return E('td', {
			'class': 'td right',
			'data-col': col,
			'data-bytes': String(+bytes || 0),
			'title': helpers.exactTitle(+bytes || 0, packets)
		}, [ helpers.formatBytes(+bytes || 0) ]);
	},

	renderTodayCell: function(today) {
		var t = L.isObject(today) ? today : {},
		    total = (+t.download_bytes || 0) + (+t.upload_bytes || 0);

		return E('td', {
			'class': 'td right',
			'data-col': 'today',
			'data-bytes': String(total),
			'title': helpers.todayTitle(t)
		}, [ helpers.formatBytes(total) ]);
	},

	renderRateCell: function(rate) {
		var down = rate ? rate.down : null,
		    up = rate ? rate.up : null,
		    known = (helpers.rateTotal(rate) != null),
		    live = (this.rateSource() == 'live');

		return E('td', {
			'class': 'td right',
			'data-col': 'rate',
			'title': known
				? (live ? _('Live from the router, updated every second') : _('Average over the last refresh interval'))
				: _('Known after the next refresh')
		}, known ? [
			E('span', { 'class': 'nowrap' }, [ '↓ ' + helpers.formatRate(down) ]), E('br'),
			E('span', { 'class': 'nowrap' }, [ '↑ ' + helpers.formatRate(up) ])
		] : [ '-' ]);
	},

	renderHost: function(cols, host, index, rates) {
		var mac = String(host.mac || ''),
		    ips = Array.isArray(host.ips) ? host.ips : [],
		    ipNodes = [],
		    age = (+this.usage.collected_at) - (+host.last_seen),
		    cells = {};

		for (var i = 0; i < ips.length; i++) {
			if (i)
				ipNodes.push(E('br'));
			ipNodes.push(String(ips[i]));
		}

		var shown = helpers.shownName(host, this.hints),
		    open = !!this.expanded[mac];

		cells.device = E('td', { 'class': 'td transferometer-device', 'data-col': 'device', 'data-title': _('Device') }, [
			E('button', {
				'type': 'button',
				'class': 'cbi-button transferometer-icon',
				'data-action': 'expand',
				'aria-expanded': open ? 'true' : 'false',
				'aria-controls': this.detailId(mac),
				'title': open ? _('Hide the days and hours of this device') : _('Show the days and hours of this device'),
				'click': L.bind(this.toggleDetail, this, mac)
			}, [ open ? '▾' : '▸' ]),
			shown.name
				? E('span', {
					'class': 'transferometer-name',
					'data-source': shown.source,
					'title': shown.source == 'given' ? _('The name given to this device')
						: shown.source == 'dhcp' ? _('The name the device announced with DHCP')
						: _('The name LuCI knows for this MAC address (e.g. from /etc/ethers or a static lease)')
				}, [ shown.name ])
				: E('em', {
					'class': 'transferometer-name transferometer-unnamed',
					'style': 'opacity:.6',
					'title': _('No name known: none given, none announced with DHCP, none known to LuCI')
				}, [ _('unnamed') ]),
			host.group ? E('small', { 'class': 'transferometer-group', 'title': _('Group') }, [ ' · ', String(host.group) ]) : '',
			host.active === false ? E('small', { 'class': 'transferometer-offline' }, [ ' (' + _('offline') + ')' ]) : '',
			this.canEditNames ? E('button', {
				'type': 'button',
				'class': 'cbi-button transferometer-icon',
				'style': 'margin-left:.4em',
				'data-action': 'edit-name',
				'title': _('Set the name and group of this device'),
				'aria-label': _('Set the name and group of %s').format(helpers.hostLabel(host)),
				'click': ui.createHandlerFn(this, 'handleEditName', host)
			}, [ '✎' ]) : ''
		]);
		cells.mac = E('td', { 'class': 'td', 'data-col': 'mac', 'data-title': _('MAC address') }, [ mac.toUpperCase() ]);
		cells.ips = E('td', { 'class': 'td', 'data-col': 'ips', 'data-title': _('IP addresses') },
			ipNodes.length ? ipNodes : [ '-' ]);
		cells.download = this.renderBytesCell('download', host.download_bytes, host.download_packets);
		cells.upload = this.renderBytesCell('upload', host.upload_bytes, host.upload_packets);
		cells.total = this.renderBytesCell('total', helpers.hostTotal(host),
			(+host.download_packets || 0) + (+host.upload_packets || 0));
		cells.today = this.renderTodayCell(host.today);
		cells.rate = this.renderRateCell(rates[mac]);
		cells.last_seen = E('td', {
			'class': 'td',
			'data-col': 'last_seen',
			'title': host.last_seen > 0 ? new Date(host.last_seen * 1000).toLocaleString() : ''
		}, [ host.last_seen > 0 ? helpers.relativeAge(age) : _('never') ]);
		cells.quota = quota.renderCell(host, this.usage, { readonly: this.readonly, refresh: L.bind(this.refresh, this) });
		cells.actions = E('td', { 'class': 'td cbi-section-actions' }, [
			E('button', {
				'class': 'cbi-button cbi-button-negative',
				'data-action': 'reset',
				'title': _('Reset the counters of this device'),
				'click': ui.createHandlerFn(this, 'handleResetHost', host)
			}, [ _('Reset') ])
		]);

		return E('tr', {
			'class': 'tr cbi-rowstyle-%d%s'.format(1 + (index % 2), host.active === false ? ' inactive' : ''),
			'data-mac': mac
		}, cols.map(function(col) { return cells[col[0]]; }));
	},

	renderTotals: function(cols, usage, hosts, rates, all) {
		var filtered = (hosts.length !== all || this.query.trim() !== ''),
		    t = (!filtered && L.isObject(usage.totals)) ? usage.totals : helpers.sumHosts(hosts),
		    macs = {},
		    down = +t.download_bytes || 0,
		    up = +t.upload_bytes || 0,
		    today = helpers.sumHosts(hosts.map(function(h) { return L.isObject(h.today) ? h.today : {}; })),
		    cells = {};

		hosts.forEach(function(h) { macs[h.mac] = true; });

		cells.device = E('td', { 'class': 'td', 'data-col': 'device' }, [
			E('strong', [ _('Total') ]), ' ',
			E('small', [ filtered
				? _('(%d of %d devices)').format(hosts.length, all)
				: _('(%d devices)').format(hosts.length) ])
		]);
		cells.download = this.renderBytesCell('download', down, t.download_packets);
		cells.upload = this.renderBytesCell('upload', up, t.upload_packets);
		cells.total = this.renderBytesCell('total', down + up,
			(+t.download_packets || 0) + (+t.upload_packets || 0));
		cells.today = this.renderTodayCell(today);
		cells.rate = this.renderRateCell(helpers.sumRates(this.ratesOf(rates, macs)));

		return E('tr', { 'class': 'tr transferometer-totals', 'data-totals': 'true', 'data-filtered': filtered ? 'true' : 'false' }, cols.map(function(col) {
			return cells[col[0]] || E('td', { 'class': 'td' }, [ '' ]);
		}));
	},

	/* The rates of the devices in macs. */
	ratesOf: function(rates, macs) {
		var out = {};

		for (var mac in rates)
			if (macs[mac])
				out[mac] = rates[mac];

		return out;
	},

	/* --- current rates: live feed, else successive polls --- */

	rateSource: function() {
		return (this.ws && this.liveRates && Date.now() - this.liveSeen < LIVE_STALE_MS) ? 'live' : 'poll';
	},

	/* MAC -> { down, up } for the rate column.  The feed covers every counted device: one it leaves out moves nothing. */
	currentRates: function() {
		if (this.rateSource() != 'live')
			return this.rates;

		var out = {},
		    hosts = (this.usage && Array.isArray(this.usage.hosts)) ? this.usage.hosts : [];

		for (var i = 0; i < hosts.length; i++) {
			var mac = String(hosts[i].mac || '');
			out[mac] = this.liveRates[mac.toLowerCase()] || { down: 0, up: 0 };
		}

		return out;
	},

	renderRateSource: function() {
		var node = this.summaryNode.querySelector('#transferometer-rate-source');

		if (!node)
			return;

		var live = (this.rateSource() == 'live'),
		    cert = (!live && !this.liveHeard && this.liveFailures >= 2)
				? helpers.liveCertURL(window.location, this.usage && this.usage.live) : null;

		node.setAttribute('data-source', live ? 'live' : 'poll');
		dom.content(node, [ ' · ', live
			? _('rates: live')
			: _('rates: from the refreshes every %d s').format(POLL_INTERVAL),
			/* over https the feed needs the router's certificate, which a websocket never asks about */
			cert ? E('span', [ ' (', E('a', { 'href': cert, 'target': '_blank', 'rel': 'noopener' }, [
				_('for live rates, open this once and accept the router\'s certificate')
			]), ')' ]) : '' ]);
	},

	/* Put the current rates into the table without rebuilding it (a live message comes every second). */
	applyRates: function() {
		var source = this.rateSource();

		this.tableNode.setAttribute('data-source', source);
		this.renderRateSource();

		if (!this.isCurrent(this.usage))
			return;

		var rates = this.currentRates(),
		    rows = this.tableNode.querySelectorAll('tr[data-mac], tr[data-totals]');

		for (var i = 0; i < rows.length; i++) {
			var old = rows[i].querySelector('td[data-col="rate"]');

			if (!old)
				continue;

			var rate = rows[i].hasAttribute('data-totals')
				? helpers.sumRates(this.ratesOf(rates, this.shownMACs()))
				: rates[rows[i].getAttribute('data-mac')];

			rows[i].replaceChild(this.renderRateCell(rate), old);
		}
	},

	shownMACs: function() {
		var macs = {}, rows = this.tableNode.querySelectorAll('tr[data-mac]');

		for (var i = 0; i < rows.length; i++)
			macs[rows[i].getAttribute('data-mac')] = true;

		return macs;
	},

	/* Called after every usage reply: connect when the feed is configured and we are not connected or waiting. */
	checkLive: function() {
		if (this.ws || this.liveTimer)
			return this.liveStale();

		this.connectLive();
	},

	/* A connected feed that went quiet: show the poll-based rates until it speaks again. */
	liveStale: function() {
		if (this.ws && this.liveRates && this.rateSource() != 'live')
			this.applyRates();
	},

	connectLive: function() {
		this.liveTimer = null;

		var url = helpers.liveURL(window.location, this.usage && this.usage.live, rpc.getSessionID());

		if (!url || typeof(window.WebSocket) != 'function')
			return;

		var ws, heard = false;

		try {
			ws = new WebSocket(url);
		}
		catch (e) {
			this.scheduleLive();
			return;
		}

		this.ws = ws;

		ws.onmessage = L.bind(function(ev) {
			var msg = helpers.parseLiveMessage(ev.data);

			if (this.ws !== ws || !msg)
				return;

			if (!heard) {
				heard = true;
				this.liveHeard = true;
				this.liveAttempt = 0;
			}

			this.liveRates = msg.rates;
			this.liveSeen = Date.now();
			this.applyRates();
		}, this);

		/* the browser reports a failed connection itself; close follows, which is where we act */
		ws.onerror = function() {};

		ws.onclose = L.bind(function() {
			if (this.ws !== ws)
				return;

			this.ws = null;
			this.liveRates = null;

			if (!heard)
				this.liveFailures++;

			this.applyRates();
			this.scheduleLive();
		}, this);
	},

	/* Try again later, waiting longer after each failure (5 s up to 60 s); a feed that worked resets that. */
	scheduleLive: function() {
		if (this.liveTimer)
			return;

		var delay = helpers.backoffDelay(this.liveAttempt++);

		this.liveTimer = window.setTimeout(L.bind(this.connectLive, this), delay * 1000);
	},

	/* --- groups --- */

	renderGroups: function(usage) {
		var groups = Array.isArray(usage.groups) ? usage.groups : [],
		    today = this.isCurrent(usage) || this.isAll(usage);

		if (!groups.length) {
			dom.content(this.groupsNode, []);
			return;
		}

		var head = [ _('Group'), _('Devices'), _('Download'), _('Upload'), _('Total') ].concat(today ? [ _('Today') ] : []);

		dom.content(this.groupsNode, [
			E('h3', [ _('Groups') ]),
			E('table', { 'class': 'table cbi-section-table', 'id': 'transferometer-groups' }, [
				E('tr', { 'class': 'tr table-titles' }, head.map(function(t, i) {
					return E('th', { 'class': 'th' + (i >= 2 ? ' right' : '') }, [ t ]);
				}))
			].concat(groups.map(L.bind(function(g, i) {
				var cells = [
					E('td', { 'class': 'td', 'data-col': 'group' }, [ String(g.group || '') ]),
					E('td', { 'class': 'td', 'data-col': 'devices' }, [ String(+g.devices || 0) ]),
					this.renderBytesCell('download', g.download_bytes, g.download_packets),
					this.renderBytesCell('upload', g.upload_bytes, g.upload_packets),
					this.renderBytesCell('total', (+g.download_bytes || 0) + (+g.upload_bytes || 0),
						(+g.download_packets || 0) + (+g.upload_packets || 0))
				];

				if (today)
					cells.push(this.renderTodayCell(g.today));

				return E('tr', { 'class': 'tr cbi-rowstyle-%d'.format(1 + (i % 2)), 'data-group': String(g.group || '') }, cells);
			}, this))))
		]);
	},

	/* --- over time: the period's days, a device's days and hours --- */

	/* The period history is asked for: the selection, except "all", which has no days of its own. */
	historyPeriod: function() {
		return (this.period == 'all') ? null : this.period;
	},

	refreshHistory: function() {
		var gen = this.generation, period = this.historyPeriod();

		if (period == null) {
			this.history = null;
			this.historyFailure = null;
			this.renderHistory();
			return Promise.resolve();
		}

		return callHistory(period).catch(rpcFailure).then(L.bind(function(res) {
			if (gen !== this.generation)
				return;

			var ok = L.isObject(res) && res.error == null && Array.isArray(res.days);

			this.history = ok ? res : null;
			this.historyFailure = ok ? null : res;
			this.renderHistory();
		}, this));
	},

	/* What a series of a chart is called: a device's shown name (else its MAC), or "other devices". */
	seriesLabel: function(key, names) {
		if (key == 'others')
			return _('Other devices');

		var hosts = (this.usage && Array.isArray(this.usage.hosts)) ? this.usage.hosts : [],
		    mac = String(key).toLowerCase();

		for (var i = 0; i < hosts.length; i++)
			if (String(hosts[i].mac).toLowerCase() == mac)
				return helpers.hostLabel({ name: helpers.shownName(hosts[i], this.hints).name, mac: mac });

		var n = L.isObject(names) ? (names[key] || names[mac]) : null;

		return helpers.hostLabel({
			name: helpers.shownName({ mac: mac, name: n && n.name, hostname: n && n.hostname }, this.hints).name,
			mac: mac
		});
	},

	renderHistory: function() {
		var hist = this.history, nodes = [ E('h3', [ _('Over time') ]) ];

		if (this.period == 'all') {
			nodes.push(E('p', { 'class': 'cbi-section-descr', 'id': 'transferometer-history-none' }, [
				_('Pick an accounting period to see its days.')
			]));
		}
		else if (!hist) {
			nodes.push(E('p', { 'class': 'cbi-section-descr', 'id': 'transferometer-history-none' }, [
				this.historyFailure ? _('The history of this period could not be read: %s').format(failureText(this.historyFailure))
					: _('Loading the history…')
			]));
		}
		else {
			var cur = L.isObject(hist.period) ? hist.period : {},
			    prev = L.isObject(hist.previous) ? hist.previous : null,
			    total = (+cur.download || 0) + (+cur.upload || 0),
			    pct = helpers.compareTotals(cur, prev),
			    line = [];

			line.push(E('span', { 'id': 'transferometer-period-total', 'data-bytes': String(total) }, [
				(cur.current ? _('This period so far: %s (↓ %s, ↑ %s).') : _('This period: %s (↓ %s, ↑ %s).')).format(
					helpers.formatBytes(total), helpers.formatBytes(+cur.download || 0), helpers.formatBytes(+cur.upload || 0))
			]));

			if (prev) {
				var prevTotal = (+prev.download || 0) + (+prev.upload || 0);

				line.push(' ', E('span', {
					'id': 'transferometer-compare',
					'data-percent': pct == null ? '' : String(Math.round(pct)),
					'title': _('The previous period, %s to %s: %s').format(helpers.formatDay(prev.start), helpers.formatDay(prev.end),
						helpers.exactTitle(prevTotal))
				}, [ pct == null
					? _('The previous period counted nothing.')
					: _('%s against the previous period (%s).').format(helpers.formatPercent(pct), helpers.formatBytes(prevTotal)) ]));
			}

			if (cur.current && isFinite(+cur.remaining_days)) {
				var rd = Math.max(0, Math.floor(+cur.remaining_days));

				line.push(' ', E('span', { 'id': 'transferometer-remaining', 'data-days': String(rd) }, [
					N_(rd, '%d day left in this period.', '%d days left in this period.').format(rd)
				]));
			}

			/* the current period's days still to come, as empty slots: the chart spans the whole period */
			var days = hist.days.concat(cur.current ? helpers.daysAfter(hist.days.length ? hist.days[hist.days.length - 1].date : null, cur.end) : []);

			nodes.push(E('p', { 'class': 'cbi-section-descr' }, line));
			nodes.push(this.renderChart(helpers.stackBuckets(days), days.map(function(d) { return String(d.date); }), 'day', {
				future: hist.days.length,
				id: 'transferometer-chart-days',
				caption: _('Download and upload per day, all devices'),
				names: hist.names
			}));
		}

		dom.content(this.historyNode, nodes);
	},

	/*
	 * A stacked bar chart (SVG, drawn with E()): one bar per bucket,
	 * download stacked upwards from the middle line, upload downwards,
	 * one colour per series.  Each bar segment has a <title> with its
	 * exact figures, each bucket a tooltip with all of them; a visually
	 * hidden table carries the same figures for screen readers.
	 */
	renderChart: function(model, keys, kind, opts) {
		var n = keys.length,
		    SLOT = (kind == 'hour') ? 22 : 24, BAR = SLOT - 6,
		    ML = 84, MR = 8, MT = 10, HH = 80, XL = 20,
		    width = ML + Math.max(n, 1) * SLOT + MR,
		    height = MT + 2 * HH + XL,
		    y0 = MT + HH,
		    scale = helpers.chartScale(model.max),
		    self = this,
		    color = function(j) { return model.series[j] == 'others' ? OTHERS_COLOR : PALETTE[j % PALETTE.length]; },
		    labels = model.series.map(function(key) { return self.seriesLabel(key, opts.names); }),
		    bucketText = function(i) { return helpers.formatBucket(keys[i], kind == 'hour' ? 'hour' : 'long'); },
		    every = (kind == 'hour') ? 3 : (n > 16 ? 2 : 1),
		    parts = [];

		[ MT, MT + HH / 2, y0 + HH / 2, y0 + HH ].forEach(function(y) {
			parts.push(S('line', { 'class': 'transferometer-grid', 'x1': ML, 'x2': width - MR, 'y1': y, 'y2': y }));
		});

		parts.push(
			S('text', { 'x': ML - 6, 'y': MT + 4, 'text-anchor': 'end' }, [ '↓ ' + helpers.formatBytes(scale) ]),
			S('text', { 'x': ML - 6, 'y': y0 + 4, 'text-anchor': 'end' }, [ '0' ]),
			S('text', { 'x': ML - 6, 'y': y0 + HH, 'text-anchor': 'end' }, [ '↑ ' + helpers.formatBytes(scale) ]));

		model.bars.forEach(function(bar, i) {
			var x = ML + i * SLOT + (SLOT - BAR) / 2,
			    yd = y0, yu = y0,
			    g = [ S('rect', { 'class': 'transferometer-hit', 'x': ML + i * SLOT, 'y': MT, 'width': SLOT, 'height': 2 * HH }, [
					S('title', {}, [ _('%s: ↓ %s, ↑ %s').format(bucketText(i), helpers.exactTitle(bar.download), helpers.exactTitle(bar.upload)) ])
				]) ];

			model.series.forEach(function(key, j) {
				[ [ 'down', bar.down[j] ], [ 'up', bar.up[j] ] ].forEach(function(seg) {
					var v = seg[1], hgt = helpers.barHeight(v, scale, HH);

					if (!(v > 0))
						return;

					var y = (seg[0] == 'down') ? (yd -= hgt) : yu;

					if (seg[0] == 'up')
						yu += hgt;

					g.push(S('rect', {
						'x': x, 'y': y, 'width': BAR, 'height': hgt,
						'fill': color(j),
						'data-series': key,
						'data-dir': seg[0],
						'data-bytes': String(v)
					}, [ S('title', {}, [ (seg[0] == 'down' ? _('%s, %s: download %s') : _('%s, %s: upload %s'))
						.format(labels[j], bucketText(i), helpers.exactTitle(v)) ]) ]));
				});
			});

			if (i % every == 0)
				g.push(S('text', { 'x': x + BAR / 2, 'y': height - 4, 'text-anchor': 'middle' }, [
					kind == 'hour' ? String(keys[i]).slice(11, 13) : String(+String(keys[i]).slice(8, 10))
				]));

			parts.push(S('g', {
				'class': 'transferometer-bucket',
				'data-future': (opts.future != null && i >= opts.future) ? 'true' : null,
				'data-bucket': keys[i],
				'data-download': String(bar.download),
				'data-upload': String(bar.upload)
			}, g));
		});

		parts.push(S('line', { 'class': 'transferometer-axis', 'x1': ML, 'x2': width - MR, 'y1': y0, 'y2': y0 }));

		var tip = E('div', { 'class': 'transferometer-tooltip', 'role': 'tooltip', 'hidden': 'hidden' }),
		    box = E('div', { 'class': 'transferometer-chart', 'id': opts.id }),
		    svg = S('svg', {
				'width': width, 'height': height, 'viewBox': '0 0 %d %d'.format(width, height),
				'role': 'img',
				'aria-label': opts.caption,
				'data-scale': String(scale),
				'data-half-height': String(HH),
				'mouseover': function(ev) {
					var gEl = ev.target.closest ? ev.target.closest('g.transferometer-bucket') : null;

					if (!gEl)
						return;

					var i = keys.indexOf(gEl.getAttribute('data-bucket')), bar = model.bars[i];

					if (!bar)
						return;

					dom.content(tip, [ E('strong', [ bucketText(i) ]), E('br'),
						_('Download: %s').format(helpers.exactTitle(bar.download)), E('br'),
						_('Upload: %s').format(helpers.exactTitle(bar.upload))
					].concat(model.series.reduce(function(acc, key, j) {
						if (bar.down[j] > 0 || bar.up[j] > 0)
							acc.push(E('br'), E('span', { 'class': 'transferometer-swatch', 'style': 'background:' + color(j) }),
								'%s: ↓ %s, ↑ %s'.format(labels[j], helpers.formatBytes(bar.down[j]), helpers.formatBytes(bar.up[j])));
						return acc;
					}, [])));
					tip.removeAttribute('hidden');
				},
				'mousemove': function(ev) {
					var r = box.getBoundingClientRect();

					tip.style.left = (ev.clientX - r.left + box.scrollLeft + 14) + 'px';
					tip.style.top = (ev.clientY - r.top + 14) + 'px';
				},
				'mouseleave': function() { tip.setAttribute('hidden', 'hidden'); }
			}, parts);

		dom.append(box, [ svg, tip,
			E('ul', { 'class': 'transferometer-legend' }, model.series.map(function(key, j) {
				return E('li', { 'data-series': key }, [
					E('span', { 'class': 'transferometer-swatch', 'style': 'background:' + color(j) }), labels[j]
				]);
			}).concat([ E('li', { 'class': 'transferometer-muted' }, [ _('Download above the line, upload below it.') ]) ])),
			E('div', { 'class': 'transferometer-sr-only' }, E('table', {}, [
				E('caption', [ opts.caption ]),
				E('tr', [
					E('th', { 'scope': 'col' }, [ kind == 'hour' ? _('Hour') : _('Day') ]),
					E('th', { 'scope': 'col' }, [ _('Download') ]),
					E('th', { 'scope': 'col' }, [ _('Upload') ]),
					E('th', { 'scope': 'col' }, [ _('Devices') ])
				])
			].concat(model.bars.filter(function(bar, i) { return opts.future == null || i < opts.future; }).map(function(bar, i) {
				return E('tr', { 'data-bucket': keys[i] }, [
					E('th', { 'scope': 'row' }, [ bucketText(i) ]),
					E('td', [ helpers.exactTitle(bar.download) ]),
					E('td', [ helpers.exactTitle(bar.upload) ]),
					E('td', [ model.series.filter(function(key, j) { return bar.down[j] > 0 || bar.up[j] > 0; }).map(function(key) {
						var j = model.series.indexOf(key);
						return '%s: ↓ %s, ↑ %s'.format(labels[j], helpers.formatBytes(bar.down[j]), helpers.formatBytes(bar.up[j]));
					}).join('; ') ])
				]);
			}))))
		]);

		if (!n)
			box.appendChild(E('p', { 'class': 'transferometer-muted' }, [ _('No days to show yet.') ]));

		return box;
	},

	detailId: function(mac) {
		return 'transferometer-detail-' + String(mac).replace(/[^0-9A-Za-z]/g, '');
	},

	toggleDetail: function(mac, ev) {
		if (this.expanded[mac]) {
			delete this.expanded[mac];
			delete this.details[mac];
		}
		else {
			this.expanded[mac] = true;
			this.fetchDetail(mac);
		}

		this.renderRows();
	},

	refreshDetails: function() {
		for (var mac in this.expanded)
			this.fetchDetail(mac);
	},

	fetchDetail: function(mac) {
		var gen = this.generation;

		return callHistory(this.historyPeriod() || 'current', mac).catch(rpcFailure).then(L.bind(function(res) {
			if (gen !== this.generation || !this.expanded[mac])
				return;

			this.details[mac] = res;
			this.renderRows();
		}, this));
	},

	renderDetail: function(cols, host) {
		var mac = host.mac,
		    d = this.details[mac],
		    label = helpers.hostLabel({ name: helpers.shownName(host, this.hints).name, mac: mac }),
		    body;

		if (!d) {
			body = [ E('em', [ _('Loading the history…') ]) ];
		}
		else if (!L.isObject(d) || d.error != null || !Array.isArray(d.days)) {
			body = [ E('em', [ _('The history of this device could not be read: %s').format(failureText(d)) ]) ];
		}
		else {
			var hours = Array.isArray(d.hours) ? d.hours : [];

			body = [
				E('h4', [ _('%s per day in this period').format(label) ]),
				this.renderChart(helpers.stackBuckets(d.days), d.days.map(function(x) { return String(x.date); }), 'day', {
					id: this.detailId(mac) + '-days',
					caption: _('Download and upload of %s per day').format(label),
					names: d.names
				}),
				E('h4', [ _('%s per hour today').format(label) ]),
				hours.length ? this.renderChart(helpers.stackBuckets(hours), hours.map(function(x) { return String(x.hour); }), 'hour', {
					id: this.detailId(mac) + '-hours',
					caption: _('Download and upload of %s per hour today').format(label),
					names: d.names
				}) : E('p', { 'class': 'transferometer-muted' }, [ _('Hours are shown for today in the current period only.') ])
			];
		}

		return E('tr', { 'class': 'tr transferometer-detail', 'id': this.detailId(mac), 'data-detail-mac': mac }, [
			E('td', { 'class': 'td', 'colspan': cols.length }, body)
		]);
	},

	/* --- names and groups (config host sections) --- */

	handleEditName: function(host, ev) {
		var mac = helpers.normalizeMAC(host.mac);

		if (!mac)
			return;

		return callUciGet('transferometer').then(L.bind(function(values) {
			var sid = hostSectionOf(values, mac),
			    sec = sid ? values[sid] : {},
			    hint = this.hints[mac] ? this.hints[mac].name : '',
			    groups = {},
			    nameIn = E('input', {
					'type': 'text', 'class': 'cbi-input-text', 'id': 'transferometer-name-input',
					'value': sec.name || '', 'placeholder': host.hostname || hint || ''
				}),
			    groupIn = E('input', {
					'type': 'text', 'class': 'cbi-input-text', 'id': 'transferometer-group-input',
					'value': sec.group || '', 'list': 'transferometer-group-list'
				}),
			    err = E('div', { 'class': 'cbi-value-error', 'id': 'transferometer-name-error', 'role': 'alert' });

			for (var k in values)
				if (L.isObject(values[k]) && values[k]['.type'] == 'host' && values[k].group)
					groups[values[k].group] = true;

			var save = ui.createHandlerFn(this, 'saveName', mac, nameIn, groupIn, err),
			    enter = function(ev) { if (ev.key == 'Enter') { ev.preventDefault(); save(ev); } };

			nameIn.addEventListener('keydown', enter);
			groupIn.addEventListener('keydown', enter);

			ui.showModal(_('Name and group of %s').format(mac), [
				E('p', [ _('A name given here is shown instead of the name the device announces with DHCP. Devices in the same group (a person, "kids", "IoT") add up together. Leave a field empty to remove it.') ]),
				E('div', { 'class': 'cbi-value' }, [
					E('label', { 'class': 'cbi-value-title', 'for': 'transferometer-name-input' }, [ _('Name') ]),
					E('div', { 'class': 'cbi-value-field' }, [ nameIn ])
				]),
				E('div', { 'class': 'cbi-value' }, [
					E('label', { 'class': 'cbi-value-title', 'for': 'transferometer-group-input' }, [ _('Group') ]),
					E('div', { 'class': 'cbi-value-field' }, [ groupIn ])
				]),
				E('datalist', { 'id': 'transferometer-group-list' }, Object.keys(groups).sort().map(function(g) {
					return E('option', { 'value': g });
				})),
				err,
				E('div', { 'class': 'right' }, [
					E('button', { 'class': 'btn cbi-button', 'data-action': 'cancel', 'click': ui.hideModal }, [ _('Cancel') ]),
					' ',
					E('button', { 'class': 'btn cbi-button cbi-button-positive important', 'data-action': 'save-name', 'click': save }, [ _('Save') ])
				])
			]);

			nameIn.focus();
		}, this)).catch(L.bind(function(e) {
			this.lastFailure = null;
			this.reportFailure(_('Could not read the device names: %s'), rpcFailure(e));
		}, this));
	},

	saveName: function(mac, nameIn, groupIn, err, ev) {
		var name = String(nameIn.value || '').trim(),
		    group = String(groupIn.value || '').trim(),
		    badName = helpers.checkDeviceLabel(name),
		    badGroup = helpers.checkDeviceLabel(group);

		if (badName !== true || badGroup !== true) {
			dom.content(err, [ badName !== true ? _('Name: %s').format(badName) : _('Group: %s').format(badGroup) ]);
			(badName !== true ? nameIn : groupIn).focus();
			return;
		}

		var config = 'transferometer';

		return callUciGet(config).then(function(values) {
			var sid = hostSectionOf(values, mac), set = {}, unset = [];

			[ [ 'name', name ], [ 'group', group ] ].forEach(function(kv) {
				if (kv[1] !== '')
					set[kv[0]] = kv[1];
				else if (sid && values[sid][kv[0]] != null)
					unset.push(kv[0]);
			});

			/* a section with neither name nor group is an error to the service: remove it instead */
			if (!Object.keys(set).length)
				return sid ? callUciDelete(config, sid) : null;

			if (!sid)
				return callUciAdd(config, 'host', Object.assign({ mac: mac.toLowerCase() }, set));

			return callUciSet(config, sid, set).then(function() {
				return unset.length ? callUciDelete(config, sid, unset) : null;
			});
		}).then(function() {
			/*
			 * rpcd's commit sends config.change: procd restarts the daemon
			 * (its reload trigger), which reads names at start; every other
			 * door reads them on each run.
			 */
			return callUciCommit(config);
		}).then(L.bind(function() {
			ui.hideModal();
			return this.refresh().then(L.bind(this.renderHistory, this));
		}, this)).catch(function(e) {
			dom.content(err, [ _('The name could not be saved: %s').format(rpcFailure(e).error) ]);
		});
	},

	/* --- backup and restore of the ledger --- */

	handleBackup: function(ev) {
		return callBackup().catch(rpcFailure).then(L.bind(function(res) {
			if (!L.isObject(res) || res.error != null || typeof(res.data) != 'string') {
				this.lastFailure = null;
				this.reportFailure(_('The backup failed: %s'), L.isObject(res) && res.error != null ? res : null);
				return;
			}

			var url = URL.createObjectURL(new Blob([ helpers.base64ToBytes(res.data) ], { type: 'application/gzip' })),
			    a = E('a', { 'href': url, 'download': helpers.backupFilename(res.file), 'style': 'display:none' });

			document.body.appendChild(a);
			a.click();
			document.body.removeChild(a);

			window.setTimeout(function() { URL.revokeObjectURL(url); }, 10000);

			/* the page's backup has to fit one upload to the router's web server: the oldest history may be left out */
			if ((+res.omitted_days || 0) + (+res.omitted_hours || 0) > 0) {
				var note = ui.addNotification(null, E('p', [
					_('To fit what the router\'s web server takes in one upload, this backup leaves out the oldest %d days and %d hours of history. The command transferometer backup on the router keeps everything.')
						.format(+res.omitted_days || 0, +res.omitted_hours || 0)
				]), 'info');

				if (note && note.setAttribute)
					note.setAttribute('data-backup', 'partial');
			}
		}, this));
	},

	handleRestoreFile: function(ev) {
		var file = ev.target.files && ev.target.files[0];

		if (!file)
			return;

		/* uhttpd takes JSON-RPC posts of at most 64 KiB: a larger backup (the command line's) is restored there */
		if (file.size > MAX_RESTORE_BYTES) {
			var note = ui.addNotification(null, E('p', [
				_('The backup %s is too large to restore from the page (%s, at most %s). Restore it on the router with the command transferometer restore FILE.')
					.format(file.name, helpers.formatBytes(file.size), helpers.formatBytes(MAX_RESTORE_BYTES))
			]), 'danger');

			if (note && note.setAttribute)
				note.setAttribute('data-restore', 'error');

			return;
		}

		return file.arrayBuffer().then(L.bind(function(buf) {
			var data = helpers.bytesToBase64(new Uint8Array(buf));

			ui.showModal(_('Restore a backup'), [
				E('p', [ _('Replace the whole ledger (every device, day and period) with the backup %s? What was counted since that backup is discarded. A backup that does not check out changes nothing.').format(file.name) ]),
				E('div', { 'class': 'right' }, [
					E('button', { 'class': 'btn cbi-button', 'data-action': 'cancel', 'click': ui.hideModal }, [ _('Cancel') ]),
					' ',
					E('button', {
						'class': 'btn cbi-button cbi-button-negative important',
						'data-action': 'confirm-restore',
						'click': ui.createHandlerFn(this, 'doRestore', data)
					}, [ _('Restore') ])
				])
			]);
		}, this));
	},

	doRestore: function(data, ev) {
		return callRestore(data).catch(rpcFailure).then(L.bind(function(res) {
			var r = L.isObject(res) && res.error == null && L.isObject(res.restored) ? res.restored : null,
			    note;

			ui.hideModal();

			if (!r) {
				note = ui.addNotification(null, E('p', [
					_('The backup was not restored, nothing changed: %s').format(failureText(L.isObject(res) && res.error != null ? res : null))
				]), 'danger');
				if (note && note.setAttribute)
					note.setAttribute('data-restore', 'error');
				return;
			}

			var from = Date.parse(r.from);

			note = ui.addNotification(null, E('p', [
				_('Restored %d devices, %d days and %d periods from the backup of %s.').format(+r.devices || 0, +r.days || 0, +r.periods || 0,
					isFinite(from) ? new Date(from).toLocaleString() : String(r.from || '?'))
			]), 'info');
			if (note && note.setAttribute)
				note.setAttribute('data-restore', 'ok');

			this.refreshHistory();
			this.refreshDetails();

			return this.refresh();
		}, this));
	},

	handleSort: function(key, ev) {
		if (this.sortKey == key) {
			this.sortDir = (this.sortDir == 'asc') ? 'desc' : 'asc';
		}
		else {
			this.sortKey = key;
			this.sortDir = 'asc';
		}

		this.saveTableState();
		this.renderRows();
	},

	confirmReset: function(title, text, mac) {
		ui.showModal(title, [
			E('p', [ text ]),
			E('div', { 'class': 'right' }, [
				E('button', {
					'class': 'btn cbi-button',
					'data-action': 'cancel',
					'click': ui.hideModal
				}, [ _('Cancel') ]),
				' ',
				E('button', {
					'class': 'btn cbi-button cbi-button-negative important',
					'data-action': 'confirm-reset',
					'click': ui.createHandlerFn(this, 'doReset', mac)
				}, [ _('Reset') ])
			])
		]);
	},

	handleResetHost: function(host, ev) {
		var mac = String(host.mac || '').toUpperCase(),
		    who = (host.name || host.hostname) ? '%s (%s)'.format(host.name || host.hostname, mac) : mac;

		this.confirmReset(_('Reset counters'),
			_('Set the download and upload counters of %s to zero? What was counted so far is discarded.').format(who),
			host.mac);
	},

	handleResetAll: function(ev) {
		var n = (this.usage && Array.isArray(this.usage.hosts)) ? this.usage.hosts.length : 0;

		this.confirmReset(_('Reset all counters'),
			_('Set the download and upload counters of all %d devices to zero? What was counted so far is discarded.').format(n),
			null);
	},

	doReset: function(mac, ev) {
		return callReset(mac != null ? mac : undefined).catch(rpcFailure).then(L.bind(function(res) {
			ui.hideModal();

			if (isFailure(res, 'reset')) {
				this.lastFailure = null;
				this.reportFailure(_('Resetting the counters failed: %s'), res);
				return;
			}

			return this.refresh();
		}, this));
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
