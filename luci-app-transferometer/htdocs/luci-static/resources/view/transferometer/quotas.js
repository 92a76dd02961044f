'use strict';
'require view';
'require form';
'require rpc';
'require ui';
'require transferometer.quota as quota';

/*
 * Status / Transferometer / Quotas: the `config quota` sections of
 * /etc/config/transferometer, one data allowance each, for the devices
 * listed and the devices of the groups listed (config host sections),
 * or, with neither, for every device on its own.
 *
 * Every field is checked by the service's rules (quota.js), so what the
 * form saves the service takes; the section name too, which names the
 * quota's kernel objects: 1 to 32 of a-z, 0-9 and _.  The devices offered
 * are those the service knows (usage) and those named in config host
 * sections; the groups those of config host sections.
 */

var callUsage = rpc.declare({
	object: 'transferometer',
	method: 'usage',
	expect: { '': {} }
});

var callUciGet = rpc.declare({
	object: 'uci',
	method: 'get',
	params: [ 'config' ],
	expect: { values: {} }
});

/* Known devices: MAC (lower case) -> shown name ('' when none), from usage and from config host sections. */
function knownDevices(usage, values) {
	var out = {};

	(L.isObject(usage) && Array.isArray(usage.hosts) ? usage.hosts : []).forEach(function(h) {
		if (h && typeof(h.mac) == 'string' && quota.checkMAC(h.mac) === true)
			out[h.mac.toLowerCase()] = String(h.name || h.hostname || '');
	});

	Object.keys(values || {}).forEach(function(sid) {
		var s = values[sid];

		if (s['.type'] == 'host' && typeof(s.mac) == 'string' && quota.checkMAC(s.mac) === true) {
			var mac = s.mac.toLowerCase().replace(/-/g, ':');
			if (!out[mac])
				out[mac] = String(s.name || s.group || '');
		}
	});

	return out;
}

/* The groups of config host sections (and of usage, which adds them up), sorted. */
function knownGroups(usage, values) {
	var seen = {};

	Object.keys(values || {}).forEach(function(sid) {
		var s = values[sid];
		if (s['.type'] == 'host' && typeof(s.group) == 'string' && s.group !== '')
			seen[s.group] = true;
	});

	(L.isObject(usage) && Array.isArray(usage.groups) ? usage.groups : []).forEach(function(g) {
		if (g && typeof(g.group) == 'string' && g.group !== '')
			seen[g.group] = true;
	});

	return Object.keys(seen).sort();
}

/* A field's validate from a check of its value. */
function checked(check) {
	return function(section_id, value) {
		return check(value);
	};
}

/* An optional list item: empty is no item. */
function optional(check) {
	return function(section_id, value) {
		return (value == null || value === '') ? true : check(value);
	};
}

return view.extend({
	load: function() {
		return Promise.all([
			L.resolveDefault(callUsage(), {}),
			L.resolveDefault(callUciGet('transferometer'), {})
		]);
	},

	render: function(data) {
		var usage = data[0], values = data[1] || {},
		    devices = knownDevices(usage, values),
		    groups = knownGroups(usage, values),
		    m, s, o;

		m = new form.Map('transferometer', _('Quotas'),
			_('Data allowances: when a device, or a group of devices together, has used its allowance in the accounting period or in a day, the router blocks or slows its traffic to the internet, or only reports it. Devices keep DHCP, DNS and this web interface. A warning can be sent at a percentage of the allowance.'));

		s = m.section(form.TypedSection, 'quota', _('Quotas'),
			_('A quota with neither devices nor groups gives every device an allowance of its own. A quota name is 1 to 32 lower-case letters, digits or _ (e.g. kids).'));
		s.addremove = true;
		s.anonymous = false;
		s.addbtntitle = _('Add quota');

		/* the service's rules for the name, which LuCI checks only as a UCI name */
		s.handleAdd = function(ev, name) {
			var taken = Object.keys(values).filter(function(sid) { return values[sid]['.type'] != 'quota'; })
				.concat(this.cfgsections()),
			    ok = quota.checkQuotaName(name, taken);

			if (ok === true && this.cfgsections().length >= quota.MAX_QUOTAS)
				ok = _('At most %d quotas').format(quota.MAX_QUOTAS);

			if (ok !== true) {
				ui.addNotification(null, E('p', { 'data-quota-name-error': name }, [ _('Cannot add the quota "%s": %s').format(name, ok) ]), 'danger');
				return Promise.resolve();
			}

			return form.TypedSection.prototype.handleAdd.apply(this, [ ev, name ]);
		};

		o = s.option(form.DynamicList, 'mac', _('Devices'),
			_('MAC addresses of the devices that share this allowance.'));
		Object.keys(devices).sort(function(a, b) {
			return (devices[a] || '\uffff').localeCompare(devices[b] || '\uffff') || a.localeCompare(b);
		}).forEach(function(mac) {
			o.value(mac, devices[mac] ? '%s (%s)'.format(devices[mac], mac.toUpperCase()) : mac.toUpperCase());
		});
		o.placeholder = '02:00:00:00:00:01';
		o.validate = optional(quota.checkMAC);

		o = s.option(form.DynamicList, 'group', _('Groups'),
			_('Groups of devices (set where devices are named) that share this allowance with the devices above.'));
		groups.forEach(function(g) { o.value(g, g); });
		o.validate = optional(quota.checkGroup);

		o = s.option(form.Value, 'limit', _('Allowance'),
			_('Bytes, or a number with a unit: kB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024 (e.g. 5GB, 500MiB, 1.5TB).'));
		o.rmempty = false;
		o.placeholder = '5GB';
		o.validate = checked(quota.checkSize);

		o = s.option(form.ListValue, 'per', _('Renews'),
			_('The allowance starts again with every accounting period (Settings, History), or every day at midnight, router time.'));
		o.value('period', _('Every accounting period'));
		o.value('day', _('Every day'));
		o.default = 'period';

		o = s.option(form.ListValue, 'direction', _('Counts'));
		o.value('both', _('Download and upload'));
		o.value('down', _('Download only'));
		o.value('up', _('Upload only'));
		o.default = 'both';

		o = s.option(form.ListValue, 'action', _('When used up'));
		o.value('block', _('Block internet access'));
		o.value('throttle', _('Slow down'));
		o.value('none', _('Only report it'));
		o.default = 'block';

		o = s.option(form.Value, 'rate', _('Rate (kbit/s)'),
			_('The speed a device is slowed to, in kbit/s, each way (1024 is 1 Mbit/s).'));
		o.depends('action', 'throttle');
		o.rmempty = false;
		o.placeholder = '1024';
		o.validate = checked(quota.checkRate);

		o = s.option(form.DynamicList, 'notify', _('Warn at (%)'),
			_('Percentages of the allowance at which a warning is sent (e.g. 80), once each per period or day.'));
		o.placeholder = '80';
		o.validate = optional(quota.checkNotify);

		return m.render();
	}
});
