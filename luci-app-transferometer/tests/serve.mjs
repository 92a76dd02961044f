#!/usr/bin/env node
// Serve the Transferometer LuCI views through the LuCI test shim (tests/lucishim), answering
// ubus calls by running the real plugin binary. For demos and manual testing; not LuCI.
//
// Usage:
//   node tests/serve.mjs --bin PATH --config-dir DIR [--port 8080] [--host 127.0.0.1]
//                        [--readonly] [--live-forward ADDR:PORT]
//
//   --bin PATH         the transferometer binary (or a wrapper running it, e.g. in a netns);
//                      run as `PATH rpcd call METHOD` with the args JSON on stdin.
//                      Default: $TRANSFEROMETER_BIN.
//   --config-dir DIR   passed to the binary as TRANSFEROMETER_CONFIG_DIR; the settings page reads
//                      and writes DIR/transferometer. Default: $TRANSFEROMETER_CONFIG_DIR.
//   --port N           TCP port (default 8080; 0 picks a free one).
//   --host ADDR        loopback address to bind (default 127.0.0.1); anything else is refused.
//   --readonly         serve as to a user with only the read half of the ACL (no reset).
//   --live-forward ADDR:PORT
//                      relay --host:PORT to ADDR:PORT, where `transferometer daemon` serves its
//                      live feed (e.g. inside a network namespace); PORT must be the live_port the
//                      page is told about.
//
// Prints the URL once listening; stops on SIGINT/SIGTERM.
import { startServer } from './lucishim/server.mjs';

function usage(msg) {
	if (msg) console.error(`serve: ${msg}`);
	console.error('usage: node tests/serve.mjs --bin PATH --config-dir DIR [--port 8080] [--host 127.0.0.1] [--readonly] [--live-forward ADDR:PORT]');
	process.exit(2);
}

const opts = {
	bin: process.env.TRANSFEROMETER_BIN || '',
	configDir: process.env.TRANSFEROMETER_CONFIG_DIR || '',
	port: 8080,
	host: '127.0.0.1',
	readonly: false,
	liveForward: null
};

const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const [ flag, inline ] = argv[i].split(/=(.*)/s);
	const value = () => (inline !== undefined ? inline : (i + 1 < argv.length ? argv[++i] : usage(`${flag} needs a value`)));
	switch (flag) {
	case '--bin': opts.bin = value(); break;
	case '--config-dir': opts.configDir = value(); break;
	case '--port': opts.port = Number(value()); break;
	case '--host': opts.host = value(); break;
	case '--readonly': opts.readonly = true; break;
	case '--live-forward': {
		const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value());
		if (!m || +m[2] < 1 || +m[2] > 65535) usage('--live-forward takes ADDR:PORT');
		opts.liveForward = { host: m[1], port: +m[2] };
		break;
	}
	case '-h': case '--help': usage(); break;
	default: usage(`unknown argument ${argv[i]}`);
	}
}

if (!opts.bin) usage('no binary: pass --bin or set TRANSFEROMETER_BIN');
if (!opts.configDir) usage('no config dir: pass --config-dir or set TRANSFEROMETER_CONFIG_DIR');
if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');

try {
	const srv = await startServer({ ...opts, log: (m) => console.error(`serve: ${m}`) });
	console.log(`Transferometer LuCI views (test shim): ${srv.url}/cgi-bin/luci/admin/status/transferometer`);
	if (srv.relay) console.log(`live feed relay: ${opts.host}:${srv.relay.port} -> ${opts.liveForward.host}:${opts.liveForward.port}`);
	const stop = () => srv.close().then(() => process.exit(0));
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
}
catch (err) {
	console.error(`serve: ${err.message}`);
	process.exit(1);
}
