'use strict';
'require baseclass';
'require request';

/*
 * LuCI test shim: rpc (NOT LuCI).  declare() with LuCI's semantics: positional arguments
 * mapped to the named params (undefined ones are left out of the JSON), a JSON-RPC 2.0
 * "call" POSTed to env.ubuspath with [session, object, method, args]; the reply's
 * result[1] (or result[0], the ubus status, when there is no data) is then narrowed by
 * expect (its single key selects a member, '' the whole reply; a missing member or one of
 * another type is replaced by the expect value) and passed through filter.  reject: true
 * turns a non-zero ubus status into a rejection; a JSON-RPC error always rejects.
 * Requests are not batched (LuCI batches those issued in one frame; the server accepts both).
 */

var rpcRequestID = 1;

return baseclass.extend({
	__name__: 'LuCI.rpc',

	getBaseURL: function() {
		return L.env.ubuspath || '/ubus/';
	},

	getSessionID: function() {
		return L.env.sessionid || '00000000000000000000000000000000';
	},

	getStatusText: function(code) {
		switch (code) {
		case 0: return _('Command OK');
		case 1: return _('Invalid command');
		case 2: return _('Invalid argument');
		case 3: return _('Method not found');
		case 4: return _('Resource not found');
		case 5: return _('No data received');
		case 6: return _('Permission denied');
		case 7: return _('Request timeout');
		case 8: return _('Not supported');
		case 9: return _('Unspecified error');
		case 10: return _('Connection lost');
		default: return _('Unknown error code');
		}
	},

	handleReply: function(req, res) {
		var type = Object.prototype.toString, msg, ret = null;

		if (!res.ok)
			L.raise('RPCError', 'RPC call to %s/%s failed with HTTP error %d: %s',
				req.object, req.method, res.status, res.statusText || '?');

		msg = res.json();

		if (!L.isObject(msg) || msg.jsonrpc != '2.0')
			L.raise('RPCError', 'RPC call to %s/%s returned invalid message frame', req.object, req.method);

		if (L.isObject(msg.error) && msg.error.code && msg.error.message)
			L.raise('RPCError', 'RPC call to %s/%s failed with error %d: %s',
				req.object, req.method, msg.error.code, msg.error.message || '?');

		if (Array.isArray(msg.result)) {
			if (req.raise && msg.result[0] !== 0)
				L.raise('RPCError', 'RPC call to %s/%s failed with ubus code %d: %s',
					req.object, req.method, msg.result[0], this.getStatusText(msg.result[0]));

			ret = (msg.result.length > 1) ? msg.result[1] : msg.result[0];
		}

		if (req.expect) {
			for (var key in req.expect) {
				if (ret != null && key != '')
					ret = ret[key];

				if (ret == null || type.call(ret) != type.call(req.expect[key]))
					ret = req.expect[key];

				break;
			}
		}

		if (typeof(req.filter) == 'function') {
			req.priv[0] = ret;
			req.priv[1] = req.params;
			ret = req.filter.apply(this, req.priv);
		}

		return ret;
	},

	declare: function(options) {
		var rpc = this;

		return function() {
			var args = Array.prototype.slice.call(arguments),
			    params = {}, priv = [ undefined, undefined ], p_off = 0;

			if (Array.isArray(options.params))
				for (p_off = 0; p_off < options.params.length; p_off++)
					params[options.params[p_off]] = args[p_off];

			for (; p_off < args.length; p_off++)
				priv.push(args[p_off]);

			var req = {
				expect: options.expect,
				filter: options.filter,
				params: params,
				priv: priv,
				object: options.object,
				method: options.method,
				raise: options.reject
			};

			var msg = {
				jsonrpc: '2.0',
				id: rpcRequestID++,
				method: 'call',
				params: [ rpc.getSessionID(), options.object, options.method, params ]
			};

			return request.post(rpc.getBaseURL(), msg, {
				timeout: (L.env.rpctimeout || 20) * 1000
			}).then(L.bind(rpc.handleReply, rpc, req));
		};
	}
});
