// A ledger that looks like a home network in use, for the README's screenshots
// (screenshots.test.mjs): a monthly period about 25 days in, a previous period, the days of this
// one for eight devices, today's hours. Written as the backup file `transferometer restore` takes
// (the ledger's own parts: hosts, transfer, history, hours; see go/internal/account/backup.go),
// which the binary checks whole before it replaces the ledger. The figures come from a seeded
// generator, so the pictures change only with the date.

const GB = 1e9, MB = 1e6;

// name: the config host name; host: the DHCP hostname; group; daily download / upload in bytes
// (a typical day), and how evening- and weekend-heavy the device is.
export const SHOWCASE_DEVICES = [
	{ mac: '02:5c:00:00:00:01', host: 'anna-laptop', name: 'Anna’s laptop', group: 'Parents', down: 2.4 * GB, up: 0.45 * GB, weekend: 0.6 },
	{ mac: '02:5c:00:00:00:02', host: 'android-7f3a', name: 'Ben’s phone', group: 'Parents', down: 0.9 * GB, up: 0.12 * GB, weekend: 1.2 },
	{ mac: '02:5c:00:00:00:03', host: 'LG-webOS-TV', name: 'Living room TV', group: '', down: 3.6 * GB, up: 0.08 * GB, weekend: 1.8 },
	{ mac: '02:5c:00:00:00:04', host: 'lena-ipad', name: 'Lena’s tablet', group: 'Kids', down: 1.6 * GB, up: 0.1 * GB, weekend: 1.6 },
	{ mac: '02:5c:00:00:00:05', host: 'nintendo-switch', name: 'Max’s Switch', group: 'Kids', down: 1.1 * GB, up: 0.15 * GB, weekend: 2.0, spike: 7 * GB },
	{ mac: '02:5c:00:00:00:06', host: 'max-phone', name: 'Max’s phone', group: 'Kids', down: 0.7 * GB, up: 0.09 * GB, weekend: 1.3 },
	{ mac: '02:5c:00:00:00:07', host: 'nas', name: 'NAS', group: '', down: 0.3 * GB, up: 1.9 * GB, weekend: 1.0 },
	{ mac: '02:5c:00:00:00:08', host: 'HP-LaserJet', name: '', group: '', down: 4 * MB, up: 1 * MB, weekend: 0.3 }
];

// xorshift32, seeded: the same figures for the same day
function rng(seed) {
	let x = seed >>> 0 || 1;
	return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

const pad = (n) => String(n).padStart(2, '0');
const dayKey = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const usage = (down, up) => ({ download_bytes: down, upload_bytes: up,
	download_packets: Math.round(down / 1200), upload_packets: Math.round(up / 600) });
const add = (a, b) => usage(a.download_bytes + b.download_bytes, a.upload_bytes + b.upload_bytes);

// The period start (a day of the month, 1-28) that puts `now` about 25 days into a monthly period.
export function showcasePeriodStart(now) {
	const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 24);
	return Math.min(d.getDate(), 28);
}

// The backup file's JSON (uncompressed; restore takes plain JSON too) for `now`.
export function showcaseBackup(now, periodStartDay) {
	const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
	const startOf = (y, m) => new Date(y, m, periodStartDay);
	let start = startOf(today.getFullYear(), today.getMonth());
	if (start > today) start = startOf(today.getFullYear(), today.getMonth() - 1);
	const prevStart = startOf(start.getFullYear(), start.getMonth() - 1);
	const random = rng(Number(dayKey(today).replace(/-/g, '')));

	// one day's bytes of a device
	const dayOf = (dev, date, i) => {
		const weekend = date.getDay() === 0 || date.getDay() === 6;
		const f = (0.55 + random() * 0.9) * (weekend ? dev.weekend : 1);
		const spike = dev.spike && i % 9 === 4 ? dev.spike : 0;
		return usage(Math.round(dev.down * f + spike), Math.round(dev.up * (0.6 + random() * 0.8)));
	};

	const days = {}, periods = { [dayKey(prevStart)]: {} }, totals = {}, period = {};
	for (const dev of SHOWCASE_DEVICES) totals[dev.mac] = usage(0, 0);
	let i = 0;
	for (let d = new Date(prevStart); d < today; d = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1), i++) {
		const k = dayKey(d), past = d < start;
		if (!past) days[k] = {};
		for (const dev of SHOWCASE_DEVICES) {
			const u = dayOf(dev, d, i);
			totals[dev.mac] = add(totals[dev.mac], u);
			if (past) periods[dayKey(prevStart)][dev.mac] = add(periods[dayKey(prevStart)][dev.mac] || usage(0, 0), u);
			else {
				days[k][dev.mac] = u;
				period[dev.mac] = add(period[dev.mac] || usage(0, 0), u);
			}
		}
	}

	// today: the closed hours so far, and the current one
	const dayStart = Math.floor(today.getTime() / 1000);
	const nowHour = now.getHours();
	const hourKeys = [], hourBytes = {}, day = {}, bucket = {};
	for (let h = 0; h < nowHour; h++) hourKeys.push(dayStart + h * 3600);
	const shape = (h) => [ 0.15, 0.08, 0.05, 0.04, 0.04, 0.05, 0.2, 0.5, 0.7, 0.6, 0.55, 0.6, 0.8, 0.7, 0.65, 0.75,
		0.9, 1.1, 1.4, 1.8, 2.0, 1.9, 1.3, 0.6 ][h];
	for (const dev of SHOWCASE_DEVICES) {
		const nums = [];
		let down = 0, up = 0;
		for (let h = 0; h <= nowHour; h++) {
			const f = shape(h) * (0.5 + random()) / 24;
			const b = [ Math.round(dev.down * f), Math.round(dev.up * f) ];
			down += b[0]; up += b[1];
			if (h < nowHour) nums.push(b[0], b[1]);
			else bucket[dev.mac] = b;
		}
		hourBytes[dev.mac] = nums.join(',');
		day[dev.mac] = usage(down, up);
		totals[dev.mac] = add(totals[dev.mac], day[dev.mac]);
		period[dev.mac] = add(period[dev.mac] || usage(0, 0), day[dev.mac]);
	}
	if (!hourKeys.length) for (const m of Object.keys(hourBytes)) delete hourBytes[m];

	const t = Math.floor(now.getTime() / 1000);
	const devices = {};
	SHOWCASE_DEVICES.forEach((dev, n) => {
		devices[dev.mac] = { hostname: dev.host, first_seen: Math.floor(prevStart.getTime() / 1000) + n * 3600, last_seen: t - n * 420 };
	});
	const router = usage(0, 0);
	return {
		format: 'transferometer-backup', version: 1, created: now.toISOString().replace(/\.\d+Z$/, 'Z'), host: 'OpenWrt',
		hosts: { version: 1, ips: {}, devices },
		transfer: {
			version: 1, totals,
			router: { input_bytes: router.download_bytes, input_packets: 0, output_bytes: 0, output_packets: 0 },
			unattributed: usage(0, 0), baselines: {},
			day: { key: dayKey(today), usage: day },
			period: { key: dayKey(start), usage: period },
			hour: { start: dayStart + nowHour * 3600, usage: bucket },
			day_start: dayStart,
			history: [ dayKey(prevStart) ],
			restored: false
		},
		history: { version: 1, days, periods },
		hours: { version: 1, hours: { hours: hourKeys, devices: hourBytes } }
	};
}
