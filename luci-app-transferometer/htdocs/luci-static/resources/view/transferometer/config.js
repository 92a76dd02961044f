'use strict';
'require view';
'require form';
'require transferometer.helpers as helpers';

/*
 * Status / Transferometer / Settings: the options of /etc/config/transferometer
 * (section transferometer main) that users change.  Saved through rpcd uci;
 * the service reloads on the config change (procd reload trigger).
 *
 * An empty field means the built-in default (shown as the placeholder);
 * the validators are the backend's rules (helpers.js), so that what the
 * form accepts the service accepts too.
 */

/* A ListValue's load: a value this page does not list (a newer service's) stays selected, rather than being replaced on save. */
function keepUnknownValue(section_id) {
	var v = form.ListValue.prototype.load.apply(this, [ section_id ]);
	if (typeof(v) == 'string' && v !== '' && this.keylist.indexOf(v) < 0)
		this.value(v);
	return v;
}

return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('transferometer', _('Transferometer'),
			_('Per-device traffic accounting for the LAN: which devices are counted and how.'));

		s = m.section(form.NamedSection, 'main', 'transferometer');
		s.addremove = false;

		s.tab('general', _('General Settings'));
		s.tab('history', _('History'));
		s.tab('live', _('Live Rates'));
		s.tab('alerts', _('Alerts'));
		s.tab('advanced', _('Advanced Settings'));

		/* --- general --- */

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

		o = s.taboption('general', form.Value, 'refresh_interval', _('Refresh interval'),
			_('How often the service reads the counters into the database: seconds, or a number with s, m, h or d (1s to 1h). Empty: 30s.'));
		o.placeholder = '30s';
		o.validate = function(section_id, value) {
			return helpers.checkDuration(value, 1, 3600);
		};

		/* --- history --- */

		o = s.taboption('history', form.ListValue, 'period', _('Accounting period'),
			_('How the history is cut into periods: calendar months starting on a day of your choice, or a fixed number of days.'));
		o.value('monthly', _('Monthly'));
		o.value('days', _('Every N days'));
		o.default = 'monthly';

		o = s.taboption('history', form.Value, 'period_start', _('Period start'),
			_('Monthly: the day of the month a period starts on (1 to 28). Every N days: the date the first period started, as YYYY-MM-DD. Empty: 1.'));
		o.placeholder = '1';
		o.validate = function(section_id, value) {
			return helpers.checkPeriodStart(value, this.section.formvalue(section_id, 'period'));
		};

		o = s.taboption('history', form.Value, 'period_days', _('Period length'),
			_('Days per period when periods are every N days (1 to 366). Empty: 30.'));
		o.placeholder = '30';
		o.validate = function(section_id, value) {
			return helpers.checkInteger(value, 1, 366);
		};

		o = s.taboption('history', form.Value, 'generations', _('Periods kept'),
			_('How many periods of history are kept, the current one included (1 to 120). Empty: 12.'));
		o.placeholder = '12';
		o.validate = function(section_id, value) {
			return helpers.checkInteger(value, 1, 120);
		};

		o = s.taboption('history', form.Value, 'max_devices', _('Devices kept'),
			_('The most devices the ledger keeps (16 to 65536), so that phones that change their MAC address cannot fill it. Devices without an address that moved nothing within the kept history are let go; past the limit the idle, longest-unseen ones go first. Their traffic stays in the totals as expired devices. Empty: 1024.'));
		o.placeholder = '1024';
		o.validate = function(section_id, value) {
			return helpers.checkInteger(value, 16, 65536);
		};

		o = s.taboption('history', form.Value, 'commit_interval', _('Save to flash every'),
			_('The figures are kept in RAM and copied to flash this often, when the service stops and on a clean reboot; a power cut loses at most this much. Shorter wears the flash more (1m to 30d). Empty: 24h.'));
		o.placeholder = '24h';
		o.validate = function(section_id, value) {
			return helpers.checkDuration(value, 60, 30 * 86400);
		};

		o = s.taboption('history', form.Value, 'persist_dir', _('Flash directory'),
			_('Where the copy on flash is kept. Empty: /etc/transferometer.'));
		o.placeholder = '/etc/transferometer';
		o.validate = function(section_id, value) {
			return helpers.checkConfinedPath(value, helpers.PERSIST_ROOTS);
		};

		/* --- live rates --- */

		o = s.taboption('live', form.Value, 'live_port', _('Port'),
			_('The Usage page gets current rates every second from the service over a websocket on this port (0 turns it off; the page then computes rates from its refreshes). Empty: 8093.'));
		o.placeholder = '8093';
		o.validate = function(section_id, value) {
			return helpers.checkInteger(value, 0, 65535);
		};

		o = s.taboption('live', form.Value, 'live_tls_port', _('TLS port'),
			_('The same over TLS, for LuCI opened with https://, using the certificate below (0 turns it off). With a self-signed certificate the browser must accept it once: open https:// with the router\'s address and this port. Empty: 8094.'));
		o.placeholder = '8094';
		o.validate = function(section_id, value) {
			return helpers.checkInteger(value, 0, 65535);
		};

		o = s.taboption('live', form.Value, 'live_address', _('Listen address'),
			_('The router address the feed listens on. Empty: the router\'s addresses in the LAN (never the WAN).'));
		o.validate = function(section_id, value) {
			return helpers.checkListenAddress(value);
		};

		o = s.taboption('live', form.Value, 'live_cert', _('TLS certificate'),
			_('Certificate file (PEM or DER). Empty: /etc/uhttpd.crt, the web interface\'s own.'));
		o.placeholder = '/etc/uhttpd.crt';
		o.validate = function(section_id, value) {
			return helpers.checkConfinedPath(value, helpers.CERT_ROOTS);
		};

		o = s.taboption('live', form.Value, 'live_key', _('TLS key'),
			_('Private key file (PEM or DER). Empty: /etc/uhttpd.key.'));
		o.placeholder = '/etc/uhttpd.key';
		o.validate = function(section_id, value) {
			return helpers.checkConfinedPath(value, helpers.CERT_ROOTS);
		};

		o = s.taboption('live', form.Flag, 'metrics', _('Prometheus metrics'),
			_('Serve the per-device counters as Prometheus text at http://ROUTER:PORT/metrics, PORT being the port above (and over https on the TLS port), answered only to the addresses below.'));
		o.default = o.disabled;
		o.rmempty = false;

		/* kept when metrics is turned off (retain), so that turning it on again finds the list */
		o = s.taboption('live', form.DynamicList, 'metrics_allow', _('Metrics allowed from'),
			_('The addresses or subnets that may read the metrics, e.g. 192.168.1.10 or 192.168.1.0/24; every other host is refused. Empty: nobody.'));
		o.depends('metrics', '1');
		o.retain = true;
		o.placeholder = '192.168.1.10';
		o.validate = function(section_id, value) {
			return helpers.checkAddressOrSubnet(value);
		};

		/* --- alerts (quota thresholds and actions are set per quota, on the Quotas page) --- */

		o = s.taboption('alerts', form.Flag, 'alert_new_device', _('New devices'),
			_('Alert when a device the ledger did not know appears on the LAN.'));
		o.default = o.enabled;
		o.rmempty = false;

		o = s.taboption('alerts', form.Value, 'alert_webhook', _('Webhook URL'),
			_('An http:// or https:// URL every alert is sent to as JSON (POST), e.g. an ntfy topic. Alerts also go out as the ubus event transferometer.alert and to the scripts in /etc/hotplug.d/transferometer/. Empty: no webhook.'));
		o.validate = function(section_id, value) {
			return helpers.checkWebhook(value);
		};

		/* --- advanced --- */

		o = s.taboption('advanced', form.Value, 'db_dir', _('Database directory'),
			_('Where the working copy of the figures is kept, normally in RAM (it is saved to the flash directory of the History tab). Empty: /var/lib/transferometer.'));
		o.placeholder = '/var/lib/transferometer';
		o.validate = function(section_id, value) {
			return helpers.checkConfinedPath(value, helpers.RUNTIME_ROOTS);
		};

		o = s.taboption('advanced', form.ListValue, 'backend', _('Counting backend'),
			_('How traffic is counted in the kernel. Automatic uses nftables where the firewall is fw4 (OpenWrt 22.03 and later) and iptables otherwise; switching carries the totals over.'));
		o.value('auto', _('Automatic'));
		o.value('nftables', _('nftables sets (one lookup per packet)'));
		o.value('iptables', _('iptables rules'));
		o.default = 'auto';
		o.load = keepUnknownValue;

		o = s.taboption('advanced', form.ListValue, 'placement', _('Counting placement'),
			_('Where the nftables backend counts forwarded traffic: in the firewall\'s forward hook, or on the LAN devices (the ingress and egress hooks of the bridge ports and VLAN parents of the LAN device, Linux 5.16 and later). Software flow offloading makes established connections skip the forward hook but not the LAN devices, so Automatic counts on the LAN devices when software flow offloading is on and the kernel is 5.16 or later, and in the forward hook otherwise. Hardware flow offloading hands connections to the switch or network card, where no hook sees their packets: turn it off for exact figures. The iptables backend always counts in the forward hook.'));
		o.value('auto', _('Automatic'));
		o.value('forward', _('Forward hook'));
		o.value('netdev', _('LAN devices (netdev hooks)'));
		o.default = 'auto';
		o.load = keepUnknownValue;

		o = s.taboption('advanced', form.Value, 'lan_device', _('LAN device'),
			_('The device whose lowest devices (bridge ports, VLAN parents) are counted on when counting on the LAN devices, e.g. br-lan. Empty: the device of the LAN network chosen on the General Settings tab.'));
		o.placeholder = 'br-lan';
		o.validate = function(section_id, value) {
			return helpers.checkDeviceName(value);
		};

		o = s.taboption('advanced', form.ListValue, 'iptables_variant', _('iptables variant'),
			_('Which iptables to run. Automatic uses whatever iptables is installed (iptables-nft or iptables-legacy); choose one only to override that.'));
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
