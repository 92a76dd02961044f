# Test stand-in for OpenWrt's /lib/functions.sh (base-files), test-only: it
# is never installed on a router. procd sources the real one before every
# hotplug handler (sh -c ". /lib/functions.sh; . HANDLER"), and rc.common
# before every init script; the tests put this file at /lib/functions.sh in a
# private mount namespace, so the handlers run exactly as procd runs them.
#
# Our hotplug handlers and the firewall include use nothing from it. The init
# script uses config_load and config_get_bool; like the real ones, these read
# the CONFIG_<section>_<option> variables (here set by the test, since there
# is no uci to load /etc/config from) and map UCI booleans to 1/0.

config_load() {
	return 0
}

config_get() {
	# config_get VAR SECTION OPTION [DEFAULT]
	eval "_cfg_value=\${CONFIG_${2}_${3}-}"
	[ -n "$_cfg_value" ] || _cfg_value="$4"
	eval "$1=\$_cfg_value"
}

config_get_bool() {
	# config_get_bool VAR SECTION OPTION [DEFAULT]
	config_get _cfg_bool "$2" "$3"
	case "$_cfg_bool" in
	1 | on | true | yes | enabled) _cfg_bool=1 ;;
	0 | off | false | no | disabled) _cfg_bool=0 ;;
	*) _cfg_bool="$4" ;;
	esac
	eval "$1=\$_cfg_bool"
}
