'use strict';
'require view';
'require form';

/*
 * Status / Transferometer / Settings: the options of /etc/config/transferometer
 * (section transferometer main) that users change.  Saved through rpcd uci;
 * the service reloads on the config change (procd reload trigger).
 */

return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('transferometer', _('Transferometer'),
			_('Per-device traffic accounting for the LAN: which devices are counted and how.'));

		s = m.section(form.NamedSection, 'main', 'transferometer');
		s.addremove = false;

		s.tab('general', _('General Settings'));
		s.tab('advanced', _('Advanced Settings'));

		o = s.taboption('general', form.Flag, 'enabled', _('Enable accounting'),
			_('Count the traffic of every device on the LAN. When off, no counting rules are installed and the figures stay as they are.'));
		o.default = o.enabled;
		o.rmempty = false;

		o = s.taboption('general', form.Value, 'network', _('LAN network'),
			_('The network whose subnets are accounted when no subnet is listed below.'));
		o.datatype = 'uciname';
		o.placeholder = 'lan';
		o.default = 'lan';

		o = s.taboption('general', form.DynamicList, 'subnet', _('Subnets'),
			_('IPv4 or IPv6 subnets in CIDR notation, e.g. 192.168.1.0/24 or fd00::/64. Leave empty to use the subnets of the LAN network.'));
		o.datatype = 'cidr';
		o.placeholder = '192.168.1.0/24';

		o = s.taboption('general', form.Flag, 'ipv6', _('Count IPv6'),
			_('Account IPv6 traffic as well as IPv4.'));
		o.default = o.enabled;
		o.rmempty = false;

		o = s.taboption('advanced', form.Value, 'db_dir', _('Database directory'),
			_('Where the per-device totals are stored. A directory on flash survives reboots but wears the flash; /tmp is lost on reboot. Empty: the built-in default.'));
		o.validate = function(section_id, value) {
			if (value === '' || /^\/[^\0]*$/.test(value))
				return true;
			return _('Expecting: %s').format(_('an absolute path'));
		};

		o = s.taboption('advanced', form.ListValue, 'backend', _('Counting backend'),
			_('How traffic is counted in the kernel.'));
		o.value('iptables', _('iptables rules'));
		o.default = 'iptables';

		o = s.taboption('advanced', form.ListValue, 'iptables_variant', _('iptables variant'),
			_('Which iptables to run: iptables-nft goes with firewall4 (OpenWrt 22.03 and later), iptables-legacy with firewall3. Automatic detects it.'));
		o.value('auto', _('Automatic'));
		o.value('nft', _('iptables-nft'));
		o.value('legacy', _('iptables-legacy'));
		o.default = 'auto';

		o = s.taboption('advanced', form.Value, 'lock_timeout', _('Lock timeout'),
			_('Seconds to wait for another run of Transferometer to finish before giving up (1 to 300). Empty: the built-in default.'));
		o.datatype = 'range(1,300)';

		return m.render();
	}
});
