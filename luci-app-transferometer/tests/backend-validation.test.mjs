// The settings page's validators (helpers.js) against the real binary: for every value in
// validation-cases.mjs, `TRANSFEROMETER_BIN config --json` on a config holding just that option
// must accept (exit 0, the value in its output) or refuse (exit 2) it exactly as the table says,
// which helpers.test.mjs holds the validators to. Skipped without TRANSFEROMETER_BIN (fails under CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VALIDATION_CASES } from './validation-cases.mjs';

const BIN = process.env.TRANSFEROMETER_BIN || '';
const missing = !BIN ? 'TRANSFEROMETER_BIN is not set' : !existsSync(BIN) ? `${BIN} does not exist` : null;

test('the binary takes exactly the settings values the form takes', { skip: (!process.env.CI && missing) || false }, () => {
	assert.ok(!missing, missing);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'transferometer-validate.'));
	try {
		const wrong = [];
		for (const [ opt, cases ] of Object.entries(VALIDATION_CASES)) {
			for (const [ value, ok ] of cases) {
				// UCI quoting: the values hold no single quote
				assert.ok(!value.includes("'"), value);
				writeFileSync(path.join(dir, 'transferometer'), `config transferometer 'main'\n\toption ${opt} '${value}'\n`);
				const r = spawnSync(BIN, [ 'config', '--json' ], {
					env: { ...process.env, TRANSFEROMETER_CONFIG_DIR: dir }, encoding: 'utf8', timeout: 20000
				});
				if (r.status !== 0 && r.status !== 2)
					assert.fail(`${opt} '${value}': exit ${r.status}: ${r.stderr}`);
				const took = (r.status === 0);
				if (took !== ok)
					wrong.push(`${opt} '${value}': the form ${ok ? 'takes' : 'refuses'} it, the binary ${took ? 'takes' : 'refuses'} it ${r.stderr.trim()}`);
			}
		}
		assert.deepEqual(wrong, []);
	}
	finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
