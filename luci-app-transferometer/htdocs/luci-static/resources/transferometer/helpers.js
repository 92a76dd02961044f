'use strict';
'require baseclass';

/*
 * Pure helpers of the Transferometer views: byte and rate formatting,
 * the sort order of the usage table, the rate computed from two
 * successive usage replies, period labels, the CSV/JSON export, the
 * live feed's URL, messages and reconnect schedule, and the settings
 * page's validators (the backend's rules).
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
	today:     'num',
	rate:      'num',
	last_seen: 'num'
};

var collator = (typeof Intl == 'object' && Intl.Collator)
	? new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })
	: null;

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
 * Number formats of a locale (undefined: the browser's), made once per
 * locale and kind: Intl.NumberFormat is slow to construct.
 */
var numberFormats = {};

function numberFormat(locale, kind) {
	var key = String(locale) + '|' + kind;

	if (!numberFormats[key]) {
		var opts = (kind == 'fixed2') ? { minimumFractionDigits: 2, maximumFractionDigits: 2 }
			: (kind == 'percent') ? { style: 'percent', maximumFractionDigits: 0, signDisplay: 'exceptZero' }
			: { maximumFractionDigits: 0 };

		try {
			numberFormats[key] = new Intl.NumberFormat(locale, opts);
		}
		catch (e) {
			/* an unknown locale tag: the runtime's own */
			numberFormats[key] = new Intl.NumberFormat(undefined, opts);
		}
	}

	return numberFormats[key];
}

/*
 * 500 -> "500 B", 10280 -> "10.04 KB", 1048575 -> "1.00 MB".
 * Binary multiples with the unit names LuCI itself prints for
 * format strings like %1024.2mB; the number in the locale's digits and
 * separators (undefined: the browser's), e.g. "10,04 KB" in German.
 */
function formatBytes(n, locale) {
	if (!isCount(n))
		return '-';

	if (n < 1024)
		return numberFormat(locale, 'int').format(Math.floor(n)) + ' B';

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

	return numberFormat(locale, 'fixed2').format(+v.toFixed(2)) + ' ' + UNITS[u];
}

/* A whole number with the locale's digit grouping: 10280 -> "10,280" (en), "10.280" (de). */
function groupDigits(n, locale) {
	return numberFormat(locale, 'int').format(Math.floor(n));
}

/* Exact figures for the hover title: "10,280 bytes, 10 packets". */
function exactTitle(bytes, packets, locale) {
	if (!isCount(bytes))
		return '';

	var s = fmt(_('%s bytes'), groupDigits(bytes, locale));

	if (isCount(packets))
		s += ', ' + fmt(_('%s packets'), groupDigits(packets, locale));

	return s;
}

/* Bytes per second, or "-" when no rate is known yet. */
function formatRate(bps, locale) {
	if (!isCount(bps))
		return '-';

	return formatBytes(bps, locale) + '/s';
}

/*
 * An age in seconds as the locale says it ("5 minutes ago", "vor 5
 * Minuten"), with Intl.RelativeTimeFormat; formatAge where the runtime
 * lacks it.
 */
function relativeAge(seconds, locale) {
	if (typeof(seconds) != 'number' || !isFinite(seconds))
		return '-';

	if (typeof Intl != 'object' || typeof Intl.RelativeTimeFormat != 'function')
		return formatAge(seconds);

	var rtf;

	try {
		rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
	}
	catch (e) {
		rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
	}

	var s = Math.max(0, seconds);

	if (s < 60)
		return rtf.format(-Math.floor(s), 'second');
	if (s < 3600)
		return rtf.format(-Math.floor(s / 60), 'minute');
	if (s < 86400)
		return rtf.format(-Math.floor(s / 3600), 'hour');

	return rtf.format(-Math.floor(s / 86400), 'day');
}

/* Age in seconds -> "just now", "42s ago", "5m ago", "3h ago", "2d ago". */
function formatAge(seconds) {
	if (typeof(seconds) != 'number' || !isFinite(seconds))
		return '-';

	if (seconds < 5)
		return _('just now');
	if (seconds < 60)
		return fmt(_('%ds ago'), seconds);
	if (seconds < 3600)
		return fmt(_('%dm ago'), seconds / 60);
	if (seconds < 86400)
		return fmt(_('%dh ago'), seconds / 3600);

	return fmt(_('%dd ago'), seconds / 86400);
}

/* A device's name in messages: its name, else the MAC (upper case, as LuCI shows MACs). */
function hostLabel(host) {
	/* name: the admin's name for the device (config host), else its DHCP hostname */
	var name = host && (host.name || host.hostname);

	return name ? String(name) : String((host && host.mac) || '').toUpperCase();
}

function hostTotal(host) {
	return (+host.download_bytes || 0) + (+host.upload_bytes || 0);
}

/* Download + upload of the calendar day (usage's per-host "today"). */
function todayTotal(host) {
	var t = (host && host.today) || {};
	return (+t.download_bytes || 0) + (+t.upload_bytes || 0);
}

/* Hover title of a Today cell: exact total, its split, packets. */
function todayTitle(today, locale) {
	var t = today || {},
	    down = +t.download_bytes || 0,
	    up = +t.upload_bytes || 0,
	    s = fmt(_('%s bytes'), groupDigits(down + up, locale)) + ' (↓ ' + groupDigits(down, locale) + ', ↑ ' + groupDigits(up, locale) + ')';

	if (isCount(t.download_packets) || isCount(t.upload_packets))
		s += ', ' + fmt(_('%s packets'), groupDigits((+t.download_packets || 0) + (+t.upload_packets || 0), locale));

	return s;
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
	case 'device':    return (host.name || host.hostname) ? String(host.name || host.hostname) : null;
	case 'mac':       return String(host.mac || '').toLowerCase();
	case 'ips':       return hostAddrKey(host);
	case 'download':  return +host.download_bytes || 0;
	case 'upload':    return +host.upload_bytes || 0;
	case 'total':     return hostTotal(host);
	case 'today':     return todayTotal(host);
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
 * value in that column (no name, no address, no rate yet) come last in
 * both directions; equal values keep their incoming order.
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

/* --- accounting periods --- */

/* A date format of the locale (undefined: the browser's); an unknown locale tag falls back to the runtime's. */
function dateFormat(locale, opts) {
	try {
		return new Intl.DateTimeFormat(locale, opts);
	}
	catch (e) {
		return new Intl.DateTimeFormat(undefined, opts);
	}
}

/* "2026-11-01" -> "Nov 1, 2026" (en), "1. Nov. 2026" (de); a key that is no date as it is. */
function shortDate(key, locale) {
	var d = parseDay(key);

	return d ? dateFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' }).format(new Date(d.t))
		: String(key == null ? '' : key);
}

function pad2(n) {
	return (n < 10 ? '0' : '') + n;
}

/* "2026-11-01" -> { y, m, d, t (UTC ms of that date) }; null unless a real calendar date. */
function parseDay(key) {
	var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(key == null ? '' : key));

	if (!m)
		return null;

	var y = +m[1], mo = +m[2], d = +m[3], t = Date.UTC(y, mo - 1, d), dt = new Date(t);

	if (dt.getUTCFullYear() != y || dt.getUTCMonth() != mo - 1 || dt.getUTCDate() != d)
		return null;

	return { y: y, m: mo, d: d, t: t };
}

function dayString(t) {
	var d = new Date(t);
	return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate());
}

/*
 * The days a period of a usage reply ({ key, start, end }) covers, as
 * dates of the router: the key is its first day (router-local), and
 * end - start in whole days (rounded: a DST change makes one day 23 or
 * 25 hours) gives the length.  The browser's time zone plays no part.
 * Returns { first, last, days, month } (month: "November 2026" in the
 * locale when the period is exactly one calendar month) or null (key
 * "all", no range).
 */
function periodRange(period, locale) {
	var p = period || {},
	    day = parseDay(p.key),
	    start = +p.start, end = +p.end;

	if (!day || !isFinite(start) || !isFinite(end) || end <= start)
		return null;

	var days = Math.max(1, Math.round((end - start) / 86400)),
	    lastT = day.t + (days - 1) * 86400000,
	    last = new Date(lastT),
	    month = null;

	/* a whole calendar month: starts on the 1st, ends on that month's last day */
	if (day.d == 1 && last.getUTCMonth() == day.m - 1 && new Date(lastT + 86400000).getUTCDate() == 1)
		month = dateFormat(locale, { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(new Date(day.t));

	return { first: dayString(day.t), last: dayString(lastT), days: days, month: month };
}

/* What the page says about the period it shows, dates in the locale. */
function periodLabel(period, locale) {
	if (!period || period.key == 'all')
		return _('All traffic since the counters were last reset');

	var r = periodRange(period, locale);

	if (!r)
		return String(period.key || '');

	if (r.month)
		return fmt('%s (%s – %s)', r.month, shortDate(r.first, locale), shortDate(r.last, locale));

	if (r.days == 1)
		return fmt(_('%s (1 day)'), shortDate(r.first, locale));

	return fmt(N_(r.days, '%s – %s (%d day)', '%s – %s (%d days)'), shortDate(r.first, locale), shortDate(r.last, locale), r.days);
}

/*
 * The period selector's entries: the current period (value 'current',
 * so that the selection follows it into the next period), the older
 * ones of periods (newest first, as usage lists them; each by its
 * first day) and everything since the last reset ('all').
 */
function periodOptions(periods, locale) {
	var list = Array.isArray(periods) ? periods : [],
	    opts = [ {
			value: 'current',
			label: list.length ? fmt(_('Current period (since %s)'), shortDate(list[0], locale)) : _('Current period')
		} ];

	for (var i = 1; i < list.length; i++)
		if (typeof(list[i]) == 'string' && list[i] != list[0])
			opts.push({ value: list[i], label: fmt(_('Period from %s'), shortDate(list[i], locale)) });

	opts.push({ value: 'all', label: _('All since the last reset') });

	return opts;
}

/* --- export --- */

var CSV_HEADER = [ 'period', 'mac', 'hostname', 'ips', 'download_bytes', 'upload_bytes',
	'download_packets', 'upload_packets', 'first_seen', 'last_seen', 'name', 'group' ];

/* A hostname starting with = + - @ would be a formula in a spreadsheet: prefix a quote. */
function csvSafe(s) {
	s = (s == null) ? '' : String(s);
	return (s !== '' && '=+-@'.indexOf(s.charAt(0)) >= 0) ? "'" + s : s;
}

/* One CSV field, quoted when Go's encoding/csv would quote it (so the file equals `transferometer export`). */
function csvField(v) {
	var s = (v == null) ? '' : String(v);

	if (s === '')
		return s;

	if (s == '\\.' || /[",\r\n]/.test(s) || /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/.test(s))
		return '"' + s.replace(/"/g, '""') + '"';

	return s;
}

function wholeNumber(n) {
	n = +n;
	return (isFinite(n) && n > 0) ? String(Math.floor(n)) : (isFinite(n) && n < 0 ? String(Math.ceil(n)) : '0');
}

/*
 * The CSV of a usage reply, as `transferometer export --period P`
 * prints it: a header, one row per device in the reply's order, LF line
 * ends.  The hostname, name and group get the formula guard (the other
 * fields are MACs, addresses and numbers).
 */
function usageCSV(usage) {
	var u = usage || {},
	    key = (u.period && u.period.key) ? String(u.period.key) : '',
	    hosts = Array.isArray(u.hosts) ? u.hosts : [],
	    lines = [ CSV_HEADER.join(',') ];

	for (var i = 0; i < hosts.length; i++) {
		var h = hosts[i] || {};

		lines.push([
			key,
			String(h.mac || ''),
			csvSafe(h.hostname),
			(Array.isArray(h.ips) ? h.ips : []).join(' '),
			wholeNumber(h.download_bytes), wholeNumber(h.upload_bytes),
			wholeNumber(h.download_packets), wholeNumber(h.upload_packets),
			wholeNumber(h.first_seen), wholeNumber(h.last_seen),
			csvSafe(h.name), csvSafe(h.group)
		].map(csvField).join(','));
	}

	return lines.join('\n') + '\n';
}

/* The JSON export: the usage reply itself (what `transferometer export --format json` prints). */
function usageJSON(usage) {
	return JSON.stringify(usage || {}, null, 2) + '\n';
}

/* transferometer-2026-11-01.csv, transferometer-all.json */
function exportFilename(usage, ext) {
	var key = (usage && usage.period && usage.period.key) ? String(usage.period.key) : 'current';
	return 'transferometer-' + key.replace(/[^A-Za-z0-9_.-]/g, '_') + '.' + ext;
}

/* --- live feed --- */

/* Reconnect delays in seconds: 5, 10, 20, 40, then every 60. */
var LIVE_BACKOFF = [ 5, 10, 20, 40, 60 ];

/* Seconds to wait before reconnect attempt number attempt (0 = the first retry). */
function backoffDelay(attempt) {
	var n = Math.floor(+attempt);
	if (!isFinite(n) || n < 0)
		n = 0;
	return LIVE_BACKOFF[Math.min(n, LIVE_BACKOFF.length - 1)];
}

/* rpcd session ids are 32 lowercase hex digits; all zeros is LuCI's "no session". */
function isSessionID(s) {
	return typeof(s) == 'string' && /^[0-9a-f]{32}$/.test(s) && !/^0+$/.test(s);
}

function isPort(n) {
	return typeof(n) == 'number' && n % 1 === 0 && n > 0 && n < 65536;
}

/*
 * The feed's URL for a page at loc (window.location) given usage's
 * live ports: the page's host (the router), ws:// on live.port for an
 * http page, wss:// on live.tls_port for an https one (a secure page may
 * not open ws://).  null when that port is off (0), or there is no
 * session to present.
 */
function liveURL(loc, live, session) {
	if (!loc || !live || typeof(live) != 'object' || !isSessionID(session))
		return null;

	var https = (loc.protocol == 'https:'),
	    port = https ? live.tls_port : live.port,
	    host = String(loc.hostname || '');

	if (!isPort(port) || host === '')
		return null;

	/* URL.hostname keeps IPv6 literals in brackets; add them if something did not */
	if (host.indexOf(':') >= 0 && host.charAt(0) != '[')
		host = '[' + host + ']';

	return (https ? 'wss://' : 'ws://') + host + ':' + port + '/live?session=' + encodeURIComponent(session);
}

/*
 * For an https page: the feed's TLS port as a page (https://host:tls_port/),
 * which the user opens once to accept a self-signed certificate (a
 * browser never asks about one on a websocket).  null otherwise.
 */
function liveCertURL(loc, live) {
	if (!loc || loc.protocol != 'https:' || !live || !isPort(live.tls_port) || !loc.hostname)
		return null;

	var host = String(loc.hostname);

	if (host.indexOf(':') >= 0 && host.charAt(0) != '[')
		host = '[' + host + ']';

	return 'https://' + host + ':' + live.tls_port + '/';
}

/*
 * A feed message ({"type":"rates","at":ms,"rates":[{mac,down,up}]}) ->
 * { at, rates: { mac: { down, up } } } with MACs in lower case; null for
 * anything else (other types are for future use and are ignored).
 */
function parseLiveMessage(data) {
	var m;

	try {
		m = JSON.parse(String(data));
	}
	catch (e) {
		return null;
	}

	if (!m || typeof(m) != 'object' || m.type != 'rates' || !Array.isArray(m.rates))
		return null;

	var rates = {};

	for (var i = 0; i < m.rates.length; i++) {
		var r = m.rates[i];

		if (r && typeof(r.mac) == 'string')
			rates[r.mac.toLowerCase()] = {
				down: isCount(r.down) ? r.down : null,
				up: isCount(r.up) ? r.up : null
			};
	}

	return { at: (typeof(m.at) == 'number' && isFinite(m.at)) ? m.at : null, rates: rates };
}

/* --- names, groups and the search box --- */

/* A MAC in LuCI's spelling (upper case, colons), or null when it is none. */
function normalizeMAC(mac) {
	var s = String(mac == null ? '' : mac).trim().toLowerCase().replace(/-/g, ':');

	return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(s) ? s.toUpperCase() : null;
}

/* The longest name or group the service takes, in bytes of UTF-8. */
var MAX_NAME_BYTES = 64;

function utf8Length(s) {
	var n = 0;

	for (var i = 0; i < s.length; i++) {
		var c = s.charCodeAt(i);

		if (c < 0x80) n += 1;
		else if (c < 0x800) n += 2;
		else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
		else n += 3;
	}

	return n;
}

/*
 * A name or group for `config host` as the service takes it (its
 * internal/names rule and the 64-byte bound of internal/config): no
 * control characters, no markup or quotes (< > " ' & \), none of the
 * invisible characters that reorder or hide text.  A section the
 * service refuses would stop it reading its settings, so the page
 * refuses first.  True or a message; empty is fine (not set).
 */
function checkDeviceLabel(v) {
	var s = String(v == null ? '' : v);

	if (s === '')
		return true;

	if (utf8Length(s) > MAX_NAME_BYTES)
		return fmt(_('At most %d bytes'), MAX_NAME_BYTES);

	if (/[\x00-\x1f\x7f-\x9f]/.test(s))
		return _('No control characters (such as tab or line break)');

	if (/[<>"'&\\]/.test(s))
		return _('None of these characters: < > " \' & \\');

	if (/[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/.test(s))
		return _('No invisible characters (direction marks, zero-width spaces)');

	if (/[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/.test(s))
		return _('Not valid text');

	return true;
}

/*
 * The name a device is shown by and where it comes from: the name given
 * on this page or in the settings (usage's name when it is not the DHCP
 * hostname), else the DHCP hostname, else the name LuCI knows for the
 * MAC (luci-rpc getHostHints: /etc/ethers, static leases, neighbours).
 * hints: MAC (any case) -> { name }.  { name, source } with source
 * 'given', 'dhcp', 'hint' or null (unnamed).
 */
function shownName(host, hints) {
	var h = host || {},
	    name = h.name ? String(h.name) : '',
	    hostname = h.hostname ? String(h.hostname) : '';

	if (name && name !== hostname)
		return { name: name, source: 'given' };

	if (hostname)
		return { name: hostname, source: 'dhcp' };

	if (name)
		return { name: name, source: 'given' };

	var mac = normalizeMAC(h.mac),
	    hint = (mac && hints) ? (hints[mac] || hints[mac.toLowerCase()]) : null;

	if (hint && hint.name && checkDeviceLabel(hint.name) === true)
		return { name: String(hint.name), source: 'hint' };

	return { name: null, source: null };
}

/* Copies of hosts whose name is the shown one (for sorting by it). */
function withShownNames(hosts, hints) {
	return (hosts || []).map(function(host) {
		var copy = {};

		for (var k in host)
			copy[k] = host[k];

		copy.name = shownName(host, hints).name || '';

		return copy;
	});
}

/*
 * Hosts whose shown name, hostname, group, MAC (with or without
 * separators) or one of its addresses contains query (case-insensitive).
 * An empty query keeps all.
 */
function filterHosts(hosts, query, hints) {
	var q = String(query == null ? '' : query).trim().toLowerCase();

	if (q === '')
		return (hosts || []).slice();

	var bare = q.replace(/[:\-.]/g, '');

	return (hosts || []).filter(function(host) {
		var mac = String(host.mac || '').toLowerCase(),
		    fields = [ shownName(host, hints).name, host.hostname, host.group, mac ]
				.concat(Array.isArray(host.ips) ? host.ips : []);

		for (var i = 0; i < fields.length; i++)
			if (fields[i] != null && String(fields[i]).toLowerCase().indexOf(q) >= 0)
				return true;

		return bare.length >= 2 && /^[0-9a-f]+$/.test(bare) && mac.replace(/:/g, '').indexOf(bare) >= 0;
	});
}

/* The sort and filter the table remembers (localStorage): a sane value or the defaults. */
function parseTableState(json) {
	var st = { sortKey: 'total', sortDir: 'desc', query: '' }, v;

	try {
		v = JSON.parse(String(json));
	}
	catch (e) {
		return st;
	}

	if (!v || typeof(v) != 'object')
		return st;

	if (typeof(v.sortKey) == 'string' && COLUMNS.hasOwnProperty(v.sortKey))
		st.sortKey = v.sortKey;
	if (v.sortDir == 'asc' || v.sortDir == 'desc')
		st.sortDir = v.sortDir;
	if (typeof(v.query) == 'string')
		st.query = v.query.slice(0, 100);

	return st;
}

/* --- over time: history charts --- */

/* Devices drawn on their own in the stacked chart; the rest add up as "others". */
var CHART_TOP = 5;

/*
 * The stacked chart of history buckets (days or hours: { download,
 * upload, devices: { mac: [down, up] } }).  The top devices by traffic
 * (download + upload over all buckets; ties by MAC) get a series each,
 * everything else one "others" series (what a bucket has beyond its
 * listed devices included, so the stack adds up to the bucket's total).
 * Returns { series: [ key ], bars: [ { down: [ bytes per series ], up:
 * [...], download, upload } ], max } with keys the MACs (lower case)
 * and 'others' last when it is not empty.
 */
function stackBuckets(buckets, top) {
	var list = Array.isArray(buckets) ? buckets : [],
	    n = (top == null) ? CHART_TOP : top,
	    sums = {};

	list.forEach(function(b) {
		var devs = (b && b.devices && typeof(b.devices) == 'object') ? b.devices : {};

		for (var mac in devs) {
			var v = Array.isArray(devs[mac]) ? devs[mac] : [];
			sums[mac.toLowerCase()] = (sums[mac.toLowerCase()] || 0) + (+v[0] || 0) + (+v[1] || 0);
		}
	});

	var ranked = Object.keys(sums).filter(function(m) { return sums[m] > 0; }).sort(function(a, b) {
		return (sums[b] - sums[a]) || (a < b ? -1 : a > b ? 1 : 0);
	});
	var series = ranked.slice(0, n), index = {}, others = false, max = 0;

	series.forEach(function(m, i) { index[m] = i; });

	var bars = list.map(function(b) {
		var devs = (b && b.devices && typeof(b.devices) == 'object') ? b.devices : {},
		    down = series.map(function() { return 0; }),
		    up = series.map(function() { return 0; }),
		    listedDown = 0, listedUp = 0,
		    total = { down: +(b && b.download) || 0, up: +(b && b.upload) || 0 };

		for (var mac in devs) {
			var v = Array.isArray(devs[mac]) ? devs[mac] : [], i = index[mac.toLowerCase()];

			if (i != null) {
				down[i] += +v[0] || 0;
				up[i] += +v[1] || 0;
				listedDown += +v[0] || 0;
				listedUp += +v[1] || 0;
			}
		}

		/* a bucket's totals include what devices it does not list (e.g. expired ones) */
		var restDown = Math.max(0, Math.max(total.down, sumOf(devs, 0)) - listedDown),
		    restUp = Math.max(0, Math.max(total.up, sumOf(devs, 1)) - listedUp);

		down.push(restDown);
		up.push(restUp);

		if (restDown > 0 || restUp > 0)
			others = true;

		var d = listedDown + restDown, u = listedUp + restUp;

		max = Math.max(max, d, u);

		return { down: down, up: up, download: d, upload: u };
	});

	if (!others)
		bars.forEach(function(b) { b.down.pop(); b.up.pop(); });

	return { series: others ? series.concat('others') : series, bars: bars, max: max };
}

function sumOf(devs, k) {
	var n = 0;

	for (var mac in devs)
		n += Array.isArray(devs[mac]) ? (+devs[mac][k] || 0) : 0;

	return n;
}

/*
 * The top of a chart's scale: the smallest 1, 2 or 5 times a power of
 * 1024 (or of ten below 1024) at or above max, so the axis label is a
 * round figure.  0 for an empty chart.
 */
function chartScale(max) {
	if (!isCount(max) || max <= 0)
		return 0;

	var unit = 1;

	while (max / unit >= 1024)
		unit *= 1024;

	var v = max / unit, step = 1;

	while (step * 10 < v)
		step *= 10;

	var mult = [ 1, 2, 5, 10 ].find(function(m) { return m * step >= v; });

	return Math.min(mult * step, 1024) * unit;
}

/* The height (px) a value gets on a scale drawn h px tall, to 0.01 px. */
function barHeight(value, scale, h) {
	if (!(scale > 0) || !isCount(value))
		return 0;

	return Math.round(value / scale * h * 100) / 100;
}

/*
 * This period against the previous one, in percent of the previous
 * total (download + upload); null when there is no previous period or it
 * counted nothing.
 */
function compareTotals(cur, prev) {
	if (!cur || !prev)
		return null;

	var a = (+cur.download || 0) + (+cur.upload || 0),
	    b = (+prev.download || 0) + (+prev.upload || 0);

	if (!(b > 0))
		return null;

	return (a - b) / b * 100;
}

/* A percentage with its sign, in the locale: 12.4 -> "+12%" (en), "+12 %" (de). */
function formatPercent(pct, locale) {
	if (typeof(pct) != 'number' || !isFinite(pct))
		return '-';

	return numberFormat(locale, 'percent').format(pct / 100);
}

/*
 * A history date ("2026-12-07") or hour ("2026-12-07T13") in the
 * locale: "Dec 7" / "7. Dez."; with hour "13:00".  The router's local
 * date and hour are shown as they are, whatever the browser's time zone
 * (formatted as UTC).
 */
function formatBucket(key, kind, locale) {
	var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?$/.exec(String(key || ''));

	if (!m)
		return String(key || '');

	var t = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], m[4] ? +m[4] : 0)),
	    opts = (kind == 'hour') ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' }
			: (kind == 'long') ? { weekday: 'short', year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }
			: { month: 'short', day: 'numeric', timeZone: 'UTC' };

	try {
		return new Intl.DateTimeFormat(locale, opts).format(t);
	}
	catch (e) {
		return new Intl.DateTimeFormat(undefined, opts).format(t);
	}
}

/*
 * Empty history days after the date last up to and including end (both
 * "YYYY-MM-DD"): the days of the current period still to come.  At most
 * 62 (a period of days is never longer than the chart can draw).
 */
function daysAfter(last, end) {
	var a = parseDay(last), b = parseDay(end), out = [];

	if (!a || !b)
		return out;

	for (var t = a.t + 86400000; t <= b.t && out.length < 62; t += 86400000)
		out.push({ date: dayString(t), download: 0, upload: 0, devices: {} });

	return out;
}

/* A period key as a date in the locale ("December 1, 2026"). */
function formatDay(key, locale) {
	var d = parseDay(key);

	if (!d)
		return String(key || '');

	var opts = { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' };

	try {
		return new Intl.DateTimeFormat(locale, opts).format(new Date(d.t));
	}
	catch (e) {
		return new Intl.DateTimeFormat(undefined, opts).format(new Date(d.t));
	}
}

/* --- backup and restore --- */

/* Bytes (Uint8Array) <-> base64, for the backup file in the ubus reply and the upload. */
function bytesToBase64(bytes) {
	var s = '', CH = 0x8000;

	for (var i = 0; i < bytes.length; i += CH)
		s += String.fromCharCode.apply(null, Array.prototype.slice.call(bytes, i, i + CH));

	return btoa(s);
}

function base64ToBytes(b64) {
	var s = atob(String(b64 || '')), out = new Uint8Array(s.length);

	for (var i = 0; i < s.length; i++)
		out[i] = s.charCodeAt(i);

	return out;
}

/* A file name for the download: the one the router gave, made safe, or a default. */
function backupFilename(name) {
	var s = String(name || '').replace(/^.*[\/\\]/, '').replace(/[^A-Za-z0-9_.-]/g, '_');

	return /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s) ? s : 'transferometer-backup.json';
}

/* --- settings validators: the backend's rules (internal/config); true or a message --- */

var DURATION_UNITS = { '': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400 };

/* "30" / "30s" / "5m" / "24h" / "1d" -> seconds; null otherwise. */
function parseDuration(v) {
	var m = /^(\d{1,9})([smhd]?)$/.exec(String(v == null ? '' : v));
	return m ? (+m[1]) * DURATION_UNITS[m[2]] : null;
}

/* Seconds with the largest unit that divides them, as the backend prints them. */
function formatDuration(secs) {
	if (secs >= 172800 && secs % 86400 == 0)
		return (secs / 86400) + 'd';
	if (secs % 3600 == 0)
		return (secs / 3600) + 'h';
	if (secs % 60 == 0)
		return (secs / 60) + 'm';
	return secs + 's';
}

function checkDuration(v, lo, hi) {
	if (v == null || v === '')
		return true;

	var d = parseDuration(v);

	if (d == null || d < lo || d > hi)
		return fmt(_('Expecting a duration from %s to %s: seconds, or a number with s, m, h or d (e.g. 30s, 24h)'),
			formatDuration(lo), formatDuration(hi));

	return true;
}

function checkInteger(v, lo, hi) {
	if (v == null || v === '')
		return true;

	var s = String(v);

	if (!/^\d{1,9}$/.test(s) || +s < lo || +s > hi)
		return fmt(_('Expecting a whole number from %d to %d'), lo, hi);

	return true;
}

/*
 * period_start: a day of the month (1-28) for monthly periods, a date
 * (YYYY-MM-DD) for periods of period_days days.  The backend takes
 * either form whatever the period, but ignores the one that does not
 * fit, so the form refuses that.  period null: either form.
 */
function checkPeriodStart(v, period) {
	if (v == null || v === '')
		return true;

	var s = String(v),
	    isDay = /^\d{1,9}$/.test(s) && +s >= 1 && +s <= 28,
	    isDate = parseDay(s) != null;

	if (period == 'days')
		return isDate ? true : _('Periods of a number of days start on a date: YYYY-MM-DD');

	if (period == null || period === '')
		return (isDay || isDate) ? true : _('Expecting a day of the month (1-28) or a date (YYYY-MM-DD)');

	return isDay ? true : _('Monthly periods start on a day of the month from 1 to 28');
}

/* Dotted-quad IPv4 as Go's netip.ParseAddr takes it: four decimal octets up to 255, no leading zeros. */
function isIPv4(s) {
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);

	return !!m && m.slice(1).every(function(o) { return +o <= 255 && (o.length == 1 || o.charAt(0) != '0'); });
}

/*
 * IPv6 as Go's netip.ParseAddr takes it, zone refused: addrKey's groups,
 * an IPv4 tail only as isIPv4 takes it, and a '::' standing for at least
 * one group of zeros (1:2:3:4:5:6:7::8 is refused).
 */
function isIPv6(s) {
	if (s.indexOf(':') < 0 || /[\s%\/]/.test(s) || addrKey(s) == null)
		return false;

	var last = s.slice(s.lastIndexOf(':') + 1),
	    groups = s.split(':').filter(function(g) { return g !== ''; }).length;

	if (last.indexOf('.') >= 0) {
		if (!isIPv4(last))
			return false;
		groups++;
	}

	return s.indexOf('::') < 0 || groups <= 7;
}

/* An IPv4 or IPv6 address without prefix or zone (Go's netip.ParseAddr, zone refused). */
function checkIPAddress(v) {
	if (v == null || v === '')
		return true;

	var s = String(v);

	return (isIPv4(s) || isIPv6(s)) ? true : _('Expecting an IP address (IPv4 or IPv6, without prefix length)');
}

/*
 * live_address: one unicast address of the router's, as the backend takes
 * it: no wildcard (it would put the feed on the WAN), multicast,
 * IPv4-mapped or link-local address.
 */
function checkListenAddress(v) {
	var ok = checkIPAddress(v);

	if (ok !== true || v == null || v === '')
		return ok;

	var k = addrKey(String(v));

	if (k == '4000000000000' || k == '6' + new Array(33).join('0'))
		return _('Expecting one LAN address of the router, not a wildcard (empty: all of them)');

	var v4 = k.charAt(0) == '4',
	    first = v4 ? +k.slice(1, 4) : 0;

	if (v4 ? (first >= 224 && first <= 239) || k.slice(1, 7) == '169254'
	       : /^6ff/.test(k) || /^6fe[89ab]/.test(k) || k.slice(1, 25) == '00000000000000000000ffff')
		return _('Expecting a unicast address the feed can listen on');

	return true;
}

/*
 * Path options, confined as the backend confines them (its
 * internal/config/paths.go): a clean absolute path strictly below one of
 * the roots where that kind of file belongs on OpenWrt.
 */
var RUNTIME_ROOTS = [ '/tmp/', '/var/', '/run/' ],
    PERSIST_ROOTS = [ '/etc/', '/overlay/', '/mnt/', '/tmp/' ],
    CERT_ROOTS = [ '/etc/', '/tmp/', '/var/' ];

function checkConfinedPath(v, roots) {
	if (v == null || v === '')
		return true;

	var s = String(v);

	if (s.charAt(0) != '/')
		return _('Expecting an absolute path (starting with /)');

	if (/\/\.\.?(\/|$)/.test(s) || s.indexOf('//') >= 0 || (s.length > 1 && s.charAt(s.length - 1) == '/'))
		return _('Expecting a clean path (no .., ., // or trailing /)');

	for (var i = 0; i < roots.length; i++)
		if (s.indexOf(roots[i]) == 0 && s.length > roots[i].length)
			return true;

	return fmt(_('Expecting a path under %s'), roots.join(', '));
}

/*
 * metrics_allow: an address or a subnet, as the backend takes it (Go's
 * netip.ParsePrefix, else netip.ParseAddr without a zone): ADDRESS or
 * ADDRESS/BITS, BITS from 0 to 32 for IPv4 and to 128 for IPv6, plain
 * decimal (no sign, no leading zero).  Host bits may be set (10.0.0.5/24):
 * the service masks them.  IPv4-mapped IPv6 (::ffff:10.0.0.1) is refused, as
 * the service refuses it.
 */
function checkAddressOrSubnet(v) {
	if (v == null || v === '')
		return true;

	var s = String(v), slash = s.indexOf('/'),
	    addr = (slash < 0) ? s : s.slice(0, slash),
	    bits = (slash < 0) ? null : s.slice(slash + 1),
	    ok = isIPv4(addr) || isIPv6(addr);

	if (ok && bits != null)
		ok = /^(0|[1-9]\d{0,2})$/.test(bits) && +bits <= (addr.indexOf(':') >= 0 ? 128 : 32);

	/* the service sees IPv4 callers as IPv4: a mapped entry would match nobody */
	if (ok && addrKey(addr).indexOf('6' + '00000000000000000000' + 'ffff') === 0)
		return _('Write an IPv4-mapped address in IPv4 notation (e.g. 10.0.0.1 for ::ffff:10.0.0.1)');

	return ok ? true : _('Expecting an IP address or a subnet (e.g. 192.168.1.10, 192.168.1.0/24 or fd00::/64)');
}

/* The values of option placement the service takes, as the settings page lists them. */
var PLACEMENTS = [ 'auto', 'forward', 'netdev' ];

/*
 * lan_device: a Linux network device name as the backend takes it (the
 * kernel's rule, a little stricter): 1 to 15 characters, printable ASCII
 * without space, '/' or ':', not "." or "..", not starting with '-'.
 * Empty: the device of the LAN network.
 */
function checkDeviceName(v) {
	if (v == null || v === '')
		return true;

	var s = String(v);

	if (s.length > 15 || s == '.' || s == '..' || s.charAt(0) == '-')
		return _('Expecting a network device name: 1 to 15 characters, not starting with - (e.g. br-lan)');

	if (!/^[\x21-\x7e]+$/.test(s) || /[\/:]/.test(s))
		return _('Expecting a network device name without spaces, / or : (e.g. br-lan)');

	return true;
}

/*
 * alert_webhook: the service's rule (internal/config/alerts.go), which is
 * what Go's net/url.Parse (of the router build, Go 1.21) makes of the URL:
 * at most 2048 bytes, no spaces or control characters, scheme http or https
 * (any case), "//" and a host, no fragment, a port (if any) from 1 to 65535;
 * what url.Parse refuses (a bad %-escape, a character a host or user name
 * may not hold, a "[" without "]") is refused too. The messages never quote
 * the value: the URL may hold a token.
 */
var WEBHOOK_MAX_BYTES = 2048;

/* net/url's shouldEscape(c, encodeHost) for a byte: what a host may not hold unescaped */
function hostEscapes(c) {
	return !(c < 0x80 && /[A-Za-z0-9!$&'()*+,;=:\[\]<>"\-_.~]/.test(String.fromCharCode(c)));
}

/* net/url's unescape(s, mode) succeeds; mode 'host', 'zone' or anything else (path, user) */
function urlUnescapes(s, mode) {
	for (var i = 0; i < s.length; ) {
		if (s.charAt(i) == '%') {
			var hx = s.substr(i + 1, 2);
			if (!/^[0-9A-Fa-f]{2}$/.test(hx))
				return false;
			var v = parseInt(hx, 16);
			if (mode == 'host' && (v >> 4) < 8 && hx != '25')
				return false;
			if (mode == 'zone' && hx != '25' && v != 0x20 && hostEscapes(v))
				return false;
			i += 3;
			continue;
		}
		if ((mode == 'host' || mode == 'zone') && hostEscapes(s.charCodeAt(i)) && s.charCodeAt(i) < 0x80)
			return false;
		i++;
	}
	return true;
}

function validOptionalPort(p) {
	return p === '' || /^:[0-9]*$/.test(p);
}

/* net/url's parseHost succeeds */
function urlHostParses(host) {
	if (host.charAt(0) == '[') {
		var i = host.lastIndexOf(']');
		if (i < 0 || !validOptionalPort(host.substring(i + 1)))
			return false;
		var zone = host.substring(0, i).indexOf('%25');
		if (zone >= 0)
			return urlUnescapes(host.substring(0, zone), 'host') &&
				urlUnescapes(host.substring(zone, i), 'zone') && urlUnescapes(host.substring(i), 'host');
	}
	else if (host.lastIndexOf(':') >= 0 && !validOptionalPort(host.substring(host.lastIndexOf(':')))) {
		return false;
	}
	return urlUnescapes(host, 'host');
}

function checkWebhook(v) {
	if (v == null || v === '')
		return true;

	var s = String(v);

	if (utf8Length(s) > WEBHOOK_MAX_BYTES)
		return fmt(_('At most %d bytes'), WEBHOOK_MAX_BYTES);

	if (/[\x00-\x20\x7f]/.test(s))
		return _('A URL has no spaces or control characters');

	var m = /^([A-Za-z][A-Za-z0-9+.\-]*):/.exec(s);
	if (!m || !/^https?$/i.test(m[1]))
		return _('Expecting an http:// or https:// URL');

	if (s.indexOf('#') >= 0)
		return _('No fragment (#…): it is never sent');

	var rest = s.substring(m[0].length), q = rest.indexOf('?');
	if (q >= 0)
		rest = rest.substring(0, q);
	if (rest.substring(0, 2) != '//')
		return _('Expecting a URL with a host (http://HOST/…)');

	var authority = rest.substring(2), path = '', slash = authority.indexOf('/');
	if (slash >= 0) {
		path = authority.substring(slash);
		authority = authority.substring(0, slash);
	}
	var at = authority.lastIndexOf('@'),
	    host = authority.substring(at + 1),
	    user = at >= 0 ? authority.substring(0, at) : '';

	if (!urlHostParses(host) || !/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(user) ||
	    !urlUnescapes(user, 'user') || !urlUnescapes(path, 'path'))
		return _('Not a valid URL');

	if (host === '' || host.charAt(0) == ':')
		return _('Expecting a URL with a host (http://HOST/…)');

	var colon = host.lastIndexOf(':'), port = '';
	if (colon >= 0 && validOptionalPort(host.substring(colon)))
		port = host.substring(colon + 1);
	if (port !== '' && (port.length > 9 || +port < 1 || +port > 65535))
		return _('Expecting a port from 1 to 65535');

	return true;
}

return baseclass.extend({
	__name__: 'Transferometer.Helpers',

	COLUMNS: COLUMNS,

	formatBytes: formatBytes,
	formatRate: formatRate,
	formatAge: formatAge,
	relativeAge: relativeAge,
	exactTitle: exactTitle,
	groupDigits: groupDigits,
	hostLabel: hostLabel,
	hostTotal: hostTotal,
	todayTotal: todayTotal,
	todayTitle: todayTitle,
	addrKey: addrKey,
	sortValue: sortValue,
	sortHosts: sortHosts,
	computeRates: computeRates,
	rateTotal: rateTotal,
	sumRates: sumRates,
	sumHosts: sumHosts,

	parseDay: parseDay,
	periodRange: periodRange,
	periodLabel: periodLabel,
	periodOptions: periodOptions,
	shortDate: shortDate,

	CSV_HEADER: CSV_HEADER,
	csvSafe: csvSafe,
	csvField: csvField,
	usageCSV: usageCSV,
	usageJSON: usageJSON,
	exportFilename: exportFilename,

	LIVE_BACKOFF: LIVE_BACKOFF,
	backoffDelay: backoffDelay,
	isSessionID: isSessionID,
	liveURL: liveURL,
	liveCertURL: liveCertURL,
	parseLiveMessage: parseLiveMessage,

	normalizeMAC: normalizeMAC,
	MAX_NAME_BYTES: MAX_NAME_BYTES,
	checkDeviceLabel: checkDeviceLabel,
	shownName: shownName,
	withShownNames: withShownNames,
	filterHosts: filterHosts,
	parseTableState: parseTableState,

	CHART_TOP: CHART_TOP,
	stackBuckets: stackBuckets,
	chartScale: chartScale,
	barHeight: barHeight,
	compareTotals: compareTotals,
	formatPercent: formatPercent,
	formatBucket: formatBucket,
	formatDay: formatDay,
	daysAfter: daysAfter,

	bytesToBase64: bytesToBase64,
	base64ToBytes: base64ToBytes,
	backupFilename: backupFilename,

	parseDuration: parseDuration,
	formatDuration: formatDuration,
	checkDuration: checkDuration,
	checkInteger: checkInteger,
	checkPeriodStart: checkPeriodStart,
	checkIPAddress: checkIPAddress,
	checkListenAddress: checkListenAddress,
	checkConfinedPath: checkConfinedPath,
	RUNTIME_ROOTS: RUNTIME_ROOTS,
	PERSIST_ROOTS: PERSIST_ROOTS,
	CERT_ROOTS: CERT_ROOTS,
	checkAddressOrSubnet: checkAddressOrSubnet,
	checkDeviceName: checkDeviceName,
	checkWebhook: checkWebhook,
	PLACEMENTS: PLACEMENTS
});
