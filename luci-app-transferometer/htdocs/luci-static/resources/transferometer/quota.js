'use strict';
'require baseclass';
'require rpc';
'require ui';
'require dom';

/*
 * Quotas on the Transferometer pages: the validators of the quota
 * settings (the service's rules for `config quota` sections, so that the
 * Quotas page takes exactly what the service takes), the figures of a
 * device's quota (bar, state, "x of y"), and the quota cell of the Usage
 * table with its buttons: lift a block, add an allowance for today.
 *
 * Loaded with  require transferometer.quota as quota.  The functions
 * above renderCell touch neither the DOM nor rpc, so
 * tests/quota-helpers.test.mjs runs them under node on this very file
 * (with a _ of its own).  Messages are written _('…') where they are,
 * so that LuCI's scanner finds them for the translations.
 * Keep the pragma lines above as the first quoted strings of the file.
 */

var callQuotaLift = rpc.declare({
	object: 'transferometer',
	method: 'quota_lift',
	params: [ 'name', 'mac' ],
	expect: { '': {} },
	reject: true
});

var callQuotaExtra = rpc.declare({
	object: 'transferometer',
	method: 'quota_extra',
	params: [ 'name', 'mac', 'bytes' ],
	expect: { '': {} },
	reject: true
});

/* The service's bounds: quota sections read, a section name's length, a throttle rate (kbit/s). */
var MAX_QUOTAS = 64,
    MAX_NAME = 32,
    MAX_RATE_KBIT = 10000000,
    MAX_GROUP_BYTES = 64;

/* Size suffixes the service takes: SI (powers of 1000) and IEC (powers of 1024). "KB" means either, so it is refused. */
var SIZE_UNITS = {
	'': 1, 'B': 1,
	'kB': 1e3, 'MB': 1e6, 'GB': 1e9, 'TB': 1e12,
	'KiB': 1024, 'MiB': 1048576, 'GiB': 1073741824, 'TiB': 1099511627776
};

var SI_NAMES = [ 'kB', 'MB', 'GB', 'TB' ],
    IEC_NAMES = [ 'KiB', 'MiB', 'GiB', 'TiB' ];

/* What Go's strings.TrimSpace takes off (unicode.IsSpace), which is not quite JavaScript's trim(). */
var GO_SPACE_EDGES = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

var STATES = [ 'ok', 'warning', 'blocked', 'throttled', 'exhausted' ];

/* %s / %d in order, without relying on String.prototype.format. */
function fmt(s /*, ... */) {
	var args = Array.prototype.slice.call(arguments, 1), i = 0;
	return String(s).replace(/%[ds%]/g, function(m) {
		if (m == '%%')
			return '%';
		var v = args[i++];
		return (m == '%d') ? String(Math.floor(+v || 0)) : String(v);
	});
}

function isCount(n) {
	return typeof(n) == 'number' && isFinite(n) && n >= 0;
}

/*
 * A size as the service reads it (internal/config ParseSize): digits with
 * at most one decimal point inside them, then optionally spaces and one
 * unit; a whole number of bytes above 0 and below 2^64.  Returns the
 * bytes as a decimal string (they may exceed what a JS number holds
 * exactly) or null.  BigInt keeps it exact.
 */
function parseSizeExact(v) {
	var s = String(v == null ? '' : v),
	    m = /^([0-9.]*)(.*)$/.exec(s),
	    num = m[1],
	    unit = m[2].replace(GO_SPACE_EDGES, '');

	if (!Object.prototype.hasOwnProperty.call(SIZE_UNITS, unit) || num === '' || num.length > 24 ||
	    num.split('.').length > 2 || num.charAt(0) == '.' || num.charAt(num.length - 1) == '.')
		return { error: 'syntax' };

	var mult = BigInt(SIZE_UNITS[unit]), parts = num.split('.'), bytes;

	if (parts.length == 1) {
		bytes = BigInt(parts[0]);
		if (bytes >= (BigInt(1) << BigInt(64)))
			return { error: 'large' };
		bytes *= mult;
	}
	else {
		var scale = BigInt(10) ** BigInt(parts[1].length),
		    scaled = BigInt(parts[0] + parts[1]) * mult;

		if (scaled % scale != BigInt(0))
			return { error: 'fraction' };
		bytes = scaled / scale;
	}

	if (bytes == BigInt(0))
		return { error: 'zero' };
	if (bytes >= (BigInt(1) << BigInt(64)))
		return { error: 'large' };

	return { bytes: bytes.toString() };
}

/* The bytes of a size as a number (exact up to 2^53), or null. */
function parseSize(v) {
	var r = parseSizeExact(v);
	return r.bytes != null ? Number(r.bytes) : null;
}

/* option limit: required, a size. */
function checkSize(v) {
	if (v == null || v === '')
		return _('Expecting a size, e.g. 5GB or 500MiB');

	switch (parseSizeExact(v).error) {
	case undefined: return true;
	case 'zero': return _('The allowance must be more than 0 bytes');
	case 'fraction': return _('Expecting a whole number of bytes (e.g. 1.5kB is 1500 bytes, 1.0001kB is not whole)');
	case 'large': return _('Expecting a size below 16 EiB');
	}

	return _('Expecting a size: bytes, or a number with kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 5GB');
}

/* An allowance added for today from the Usage page: a size the page can send exactly. */
function checkExtra(v) {
	var ok = checkSize(v);

	if (ok !== true)
		return ok;

	if (Number(parseSizeExact(v).bytes) > Number.MAX_SAFE_INTEGER)
		return _('Expecting a size below 8 PiB');

	return true;
}

/*
 * A quota's section name (the service's rule: it names the quota's
 * nftables objects): 1 to 32 of a-z, 0-9 and _; not a name another
 * section has already.
 */
function checkQuotaName(v, taken) {
	var s = String(v == null ? '' : v);

	if (!/^[a-z0-9_]+$/.test(s) || s.length > MAX_NAME)
		return fmt(_('Expecting a name of 1 to %d characters: lower-case letters a-z, digits and _ (e.g. kids)'), MAX_NAME);

	if (Array.isArray(taken) && taken.indexOf(s) >= 0)
		return fmt(_('A section named %s exists already'), s);

	return true;
}

/* A device's MAC address as the service takes it: six hex pairs separated by : (or all by -), unicast, not all zero. */
function checkMAC(v) {
	var s = String(v == null ? '' : v);

	if (!/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(s))
		return _('Expecting a MAC address like 02:00:00:00:00:01');

	if (parseInt(s.charAt(1), 16) & 1)
		return _('Expecting the MAC address of a device, not a multicast or broadcast address');

	if (/^0{2}([:-]0{2}){5}$/.test(s))
		return _('Expecting the MAC address of a device, not 00:00:00:00:00:00');

	return true;
}

/* UTF-8 length in bytes; null for a string that is not valid UTF-16 (a lone surrogate). */
function utf8Length(s) {
	try {
		return unescape(encodeURIComponent(s)).length;
	}
	catch (e) {
		return null;
	}
}

/*
 * A group, by the rule of the names the page shows (internal/names): at
 * most 64 bytes, no control characters, no < > " ' & \, no characters
 * that reorder or hide text (bidi controls, directional marks,
 * zero-width characters).
 */
function checkGroup(v) {
	var s = String(v == null ? '' : v), n = utf8Length(s);

	if (s === '')
		return _('Expecting a group name');

	if (n == null || /[\x00-\x1f\x7f-\x9f<>"'&\\\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/.test(s))
		return _('A group name must not hold control characters, < > " \' & \\ or invisible formatting characters');

	if (n > MAX_GROUP_BYTES)
		return fmt(_('Expecting a group name of at most %d bytes'), MAX_GROUP_BYTES);

	return true;
}

/* A whole number as the service reads one: 1 to 9 digits, in [lo, hi]. */
function isWhole(s, lo, hi) {
	return /^[0-9]{1,9}$/.test(s) && +s >= lo && +s <= hi;
}

/* option rate (action throttle): kbit/s, 1 to 10,000,000. */
function checkRate(v) {
	var s = String(v == null ? '' : v);

	if (s === '')
		return _('Throttling needs a rate in kbit/s');

	return isWhole(s, 1, MAX_RATE_KBIT) ? true
		: fmt(_('Expecting a rate in kbit/s from 1 to %d (e.g. 1024 for 1 Mbit/s)'), MAX_RATE_KBIT);
}

/* list notify: a percentage from 1 to 100, with or without %. */
function checkNotify(v) {
	var s = String(v == null ? '' : v);

	if (s.charAt(s.length - 1) == '%')
		s = s.slice(0, -1);

	return isWhole(s, 1, 100) ? true : _('Expecting a percentage from 1 to 100 (e.g. 80)');
}

/*
 * Bytes in the unit family of the limit they are compared with: powers
 * of 1024 when the limit is a whole number of KiB but not of kB (it was
 * written in KiB, MiB...), else powers of 1000, as sizes are written in
 * the settings.  Whole values without decimals: 5000000 -> "5 MB".
 */
function familyOf(limit) {
	return (isCount(limit) && limit > 0 && limit % 1024 == 0 && limit % 1000 != 0) ? 'iec' : 'si';
}

function formatQuotaBytes(n, family) {
	if (!isCount(n))
		return '-';

	var base = (family == 'iec') ? 1024 : 1000,
	    names = (family == 'iec') ? IEC_NAMES : SI_NAMES;

	if (n < base)
		return Math.floor(n) + ' B';

	var v = n / base, u = 0;

	while (v >= base && u < names.length - 1) {
		v /= base;
		u++;
	}

	var s = (v == Math.floor(v)) ? String(v) : v.toFixed(2);

	/* 999.999 kB would read 1000.00 kB */
	if (s == String(base) + '.00' && u < names.length - 1)
		return '1 ' + names[u + 1];

	return s + ' ' + names[u];
}

/* A size the way the settings spell it (the service's FormatSize): the largest unit that keeps it whole. */
function formatSize(n) {
	if (!isCount(n) || n != Math.floor(n))
		return '';

	var order = [ 'TiB', 'TB', 'GiB', 'GB', 'MiB', 'MB', 'KiB', 'kB' ];

	for (var i = 0; i < order.length; i++) {
		var m = SIZE_UNITS[order[i]];
		if (n >= m && n % m == 0)
			return (n / m) + order[i];
	}

	return String(n);
}

/* A host's quota, as usage gives it ({ name, limit, used, remaining, state }), or null. */
function hostQuota(host) {
	var q = host && host.quota;

	if (q == null || typeof(q) != 'object' || typeof(q.name) != 'string' || !isCount(+q.limit) || +q.limit <= 0)
		return null;

	return q;
}

/* Whether the quota column is worth showing: some device has a quota. */
function shown(usage) {
	var hosts = (usage && Array.isArray(usage.hosts)) ? usage.hosts : [];

	for (var i = 0; i < hosts.length; i++)
		if (hostQuota(hosts[i]))
			return true;

	return false;
}

/* Percent of the allowance used, 0 to 100 (over the allowance: 100). */
function percentUsed(used, limit) {
	used = +used || 0;
	limit = +limit || 0;

	if (limit <= 0)
		return 0;

	return Math.max(0, Math.min(100, used * 100 / limit));
}

function stateOf(q) {
	var s = q ? String(q.state || '') : '';
	return STATES.indexOf(s) >= 0 ? s : 'ok';
}

/* The badge of a state: { text, cls, title }, or null for a state without one. */
function badge(state) {
	switch (state) {
	case 'blocked':
		return { text: _('blocked'), cls: 'label important', title: _('The allowance is used up: the device\'s traffic through the router is stopped until the allowance renews or the block is lifted') };
	case 'throttled':
		return { text: _('throttled'), cls: 'label warning', title: _('The allowance is used up: the device\'s traffic through the router is slowed until the allowance renews or the throttle is lifted') };
	case 'exhausted':
		return { text: _('used up'), cls: 'label notice', title: _('The allowance is used up; this quota only counts, it neither stops nor slows the device') };
	case 'lifted':
		return { text: _('lifted'), cls: 'label notice', title: _('The allowance is used up, but the block was lifted until the allowance renews') };
	case 'warning':
		return { text: _('nearly used up'), cls: 'label', title: _('A warning threshold of this quota has been crossed') };
	}

	return null;
}

/* The instance of quota name that counts for the device mac in usage's quotas (its own one, or the shared one), or null. */
function instanceOf(usage, name, mac) {
	var list = (usage && Array.isArray(usage.quotas)) ? usage.quotas : [],
	    m = String(mac || '').toLowerCase();

	for (var i = 0; i < list.length; i++) {
		var x = list[i];

		if (!x || x.name !== name)
			continue;

		if (x.device != null ? String(x.device).toLowerCase() == m
		                     : Array.isArray(x.members) && x.members.map(function(y) { return String(y).toLowerCase(); }).indexOf(m) >= 0)
			return x;
	}

	return null;
}

/*
 * Everything the quota cell shows, from a host's quota (and usage's
 * quotas, which say whether a block was lifted and what was added for
 * today): the bar's percentage and ARIA values, the "x of y" text (the
 * allowance includes today's extra), the exact title, the badge and
 * which buttons apply.  null for a host without a quota.
 */
function quotaView(host, usage) {
	var q = hostQuota(host);

	if (!q)
		return null;

	var inst = instanceOf(usage, q.name, host.mac),
	    lifted = !!(inst && inst.lifted),
	    extra = (inst && isCount(+inst.extra)) ? +inst.extra : 0,
	    limit = +q.limit,
	    used = isCount(+q.used) ? +q.used : 0,
	    remaining = isCount(+q.remaining) ? +q.remaining : Math.max(0, limit - used),
	    family = familyOf(limit),
	    state = stateOf(q),
	    pct = percentUsed(used, limit),
	    text = fmt(_('%s of %s'), formatQuotaBytes(used, family), formatQuotaBytes(limit, family));

	var title = fmt(_('Quota %s: %s of %s bytes used, %s left'), q.name,
		groupDigits(used), groupDigits(limit), groupDigits(remaining));

	if (extra > 0)
		title += '\n' + fmt(_('%s bytes of it added for today'), groupDigits(extra));

	return {
		name: q.name,
		state: state,
		lifted: lifted,
		extra: extra,
		percent: pct,
		/* ARIA wants the value within min..max; the text says how far over it is */
		valueNow: Math.min(used, limit),
		valueMax: limit,
		text: text,
		title: title,
		badge: (lifted && state == 'exhausted') ? badge('lifted') : badge(state),
		canLift: !lifted && (state == 'blocked' || state == 'throttled')
	};
}

function groupDigits(n) {
	return String(Math.floor(n)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
}

/*
 * The mac argument for quota_lift / quota_extra: a quota that names no
 * devices gives every device an allowance of its own (usage lists those
 * instances in quotas with a device), so the call names the device;
 * a shared quota is lifted or extended for all its devices at once.
 */
function callMAC(usage, name, mac) {
	var list = (usage && Array.isArray(usage.quotas)) ? usage.quotas : [];

	for (var i = 0; i < list.length; i++)
		if (list[i] && list[i].name === name && list[i].device != null)
			return String(mac || '').toLowerCase() || undefined;

	return undefined;
}

/* The devices sharing a quota (its members in usage's quotas), for the messages; null when unknown. */
function sharedBy(usage, name) {
	var list = (usage && Array.isArray(usage.quotas)) ? usage.quotas : [];

	for (var i = 0; i < list.length; i++)
		if (list[i] && list[i].name === name && list[i].device == null && Array.isArray(list[i].members))
			return list[i].members.length;

	return null;
}

/* A reply of the plugin: an object without error. */
function replyError(res) {
	if (res == null || typeof(res) != 'object')
		return _('no valid reply from the transferometer ubus object');

	if (res.error != null)
		return res.code ? fmt('%s (%s)', res.error, res.code) : String(res.error);

	return null;
}

function rpcFailure(err) {
	return { error: String((err && err.message) || err || '?').split(/\n/)[0], code: 'rpc_failed' };
}

/* --- rendering (LuCI's E() and ui) --- */

function report(fmtString, text) {
	ui.addNotification(null, E('p', [ fmt(fmtString, text) ]), 'danger');
}

function handleLift(host, usage, opts, ev) {
	var q = hostQuota(host);

	return callQuotaLift(q.name, callMAC(usage, q.name, host.mac)).catch(rpcFailure).then(function(res) {
		var err = replyError(res);

		if (err)
			return report(_('Lifting the block failed: %s'), err);

		return opts.refresh ? opts.refresh() : null;
	});
}

function showExtraDialog(host, usage, opts, ev) {
	var q = hostQuota(host),
	    who = String(host.name || host.hostname || String(host.mac || '').toUpperCase()),
	    n = sharedBy(usage, q.name),
	    error = E('div', { 'class': 'cbi-value-description', 'id': 'transferometer-extra-error', 'role': 'alert' }),
	    input = E('input', {
			'type': 'text',
			'class': 'cbi-input-text',
			'id': 'transferometer-extra-size',
			'placeholder': '500MB',
			'aria-describedby': 'transferometer-extra-error'
		}),
	    add = E('button', {
			'class': 'btn cbi-button cbi-button-positive important',
			'data-action': 'quota-extra-confirm',
			'disabled': ''
		}, [ _('Add') ]);

	var check = function() {
		var v = input.value.trim(), ok = checkExtra(v);

		input.classList.toggle('cbi-input-invalid', v !== '' && ok !== true);
		input.setAttribute('aria-invalid', (v !== '' && ok !== true) ? 'true' : 'false');
		dom.content(error, (v !== '' && ok !== true) ? [ ok ] : []);
		add.disabled = (ok !== true);

		return ok === true;
	};

	var submit = function() {
		if (!check())
			return Promise.resolve();

		return callQuotaExtra(q.name, callMAC(usage, q.name, host.mac), parseSize(input.value.trim()))
			.catch(rpcFailure).then(function(res) {
				var err = replyError(res);

				ui.hideModal();

				if (err)
					return report(_('Adding the allowance failed: %s'), err);

				return opts.refresh ? opts.refresh() : null;
			});
	};

	input.addEventListener('input', check);
	input.addEventListener('keydown', function(ev) {
		if (ev.key == 'Enter') {
			ev.preventDefault();
			submit();
		}
	});
	add.addEventListener('click', ui.createHandlerFn(opts, submit));

	ui.showModal(_('Add an allowance for today'), [
		E('p', [ n != null && n != 1
			? _('Data added to quota %s for today only, shared by its %d devices; it lapses at midnight.').format(q.name, n)
			: _('Data added to the quota %s of %s for today only; it lapses at midnight.').format(q.name, who) ]),
		E('label', { 'for': 'transferometer-extra-size' }, [ _('Allowance (e.g. 500MB or 1GiB)') ]),
		E('div', {}, [ input ]),
		error,
		E('div', { 'class': 'right' }, [
			E('button', { 'class': 'btn cbi-button', 'data-action': 'cancel', 'click': ui.hideModal }, [ _('Cancel') ]),
			' ',
			add
		])
	]);

	input.focus();
}

/*
 * The quota cell of a device's row: a progress bar (role progressbar,
 * aria-valuenow/max, "x of y"), the state's badge and, unless the user
 * may only look (opts.readonly), the buttons.  opts.refresh is called
 * after a successful lift or extra allowance.
 */
function renderCell(host, usage, opts) {
	var v = quotaView(host, usage);

	opts = opts || {};

	if (!v)
		return E('td', { 'class': 'td', 'data-col': 'quota', 'data-title': _('Quota') }, [ '-' ]);

	var b = v.badge,
	    buttons = [];

	if (!opts.readonly) {
		if (v.canLift)
			buttons.push(E('button', {
				'class': 'cbi-button cbi-button-action',
				'data-action': 'quota-lift',
				'title': v.state == 'throttled'
					? _('Let the device use the router at full speed again until the allowance renews')
					: _('Let the device use the router again until the allowance renews'),
				'click': ui.createHandlerFn(opts, handleLift, host, usage, opts)
			}, [ v.state == 'throttled' ? _('Lift throttle') : _('Lift block') ]));

		buttons.push(E('button', {
			'class': 'cbi-button cbi-button-add',
			'data-action': 'quota-extra',
			'title': _('Add data to this quota for today'),
			'click': L.bind(showExtraDialog, opts, host, usage, opts)
		}, [ _('Add allowance…') ]));
	}

	/* as LuCI's own bars: the themes show the bar's title as its text */
	return E('td', {
		'class': 'td',
		'data-col': 'quota',
		'data-title': _('Quota'),
		'title': v.title,
		'data-quota': v.name,
		'data-state': v.state,
		'data-lifted': v.lifted ? 'true' : null
	}, [
		E('div', {
			'class': 'cbi-progressbar',
			'role': 'progressbar',
			'aria-label': _('Quota %s').format(v.name),
			'aria-valuemin': '0',
			'aria-valuemax': String(v.valueMax),
			'aria-valuenow': String(v.valueNow),
			'aria-valuetext': v.text,
			'data-percent': String(Math.round(v.percent)),
			'title': v.text
		}, [ E('div', { 'style': 'width:%.2f%%'.format(v.percent) }) ]),
		b ? E('span', { 'class': 'transferometer-quota-badge ' + b.cls, 'data-state': v.lifted && v.state == 'exhausted' ? 'lifted' : v.state, 'title': b.title }, [ b.text ]) : '',
		buttons.length ? E('div', {
			'class': 'transferometer-quota-actions',
			'style': 'display:flex; flex-wrap:wrap; gap:.25em; margin-top:.25em'
		}, buttons) : ''
	]);
}

return baseclass.extend({
	__name__: 'Transferometer.Quota',

	MAX_QUOTAS: MAX_QUOTAS,
	MAX_NAME: MAX_NAME,
	MAX_RATE_KBIT: MAX_RATE_KBIT,
	SIZE_UNITS: SIZE_UNITS,

	parseSizeExact: parseSizeExact,
	parseSize: parseSize,
	checkSize: checkSize,
	checkExtra: checkExtra,
	checkQuotaName: checkQuotaName,
	checkMAC: checkMAC,
	checkGroup: checkGroup,
	checkRate: checkRate,
	checkNotify: checkNotify,

	familyOf: familyOf,
	formatQuotaBytes: formatQuotaBytes,
	formatSize: formatSize,
	hostQuota: hostQuota,
	shown: shown,
	percentUsed: percentUsed,
	badge: badge,
	quotaView: quotaView,
	instanceOf: instanceOf,
	callMAC: callMAC,
	sharedBy: sharedBy,
	replyError: replyError,

	renderCell: renderCell
});
