'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require dom';
'require transferometer.helpers as helpers';

/*
 * Status / Transferometer / Usage: traffic per LAN device, from the
 * ubus object transferometer (rpcd exec plugin), refreshed by poll.
 *
 * The plugin answers every call with one JSON object; failures come
 * back as an object with an error member, never as a ubus status, so
 * expect keeps the whole reply.  A transport failure (HTTP, JSON-RPC,
 * ubus status) rejects and is turned into the same error shape.
 */

var POLL_INTERVAL = 5;

var callUsage = rpc.declare({
	object: 'transferometer',
	method: 'usage',
	params: [ 'mac' ],
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

/* Columns: key, title, whether it sorts, extra cell class. */
var COLUMNS = [
	[ 'device',    _('Device'),       true,  '' ],
	[ 'mac',       _('MAC address'),  true,  '' ],
	[ 'ips',       _('IP addresses'), true,  '' ],
	[ 'download',  _('Download'),     true,  ' right' ],
	[ 'upload',    _('Upload'),       true,  ' right' ],
	[ 'total',     _('Total'),        true,  ' right' ],
	[ 'rate',      _('Current rate'), true,  ' right' ],
	[ 'last_seen', _('Last seen'),    true,  '' ],
	[ 'actions',   '',                false, ' cbi-section-actions' ]
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

		this.warningsNode = E('div', { 'id': 'transferometer-warnings' });
		this.statusNode = E('div', { 'id': 'transferometer-status' });
		this.summaryNode = E('div', { 'class': 'cbi-section-descr', 'id': 'transferometer-summary' });
		this.tableNode = E('table', { 'class': 'table cbi-section-table', 'id': 'transferometer-hosts' });
		this.routerNode = E('div', { 'class': 'cbi-section-descr', 'id': 'transferometer-router' });
		this.resetAllNode = E('button', {
			'class': 'cbi-button cbi-button-negative',
			'id': 'transferometer-reset-all',
			'click': ui.createHandlerFn(this, 'handleResetAll')
		}, [ _('Reset all counters…') ]);

		var node = E('div', { 'class': 'cbi-map', 'id': 'cbi-transferometer-usage' }, [
			E('h2', { 'name': 'content' }, [ _('Transferometer') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('Traffic of every LAN device since its counters were last reset. The page refreshes every %d seconds; the rate is the change between two refreshes.').format(POLL_INTERVAL)
			]),
			this.warningsNode,
			this.statusNode,
			E('div', { 'class': 'cbi-section' }, [
				this.summaryNode,
				this.tableNode,
				this.routerNode
			]),
			E('div', { 'class': 'cbi-page-actions' }, [ this.resetAllNode ])
		]);

		this.update(usage);

		poll.add(L.bind(this.refresh, this), POLL_INTERVAL);

		return node;
	},

	refresh: function() {
		return callUsage().catch(rpcFailure).then(L.bind(this.update, this));
	},

	update: function(usage) {
		if (isFailure(usage)) {
			this.reportFailure(_('Could not read the traffic counters: %s'), usage);

			if (!this.usage)
				this.renderRows();

			return;
		}

		this.lastFailure = null;

		var r = helpers.computeRates(this.snapshot, usage);

		this.snapshot = r.snapshot;

		if (r.rates)
			this.rates = r.rates;

		this.usage = usage;

		this.renderWarnings(Array.isArray(usage.warnings) ? usage.warnings : []);
		this.renderStatus(usage);
		this.renderRows();
	},

	/* One notification per distinct failure, not one per poll. */
	reportFailure: function(fmt, res) {
		var text = failureText(res);

		if (text === this.lastFailure)
			return;

		this.lastFailure = text;

		ui.addNotification(null, E('p', [ fmt.format(text) ]), 'danger');
	},

	renderWarnings: function(warnings) {
		dom.content(this.warningsNode, warnings.map(function(w) {
			return E('div', {
				'class': 'alert-message warning',
				'data-code': String(w.code || '')
			}, [
				E('strong', [ _('Warning:') ]), ' ',
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

		var at = +usage.collected_at;

		dom.content(this.summaryNode, isFinite(at) && at > 0 ? [
			_('Collected at %s').format(new Date(at * 1000).toLocaleString()),
			usage.backend ? ' · ' + _('backend: %s').format(usage.backend) : ''
		] : []);

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

	renderHeader: function() {
		var self = this;

		return E('tr', { 'class': 'tr table-titles' }, COLUMNS.map(function(col) {
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
		    rows = [ this.renderHeader() ];

		if (!usage) {
			rows.push(this.renderPlaceholder(_('No data: the traffic counters could not be read.')));
		}
		else if (!hosts.length) {
			rows.push(this.renderEmpty(usage));
		}
		else {
			var sorted = helpers.sortHosts(hosts, this.sortKey, this.sortDir, this.rates);

			for (var i = 0; i < sorted.length; i++)
				rows.push(this.renderHost(sorted[i], i));

			rows.push(this.renderTotals(usage, hosts));
		}

		dom.content(this.tableNode, rows);

		this.resetAllNode.disabled = !hosts.length;
	},

	renderPlaceholder: function(text) {
		var em = E('em', [ text ]);

		return E('tr', { 'class': 'tr placeholder', 'id': 'transferometer-empty' }, [
			E('td', { 'class': 'td', 'colspan': COLUMNS.length }, [ em ])
		]);
	},

	/* Explain an empty table: disabled, or nothing seen yet. */
	renderEmpty: function(usage) {
		if (usage.enabled === false) {
			var off = this.renderPlaceholder(_('Accounting is disabled, so no traffic is being counted.'));

			off.firstChild.appendChild(E('span', [
				' ',
				E('a', { 'href': L.url('admin/status/transferometer/settings') }, [ _('Enable it in the settings.') ])
			]));
			off.setAttribute('data-reason', 'disabled');

			return off;
		}

		var row = this.renderPlaceholder(_('No devices have been seen on the LAN yet. A device appears here once it gets a DHCP lease or shows up in the neighbour table; dnsmasq reports new neighbours within about 90 seconds.'));

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

	renderRateCell: function(rate) {
		var down = rate ? rate.down : null,
		    up = rate ? rate.up : null,
		    known = (helpers.rateTotal(rate) != null);

		return E('td', {
			'class': 'td right',
			'data-col': 'rate',
			'title': known ? _('Average over the last refresh interval') : _('Known after the next refresh')
		}, known ? [
			E('span', { 'class': 'nowrap' }, [ '↓ ' + helpers.formatRate(down) ]), E('br'),
			E('span', { 'class': 'nowrap' }, [ '↑ ' + helpers.formatRate(up) ])
		] : [ '-' ]);
	},

	renderHost: function(host, index) {
		var mac = String(host.mac || ''),
		    ips = Array.isArray(host.ips) ? host.ips : [],
		    ipNodes = [],
		    age = (+this.usage.collected_at) - (+host.last_seen);

		for (var i = 0; i < ips.length; i++) {
			if (i)
				ipNodes.push(E('br'));
			ipNodes.push(String(ips[i]));
		}

		return E('tr', {
			'class': 'tr cbi-rowstyle-%d%s'.format(1 + (index % 2), host.active === false ? ' inactive' : ''),
			'data-mac': mac
		}, [
			E('td', { 'class': 'td', 'data-col': 'device', 'data-title': _('Device') }, [
				E('span', { 'class': 'transferometer-name' }, [ helpers.hostLabel(host) ]),
				host.active === false ? E('small', { 'class': 'transferometer-offline' }, [ ' (' + _('offline') + ')' ]) : ''
			]),
			E('td', { 'class': 'td', 'data-col': 'mac', 'data-title': _('MAC address') }, [ mac.toUpperCase() ]),
			E('td', { 'class': 'td', 'data-col': 'ips', 'data-title': _('IP addresses') },
				ipNodes.length ? ipNodes : [ '-' ]),
			this.renderBytesCell('download', host.download_bytes, host.download_packets),
			this.renderBytesCell('upload', host.upload_bytes, host.upload_packets),
			this.renderBytesCell('total', helpers.hostTotal(host),
				(+host.download_packets || 0) + (+host.upload_packets || 0)),
			this.renderRateCell(this.rates[mac]),
			E('td', {
				'class': 'td',
				'data-col': 'last_seen',
				'title': host.last_seen > 0 ? new Date(host.last_seen * 1000).toLocaleString() : ''
			}, [ host.last_seen > 0 ? helpers.formatAge(age) : _('never') ]),
			E('td', { 'class': 'td cbi-section-actions' }, [
				E('button', {
					'class': 'cbi-button cbi-button-negative',
					'data-action': 'reset',
					'title': _('Reset the counters of this device'),
					'click': ui.createHandlerFn(this, 'handleResetHost', host)
				}, [ _('Reset') ])
			])
		]);
	},

	renderTotals: function(usage, hosts) {
		var t = L.isObject(usage.totals) ? usage.totals : helpers.sumHosts(hosts),
		    down = +t.download_bytes || 0,
		    up = +t.upload_bytes || 0,
		    rates = helpers.sumRates(this.rates);

		return E('tr', { 'class': 'tr transferometer-totals', 'data-totals': 'true' }, [
			E('td', { 'class': 'td', 'data-col': 'device' }, [
				E('strong', [ _('Total') ]), ' ',
				E('small', [ '(' + _('%d devices').format(hosts.length) + ')' ])
			]),
			E('td', { 'class': 'td' }, [ '' ]),
			E('td', { 'class': 'td' }, [ '' ]),
			this.renderBytesCell('download', down, t.download_packets),
			this.renderBytesCell('upload', up, t.upload_packets),
			this.renderBytesCell('total', down + up,
				(+t.download_packets || 0) + (+t.upload_packets || 0)),
			this.renderRateCell(rates),
			E('td', { 'class': 'td' }, [ '' ]),
			E('td', { 'class': 'td' }, [ '' ])
		]);
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
		    who = host.hostname ? '%s (%s)'.format(host.hostname, mac) : mac;

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
