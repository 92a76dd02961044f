'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require dom';
'require transferometer.helpers as helpers';

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
	[ 'device',    _('Device'),       true,  '',                      'always' ],
	[ 'mac',       _('MAC address'),  true,  '',                      'always' ],
	[ 'ips',       _('IP addresses'), true,  '',                      'always' ],
	[ 'download',  _('Download'),     true,  ' right',                'always' ],
	[ 'upload',    _('Upload'),       true,  ' right',                'always' ],
	[ 'total',     _('Total'),        true,  ' right',                'always' ],
	[ 'today',     _('Today'),        true,  ' right',                'today' ],
	[ 'rate',      _('Current rate'), true,  ' right',                'current' ],
	[ 'last_seen', _('Last seen'),    true,  '',                      'always' ],
	[ 'actions',   '',                false, ' cbi-section-actions',  'write' ]
];

return view.extend({
	load: function() {
		return callUsage().catch(rpcFailure);
	},

	render: function(usage) {
		this.sortKey = 'total';
		this.sortDir = 'desc';
		this.snapshot = null;
		this.rates = {};
		this.usage = null;
		this.lastFailure = null;
		this.readonly = isReadonly();

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
		this.periodLabelNode = E('div', { 'class': 'cbi-section-descr', 'id': 'transferometer-period-label' });
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
					E('span', { 'style': 'margin-left:auto; display:flex; gap:.5em' }, [ this.csvNode, this.jsonNode ])
				]),
				this.periodLabelNode,
				this.summaryNode,
				this.tableNode,
				this.routerNode
			]),
			this.resetAllNode ? E('div', { 'class': 'cbi-page-actions' }, [ this.resetAllNode ]) : ''
		]);

		this.update(usage);

		poll.add(L.bind(this.poll, this), POLL_INTERVAL);

		return node;
	},

	/* The poll step: skipped when the last fetch is too recent to give a rate. */
	poll: function() {
		if (Date.now() - this.fetchedAt < (POLL_INTERVAL - 1) * 1000)
			return Promise.resolve();

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
			opts.splice(opts.length - 1, 0, { value: sel, label: _('Period from %s').format(sel) });

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
				'title': _('Sort by this column'),
				'style': 'cursor:pointer; user-select:none',
				'click': L.bind(self.handleSort, self, key)
			}, [ col[1], active ? (self.sortDir == 'asc' ? ' ▲' : ' ▼') : '' ]);
		}));
	},

	renderRows: function() {
		var usage = this.usage,
		    hosts = (usage && Array.isArray(usage.hosts)) ? usage.hosts : [],
		    cols = this.columns(),
		    rows = [];

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
			    sorted = helpers.sortHosts(hosts, this.sortKey, this.sortDir, rates);

			for (var i = 0; i < sorted.length; i++)
				rows.push(this.renderHost(cols, sorted[i], i, rates));

			rows.push(this.renderTotals(cols, usage, hosts, rates));
		}

		dom.content(this.tableNode, rows);
		this.tableNode.setAttribute('data-period', this.periodKey(usage) || '');
		this.tableNode.setAttribute('data-source', this.rateSource());

		if (this.resetAllNode)
			this.resetAllNode.disabled = !hosts.length;
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

		cells.device = E('td', { 'class': 'td', 'data-col': 'device', 'data-title': _('Device') }, [
			(host.name || host.hostname)
				? E('span', { 'class': 'transferometer-name' }, [ String(host.name || host.hostname) ])
				: E('em', {
					'class': 'transferometer-name transferometer-unnamed',
					'style': 'opacity:.6',
					'title': _('No hostname known: the device has not announced one with DHCP')
				}, [ _('unnamed') ]),
			host.active === false ? E('small', { 'class': 'transferometer-offline' }, [ ' (' + _('offline') + ')' ]) : ''
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
		}, [ host.last_seen > 0 ? helpers.formatAge(age) : _('never') ]);
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

	renderTotals: function(cols, usage, hosts, rates) {
		var t = L.isObject(usage.totals) ? usage.totals : helpers.sumHosts(hosts),
		    down = +t.download_bytes || 0,
		    up = +t.upload_bytes || 0,
		    today = helpers.sumHosts(hosts.map(function(h) { return L.isObject(h.today) ? h.today : {}; })),
		    cells = {};

		cells.device = E('td', { 'class': 'td', 'data-col': 'device' }, [
			E('strong', [ _('Total') ]), ' ',
			E('small', [ '(' + _('%d devices').format(hosts.length) + ')' ])
		]);
		cells.download = this.renderBytesCell('download', down, t.download_packets);
		cells.upload = this.renderBytesCell('upload', up, t.upload_packets);
		cells.total = this.renderBytesCell('total', down + up,
			(+t.download_packets || 0) + (+t.upload_packets || 0));
		cells.today = this.renderTodayCell(today);
		cells.rate = this.renderRateCell(helpers.sumRates(rates));

		return E('tr', { 'class': 'tr transferometer-totals', 'data-totals': 'true' }, cols.map(function(col) {
			return cells[col[0]] || E('td', { 'class': 'td' }, [ '' ]);
		}));
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
				? helpers.sumRates(rates)
				: rates[rows[i].getAttribute('data-mac')];

			rows[i].replaceChild(this.renderRateCell(rate), old);
		}
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

	handleSort: function(key, ev) {
		if (this.sortKey == key) {
			this.sortDir = (this.sortDir == 'asc') ? 'desc' : 'asc';
		}
		else {
			this.sortKey = key;
			this.sortDir = 'asc';
		}

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
