// Values for the Quotas page's validators (quota.js), each with whether the service takes it in a
// `config quota` section. quota-helpers.test.mjs holds the validators to this table;
// quota-validation.test.mjs holds the real binary (`transferometer config --json` on a config with
// that section) to the same table. LIST_OPTIONS are written `list NAME 'V'`, as a DynamicList
// writes them. `name` is the section name (`config quota 'V'`). The values hold no single quote
// (UCI quoting).
export const QUOTA_LIST_OPTIONS = new Set([ 'mac', 'group', 'notify' ]);

export const QUOTA_CASES = {
	name: [ [ 'kids', true ], [ 'k_1', true ], [ '0', true ], [ 'a'.repeat(32), true ], [ 'a'.repeat(33), false ],
		[ 'Kids', false ], [ 'KIDS', false ], [ 'a-b', false ], [ 'ä', false ] ],
	limit: [ [ '5MB', true ], [ '5', true ], [ '5B', true ], [ '5kB', true ], [ '5GB', true ], [ '5TB', true ],
		[ '5KiB', true ], [ '5MiB', true ], [ '5GiB', true ], [ '5TiB', true ], [ '1.5kB', true ], [ '0.5KiB', true ],
		[ '0.001kB', true ], [ '5 MB', true ], [ '5MB ', true ], [ '5\u00a0MB', true ], [ '5MB\u0085', true ],
		[ '18446744073709551615', true ], [ '16777215TiB', true ], [ '000000000000000000000001', true ],
		[ '', false ], [ '0', false ], [ '0MB', false ], [ '0.0', false ], [ '1.5B', false ], [ '1.0001kB', false ],
		[ '0.0001kB', false ], [ '5KB', false ], [ '5mb', false ], [ '5 M', false ], [ '5M', false ], [ '.5MB', false ],
		[ '5.MB', false ], [ '1.2.3', false ], [ '18446744073709551616', false ], [ '16777216TiB', false ],
		[ '18446744073709552kB', false ], [ '1e6', false ], [ '-5MB', false ], [ '+5MB', false ], [ ' 5MB', false ],
		[ '5\ufeffMB', false ], [ '5 MB B', false ], [ '0000000000000000000000001', false ], [ 'MB', false ],
		[ '\u0665MB', false ] ],
	mac: [ [ '02:00:00:99:00:11', true ], [ '02-00-00-99-00-11', true ], [ 'AA:BB:CC:DD:EE:FF', true ],
		[ '02:00:00:99:00:1G', false ], [ '03:00:00:00:00:01', false ], [ 'ff:ff:ff:ff:ff:ff', false ],
		[ '00:00:00:00:00:00', false ], [ '02:00-00:00:00:01', false ], [ '0200.0000.0001', false ],
		[ '02:00:00:00:00:01 ', false ], [ '1-02:00:00:00:00:01', false ], [ '02:00:00:00:00', false ],
		[ '2:0:0:0:0:1', false ], [ '020000000001', false ] ],
	group: [ [ 'kids', true ], [ 'Anna', true ], [ 'büro', true ], [ '客厅', true ], [ 'a b', true ], [ 'a.b_c-d', true ],
		[ 'x'.repeat(64), true ], [ 'é'.repeat(32), true ], [ 'x'.repeat(65), false ], [ 'é'.repeat(33), false ],
		[ '<x>', false ], [ 'a&b', false ], [ 'a"b', false ], [ 'a\\b', false ], [ 'evil\u202etxt', false ],
		[ 'zw\u200bsp', false ], [ 'tab\tname', false ], [ 'c1\u0085', false ], [ 'bom\ufeff', false ] ],
	rate: [ [ '1', true ], [ '1024', true ], [ '10000000', true ], [ '01024', true ], [ '000000001', true ],
		[ '', false ], [ '0', false ], [ '10000001', false ], [ '0000000001', false ], [ '1e3', false ], [ '-1', false ],
		[ '1.5', false ], [ '1024 ', false ], [ '1 Mbit', false ] ],
	notify: [ [ '80', true ], [ '80%', true ], [ '1', true ], [ '100', true ], [ '100%', true ], [ '080', true ],
		[ '0', false ], [ '101', false ], [ '%', false ], [ '80%%', false ], [ '50.5', false ], [ '-5', false ],
		[ ' 80', false ], [ '80 %', false ] ]
};

// The choices the page offers for the select options; the service takes exactly these.
export const QUOTA_CHOICES = {
	per: [ 'period', 'day' ],
	direction: [ 'both', 'down', 'up' ],
	action: [ 'block', 'throttle', 'none' ]
};

// Values the service refuses for those options (the page never offers them).
export const QUOTA_BAD_CHOICES = {
	per: [ 'month', 'Day', 'days' ],
	direction: [ 'down,up', 'Both', 'in' ],
	action: [ 'drop', 'Block', 'limit' ]
};
