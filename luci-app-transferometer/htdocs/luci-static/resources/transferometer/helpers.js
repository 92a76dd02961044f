'use strict';
'require baseclass';

/*
 * Pure helpers of the Transferometer views: byte and rate formatting,
 * the sort order of the usage table and the rate computed from two
 * successive usage replies.
 *
 * Loaded by the views with  require transferometer.helpers as helpers
 * (LuCI resolves that to this file and passes an instance of the class
 * returned at the bottom).  Nothing here touches the DOM, rpc or the
 * clock, so tests/helpers.test.mjs evaluates this very file under node
 * with a stub of baseclass and of the translation function.
 *
 * Keep the two pragma lines above as the first quoted strings of the
 * file: LuCI scans the source for them from its first byte and stops at
 * the first other quoted string, comments included.
 */

var UNITS = [ 'KB', 'MB', 'GB', 'TB', 'PB', 'EB' ];

/* Sortable columns, with the kind of value each one sorts by. */
var COLUMNS = {
	device:    'text',
	mac:       'text',
	ips:       'addr',
	download:  'num',
	upload:    'num',
	total:     'num',
	rate:      'num',
	last_seen: 'num'
};

var collator = (typeof Intl == 'object' && Intl.Collator)
	? new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })
	: null;

function tr(s) {
	return (typeof _ == 'function') ? _(s) : s;
}

/* Replace %d / %s in order; avoids relying on String.prototype.format. */
function fmt(s /*, ... */) {
	var args = Array.prototype.slice.call(arguments, 1), i = 0;
	return String(s).replace(/%[ds]/g, function(m) {
		var v = args[i++];
		return (m == '%d') ? String(Math.floor(+v || 0)) : String(v);
	});
}

function isCount(n) {
	return typeof(n) == 'number' && isFinite(n) && n >= 0;
}

/*
 * 500 -> "500 B", 10280 -> "10.04 KB", 1048575 -> "1.00 MB".
 * Binary multiples with the unit names LuCI itself prints for
 * format strings like %1024.2mB.
 */
function formatBytes(n) {
	if (!isCount(n))
		return '-';

	if (n < 1024)
		return Math.floor(n) + ' B';

	var v = n / 1024, u = 0;

	while (v >= 1024 && u < UNITS.length - 1) {
		v /= 1024;
		u++;
	}

	/* 1023.999 KB rounds to 1024.00: show 1.00 MB instead */
	if (v.toFixed(2) == '1024.00' && u < UNITS.length - 1) {
		v = 1;
		u++;
	}

	return v.toFixed(2) + ' ' + UNITS[u];
}

/* Digits grouped by three with a narrow no-break space (locale neutral). */
function groupDigits(n) {
	return String(Math.floor(n)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
}

/* Exact figures for the hover title: "10\u202f280 bytes, 10 packets". */
function exactTitle(bytes, packets) {
	if (!isCount(bytes))
		return '';

	var s = fmt(tr('%s bytes'), groupDigits(bytes));

	if (isCount(packets))
		s += ', ' + fmt(tr('%s packets'), groupDigits(packets));

	return s;
}

/* Bytes per second, or "-" when no rate is known yet. */
function formatRate(bps) {
	if (!isCount(bps))
		return '-';

	return formatBytes(bps) + '/s';
}

/* Age in seconds -> "just now", "42s ago", "5m ago", "3h ago", "2d ago". */
function formatAge(seconds) {
	if (typeof(seconds) != 'number' || !isFinite(seconds))
		return '-';

	if (seconds < 5)
		return tr('just now');
	if (seconds < 60)
		return fmt(tr('%ds ago'), seconds);
	if (seconds < 3600)
		return fmt(tr('%dm ago'), seconds / 60);
	if (seconds < 86400)
		return fmt(tr('%dh ago'), seconds / 3600);

	return fmt(tr('%dd ago'), seconds / 86400);
}

/* What the device column shows: the hostname, else the MAC (upper case, as LuCI shows MACs). */
function hostLabel(host) {
	return (host && host.hostname) ? String(host.hostname) : String((host && host.mac) || '').toUpperCase();
}

function hostTotal(host) {
	return (+host.download_bytes || 0) + (+host.upload_bytes || 0);
}

/*
 * A string that orders addresses numerically: IPv4 before IPv6,
 * 10.0.0.9 before 10.0.0.10.  null for something that is no address.
 */
function addrKey(ip) {
	var s = String(ip || '').trim().toLowerCase().replace(/%.*$/, '');
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);

	if (m) {
		if (+m[1] > 255 || +m[2] > 255 || +m[3] > 255 || +m[4] > 255)
			return null;
		return '4' + m.slice(1).map(function(o) { return ('00' + (+o)).slice(-3) }).join('');
	}

	if (s.indexOf(':') < 0)
		return null;

	/* embedded IPv4 tail, e.g. ::ffff:10.0.0.1 */
	m = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
	if (m)
		s = m[1] + ((+m[2] << 8) | +m[3]).toString(16) + ':' + ((+m[4] << 8) | +m[5]).toString(16);

	var halves = s.split('::');
	if (halves.length > 2)
		return null;

	var head = halves[0] ? halves[0].split(':') : [],
	    tail = (halves.length == 2 && halves[1]) ? halves[1].split(':') : [],
	    fill = 8 - head.length - tail.length;

	if ((halves.length == 1 && fill != 0) || fill < 0)
		return null;

	var groups = head.concat(new Array(fill + 1).join('0').split('').slice(0, fill), tail);

	for (var i = 0; i < groups.length; i++) {
		if (!/^[0-9a-f]{1,4}$/.test(groups[i]))
			return null;
		groups[i] = ('000' + groups[i]).slice(-4);
	}

	return '6' + groups.join('');
}

/* The lowest address of a host, as an addrKey; null when it has none. */
function hostAddrKey(host) {
	var best = null, ips = Array.isArray(host.ips) ? host.ips : [];

	for (var i = 0; i < ips.length; i++) {
		var k = addrKey(ips[i]);
		if (k != null && (best == null || k < best))
			best = k;
	}

	return best;
}

function rateTotal(rate) {
	if (!rate)
		return null;

	var d = isCount(rate.down) ? rate.down : null,
	    u = isCount(rate.up) ? rate.up : null;

	return (d == null && u == null) ? null : (d || 0) + (u || 0);
}

/* The value a host sorts by in a column; null sorts last. */
function sortValue(host, key, rates) {
	switch (key) {
	case 'device':    return hostLabel(host);
	case 'mac':       return String(host.mac || '').toLowerCase();
	case 'ips':       return hostAddrKey(host);
	case 'download':  return +host.download_bytes || 0;
	case 'upload':    return +host.upload_bytes || 0;
	case 'total':     return hostTotal(host);
	case 'rate':      return rateTotal(rates ? rates[host.mac] : null);
	case 'last_seen': return (isCount(host.last_seen) && host.last_seen > 0) ? host.last_seen : null;
	}

	return null;
}

function compareValues(kind, a, b) {
	if (kind == 'num')
		return a - b;

	if (kind == 'text' && collator)
		return collator.compare(a, b);

	return (a < b) ? -1 : (a > b) ? 1 : 0;
}

/*
 * A sorted copy of hosts.  dir is 'asc' or 'desc'.  Hosts without a
 * value in that column (no address, no rate yet) come last in both
 * directions; equal values keep their incoming order.
 */
function sortHosts(hosts, key, dir, rates) {
	var kind = COLUMNS[key];

	if (!kind)
		throw new Error('unknown sort column: ' + key);

	var sign = (dir == 'desc') ? -1 : 1;

	return (hosts || []).map(function(host, index) {
		return { host: host, index: index, value: sortValue(host, key, rates) };
	}).sort(function(a, b) {
		if (a.value == null || b.value == null) {
			if (a.value == null && b.value == null)
				return a.index - b.index;
			return (a.value == null) ? 1 : -1;
		}

		return (sign * compareValues(kind, a.value, b.value)) || (a.index - b.index);
	}).map(function(e) {
		return e.host;
	});
}

/*
 * Rates from two successive usage replies.
 *
 * prev is the snapshot returned last time (null on the first poll).
 * Returns { snapshot, rates }: rates maps MAC -> { down, up } in bytes
 * per second, null where unknown (first poll, new device, or a counter
 * lower than before: a reset, never a negative rate).  When the reply
 * is not newer than prev (same collected_at), rates is null: keep what
 * was shown, and snapshot stays prev.
 */
function computeRates(prev, usage) {
	var at = usage ? +usage.collected_at : NaN,
	    hosts = (usage && Array.isArray(usage.hosts)) ? usage.hosts : [],
	    snapshot = { at: at, hosts: {} },
	    rates = {};

	if (!isFinite(at))
		return { snapshot: prev || null, rates: null };

	for (var i = 0; i < hosts.length; i++)
		snapshot.hosts[hosts[i].mac] = {
			down: +hosts[i].download_bytes || 0,
			up: +hosts[i].upload_bytes || 0
		};

	if (prev && isFinite(prev.at) && at <= prev.at)
		return { snapshot: prev, rates: null };

	var dt = prev ? at - prev.at : 0;

	for (var mac in snapshot.hosts) {
		var cur = snapshot.hosts[mac],
		    old = (prev && prev.hosts) ? prev.hosts[mac] : null;

		rates[mac] = {
			down: (old && dt > 0 && cur.down >= old.down) ? (cur.down - old.down) / dt : null,
			up:   (old && dt > 0 && cur.up >= old.up) ? (cur.up - old.up) / dt : null
		};
	}

	return { snapshot: snapshot, rates: rates };
}

/* Sum of the known rates; null when none is known. */
function sumRates(rates) {
	var down = null, up = null;

	for (var mac in (rates || {})) {
		if (isCount(rates[mac].down))
			down = (down || 0) + rates[mac].down;
		if (isCount(rates[mac].up))
			up = (up || 0) + rates[mac].up;
	}

	return { down: down, up: up };
}

/* Totals of a host list (used when a reply carries no totals object). */
function sumHosts(hosts) {
	var t = { download_bytes: 0, upload_bytes: 0, download_packets: 0, upload_packets: 0 };

	(hosts || []).forEach(function(h) {
		t.download_bytes += +h.download_bytes || 0;
		t.upload_bytes += +h.upload_bytes || 0;
		t.download_packets += +h.download_packets || 0;
		t.upload_packets += +h.upload_packets || 0;
	});

	return t;
}

return baseclass.extend({
	__name__: 'Transferometer.Helpers',

	COLUMNS: COLUMNS,

	formatBytes: formatBytes,
	formatRate: formatRate,
	formatAge: formatAge,
	exactTitle: exactTitle,
	groupDigits: groupDigits,
	hostLabel: hostLabel,
	hostTotal: hostTotal,
	addrKey: addrKey,
	sortValue: sortValue,
	sortHosts: sortHosts,
	computeRates: computeRates,
	rateTotal: rateTotal,
	sumRates: sumRates,
	sumHosts: sumHosts
});
