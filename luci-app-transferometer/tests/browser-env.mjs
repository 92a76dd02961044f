// What the Chromium tests (browser.test.mjs, quota.test.mjs) share: the binary and config dir they
// run against, Chromium and its flags, what is missing for them, the skip policy, and waiting for
// a condition on the page.
import { existsSync } from 'node:fs';
import path from 'node:path';

export const BIN = process.env.TRANSFEROMETER_BIN || '';
export const CFG = process.env.TRANSFEROMETER_CONFIG_DIR || '';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [ '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--disable-quic' ];
export const USAGE_PATH = '/cgi-bin/luci/admin/status/transferometer/usage';
export const SETTINGS_PATH = '/cgi-bin/luci/admin/status/transferometer/settings';
export const QUOTAS_PATH = '/cgi-bin/luci/admin/status/transferometer/quotas';

export const missing = !BIN ? 'TRANSFEROMETER_BIN is not set (the transferometer binary the page is tested against)'
	: !CFG ? 'TRANSFEROMETER_CONFIG_DIR is not set (the config dir of that binary)'
	: !existsSync(BIN) ? `TRANSFEROMETER_BIN=${BIN} does not exist`
	: !existsSync(path.join(CFG, 'transferometer')) ? `${CFG}/transferometer does not exist`
	: !existsSync(CHROMIUM) ? `${CHROMIUM} does not exist (apt-get install chromium)`
	: null;

// The one skip policy, as the Go tests' testlan.SkipOrFail: a missing prerequisite skips the
// test, except under CI (which sets everything up), where the test runs and fails on it.
export function skipOrFail(reason) {
	return reason && !process.env.CI ? reason : false;
}

// fn() until it returns something truthy (errors count as not yet); fails after timeout ms.
export async function until(what, fn, { timeout = 20000, interval = 200 } = {}) {
	const end = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
		}
		catch (e) { last = e; }
		if (Date.now() > end)
			throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
		await new Promise(r => setTimeout(r, interval));
	}
}
