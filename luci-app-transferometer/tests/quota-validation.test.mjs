// The Quotas page's validators (quota.js) against the real binary: for every value in
// quota-cases.mjs, `TRANSFEROMETER_BIN config --json` on a config holding one `config quota`
// section with that value must accept it (exit 0) or refuse it (exit 2, one line naming the
// section) exactly as the table says, and what it refuses leaves the config file as it was. The
// section's other options are the smallest valid set (limit '1MB'; action 'throttle' for a rate,
// a rate for action 'throttle').
// Likewise the choices of the page's selects are taken and other values refused.
// Skipped without TRANSFEROMETER_BIN (fails under CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QUOTA_CASES, QUOTA_LIST_OPTIONS, QUOTA_CHOICES, QUOTA_BAD_CHOICES } from './quota-cases.mjs';

const BIN = process.env.TRANSFEROMETER_BIN || '';
const missing = !BIN ? 'TRANSFEROMETER_BIN is not set' : !existsSync(BIN) ? `${BIN} does not exist` : null;

// One config quota section: the option under test plus what the section needs besides it.
function section(opt, value) {
	const name = opt === 'name' ? value : 'q';
	const lines = [ `config quota '${name}'` ];
	if (opt !== 'limit') lines.push("\toption limit '1MB'");
	if (opt === 'rate') lines.push("\toption action 'throttle'");
	if (opt === 'action' && value === 'throttle') lines.push("\toption rate '1024'");
	if (opt !== 'name') lines.push(`\t${QUOTA_LIST_OPTIONS.has(opt) ? 'list' : 'option'} ${opt} '${value}'`);
	return `config transferometer 'main'\n\toption enabled '1'\n\n${lines.join('\n')}\n`;
}

test('the binary takes exactly the quota values the Quotas page takes', { skip: (!process.env.CI && missing) || false }, () => {
	assert.ok(!missing, missing);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-quota-validate.'));
	const file = path.join(dir, 'transferometer');
	const run = (text) => {
		const stored = Buffer.from(text);
		writeFileSync(file, stored);
		const r = spawnSync(BIN, [ 'config', '--json' ], {
			env: { ...process.env, TRANSFEROMETER_CONFIG_DIR: dir }, encoding: 'utf8', timeout: 20000
		});
		if (r.status !== 0 && r.status !== 2)
			assert.fail(`exit ${r.status}: ${r.stderr}\n${text}`);
		assert.ok(readFileSync(file).equals(stored), 'config --json changed the config file');
		assert.deepEqual(readdirSync(dir), [ 'transferometer' ], 'config --json added files to the config dir');
		return r;
	};
	try {
		// the smallest valid section is taken: the cases below differ from it in one value only
		const base = run(section('limit', '1MB'));
		assert.equal(base.status, 0, base.stderr);

		const wrong = [];
		const check = (opt, value, ok) => {
			assert.ok(!value.includes("'"), value);
			const r = run(section(opt, value));
			const took = r.status === 0;
			if (took !== ok) {
				wrong.push(`${opt} ${JSON.stringify(value)}: the page ${ok ? 'takes' : 'refuses'} it, the binary ` +
					`${took ? 'takes' : 'refuses'} it ${r.stderr.trim()}`);
				return;
			}
			if (!took) {
				assert.equal(r.stdout, '', `${opt} ${JSON.stringify(value)} is refused, yet config --json prints settings`);
				assert.equal(r.stderr.trim().split('\n').length, 1, `one line on stderr: ${r.stderr}`);
				// an error names the section (the name itself may be what is wrong, and the UCI
				// reader refuses names uci would not take before the quota rules see them)
				if (opt !== 'name')
					assert.match(r.stderr, /quota section 'q'/, `${opt} ${JSON.stringify(value)}: ${r.stderr}`);
			}
		};
		for (const [ opt, cases ] of Object.entries(QUOTA_CASES))
			for (const [ value, ok ] of cases)
				check(opt, value, ok);
		for (const [ opt, values ] of Object.entries(QUOTA_CHOICES))
			for (const v of values) check(opt, v, true);
		for (const [ opt, values ] of Object.entries(QUOTA_BAD_CHOICES))
			for (const v of values) check(opt, v, false);

		// a rate without throttling is refused (the page hides the rate then, and LuCI drops a hidden value)
		const r = run(section('limit', '1MB').replace("option limit '1MB'", "option limit '1MB'\n\toption rate '1024'"));
		if (r.status !== 2) wrong.push(`a rate with action block: exit ${r.status}, the page never writes one`);
		// throttling without a rate is refused (the page requires the rate)
		const t = run(section('limit', '1MB').replace("option limit '1MB'", "option limit '1MB'\n\toption action 'throttle'"));
		if (t.status !== 2) wrong.push(`action throttle without a rate: exit ${t.status}, the page requires one`);
		// an anonymous quota section is refused (the page names every section)
		const a = run("config transferometer 'main'\n\nconfig quota\n\toption limit '1MB'\n");
		if (a.status !== 2) wrong.push(`an anonymous quota section: exit ${a.status}`);

		assert.deepEqual(wrong, []);
	}
	finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
