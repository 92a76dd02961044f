// The settings page's validators (helpers.js) against the real binary: for every value in
// validation-cases.mjs, `TRANSFEROMETER_BIN config --json` on a config holding just that option
// must accept (exit 0) or refuse (exit 2) it exactly as the table says, which helpers.test.mjs holds
// the validators to. And what it accepts must be what the service then uses: the effective setting
// `config --json` prints reads back as the stored value (the same value in the service's own
// spelling: '3600' is '1h', '030' is '30', or as the table's third element says: 'on' is '1',
// '10.99.0.5/24' is '10.99.0.0/24'; an empty option is the default), every other setting
// keeps its default; what it refuses changes nothing: no settings printed, the config file is
// byte-identical and nothing else appears in the config dir. A list option (LIST_OPTIONS) is
// stored as `list NAME 'V'`, as LuCI's DynamicList writes it, and reads back as a list of that one
// value.
// Skipped without TRANSFEROMETER_BIN (fails under CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VALIDATION_CASES, LIST_OPTIONS } from './validation-cases.mjs';

const BIN = process.env.TRANSFEROMETER_BIN || '';
const missing = !BIN ? 'TRANSFEROMETER_BIN is not set' : !existsSync(BIN) ? `${BIN} does not exist` : null;

// The options whose value is a duration (seconds, or a number with s, m, h or d) or a whole number;
// the service prints those in its own spelling, so they are compared by what they mean.
const DURATIONS = new Set([ 'refresh_interval', 'commit_interval' ]);
const NUMBERS = new Set([ 'period_days', 'generations', 'live_port', 'live_tls_port', 'period_start' ]);
const UNIT = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

// What a stored value means to the service, to compare the value set with the one read back.
function meaning(opt, value) {
	if (DURATIONS.has(opt)) {
		const m = /^(\d+)([smhd]?)$/.exec(value);
		return m ? `${Number(m[1]) * UNIT[m[2]]}s` : `not a duration: ${JSON.stringify(value)}`;
	}
	if (NUMBERS.has(opt) && /^\d+$/.test(value))
		return String(Number(value));
	return value;
}

function configJson(dir) {
	return spawnSync(BIN, [ 'config', '--json' ], {
		env: { ...process.env, TRANSFEROMETER_CONFIG_DIR: dir }, encoding: 'utf8', timeout: 20000
	});
}

test('the binary takes exactly the settings values the form takes', { skip: (!process.env.CI && missing) || false }, () => {
	assert.ok(!missing, missing);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-validate.'));
	try {
		// the service's settings with no config file at all
		const none = configJson(dir);
		assert.equal(none.status, 0, `config --json without a config file: exit ${none.status}: ${none.stderr}`);
		const defaults = JSON.parse(none.stdout);
		assert.deepEqual(readdirSync(dir), [], 'config --json writes nothing into the config dir');

		const file = path.join(dir, 'transferometer');
		const wrong = [];
		for (const [ opt, cases ] of Object.entries(VALIDATION_CASES)) {
			assert.ok(opt in defaults, `config --json prints ${opt}`);
			const list = LIST_OPTIONS.has(opt);
			for (const [ value, ok, readBack ] of cases) {
				// UCI quoting: the values hold no single quote
				assert.ok(!value.includes("'"), value);
				const what = `${list ? 'list' : 'option'} ${opt} '${value}'`;
				const stored = Buffer.from(`config transferometer 'main'\n\t${what}\n`);
				writeFileSync(file, stored);
				const r = configJson(dir);
				if (r.status !== 0 && r.status !== 2)
					assert.fail(`${what}: exit ${r.status}: ${r.stderr}`);
				const took = (r.status === 0);
				if (took !== ok) {
					wrong.push(`${what}: the form ${ok ? 'takes' : 'refuses'} it, the binary ` +
						`${took ? 'takes' : 'refuses'} it ${r.stderr.trim()}`);
					continue;
				}

				// config --json only reads: the stored file stays as it was, byte for byte, taken or not
				assert.ok(readFileSync(file).equals(stored), `${what}: config --json changed the config file:\n${readFileSync(file, 'utf8')}`);
				assert.deepEqual(readdirSync(dir), [ 'transferometer' ], `${what}: config --json added files to the config dir`);
				if (!took) {
					assert.equal(r.stdout, '', `${what} is refused, yet config --json prints settings`);
					continue;
				}

				// read back: the service uses the stored value, and only that one changed
				let eff;
				try { eff = JSON.parse(r.stdout); }
				catch (e) { assert.fail(`${what}: config --json prints no JSON (${e.message}): ${r.stdout}`); }
				let want = value === '' ? defaults[opt] : readBack ?? meaning(opt, value);
				const got = value === '' || readBack != null ? eff[opt] : (typeof eff[opt] === 'string' ? meaning(opt, eff[opt]) : eff[opt]);
				if (list && value !== '')
					want = [ want ];
				assert.deepEqual(got, want, `${what} is stored, yet config --json reads back ${opt}=${JSON.stringify(eff[opt])}`);
				for (const [ k, v ] of Object.entries(defaults))
					if (k !== opt)
						assert.deepEqual(eff[k], v, `${what} is stored, yet config --json changed ${k} from its default`);
			}
		}
		assert.deepEqual(wrong, []);
	}
	finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
