/*
 * LuCI test shim runtime (NOT LuCI). Implements only the part of LuCI's client API that
 * luci-app-transferometer's views use, with LuCI's semantics as documented in luci.js:
 *
 *  - window.LuCI / L: env, url(), resource(), path(), bind(), isObject(), toArray(),
 *    resolveDefault(), raise(), error(), require();
 *  - L.require(name) and the 'require x [as y]' pragmas: the class file is fetched from
 *    env.base_url + name with dots as slashes, its leading quoted strings are scanned for
 *    pragmas (scanning stops at the first quoted string that is neither a pragma nor
 *    'use strict', comments included, as in LuCI), the source becomes the body of
 *    function(window, document, L, <deps...>), the returned class must derive from
 *    baseclass and is instantiated once; built in: baseclass, dom, poll, request, view;
 *  - baseclass (extend, singleton, instantiate, isSubclass, super, varargs);
 *  - dom: elem, parse, matches, parent, append, content, attr, create, data,
 *    bindClassInstance, findClassInstance, callClassMethod, isEmpty;
 *    E() and dom.append keep LuCI's rule that a bare string child is set as innerHTML
 *    while strings inside an array become text nodes;
 *  - poll: add, remove, start, stop, active (1 s tick, each function every N ticks,
 *    never overlapping itself, the first step right away);
 *  - request: request, get, post (JSON bodies) via XMLHttpRequest;
 *  - view: __init__ (load -> render -> #view, footer), handleSave/SaveApply/Reset, addFooter;
 *  - _() and N_() with LuCI's catalogue (window.TR, see lucishim/i18n.mjs), String.prototype.format (%s %d %u %f %x %h %q %m %%).
 *
 * rpc, ui and form are class files next to this one (rpc.js, ui.js, form.js).
 */
(function(window, document) {
	'use strict';

	/* --- String.prototype.format (subset of cbi.js) --- */
	var htmlEsc = function(s) {
		return String(s).replace(/&/g, '&#38;').replace(/"/g, '&#34;').replace(/'/g, '&#39;')
			.replace(/</g, '&#60;').replace(/>/g, '&#62;');
	};

	String.prototype.format = function() {
		var args = arguments, n = 0;

		return String(this).replace(/%(-)?(\d+)?(?:\.(\d+))?([sduxfhqm%])/g, function(m, left, width, prec, type) {
			if (type == '%')
				return '%';

			var v = args[n++], s;

			switch (type) {
			case 's': s = (v == null) ? '' : String(v); break;
			case 'd': s = String(Math.floor(+v || 0)); break;
			case 'u': s = String(Math.floor(Math.abs(+v || 0))); break;
			case 'x': s = Math.floor(+v || 0).toString(16); break;
			case 'f': s = (prec != null) ? (+v || 0).toFixed(+prec) : String(+v || 0); break;
			case 'h': s = htmlEsc(v == null ? '' : v); break;
			case 'q': s = htmlEsc(v == null ? '' : v); break;
			case 'm':
				var base = width ? +width : 1000, pr = (prec != null) ? +prec : 2,
				    units = [ ' ', ' K', ' M', ' G', ' T', ' P', ' E' ], val = +v || 0, i = 0;
				for (; i < units.length - 1 && val > base; i++)
					val /= base;
				return (i ? val.toFixed(pr) : String(val)) + units[i];
			}

			if (width && s.length < +width) {
				var pad = new Array(+width - s.length + 1).join(' ');
				s = left ? s + pad : pad + s;
			}

			return s;
		});
	};

	/* _() and N_() as cbi.js has them: a string is looked up in window.TR, the catalogue of the
	 * page's language (the dispatcher's admin/translations/LANG script, loaded before this file;
	 * none for English), under the hex SuperFastHash of the whitespace-trimmed msgid (context
	 * \x01 msgid with a context; msgid \x02 form for plurals, the form from the catalogue's
	 * Plural-Forms, TR["00000000"]); missing there, the English text. */
	var sfhHex = function(s) {
		var b = new TextEncoder().encode(s), n = b.length, h = n >>> 0, i = 0, k, t;
		var g16 = function(o) { return b[o] | (b[o + 1] << 8); }, s8 = function(o) { return (b[o] << 24) >> 24; };
		if (!n) return null;
		for (k = n >>> 2; k > 0; k--, i += 4) {
			h = (h + g16(i)) >>> 0; t = ((g16(i + 2) << 11) ^ h) >>> 0;
			h = ((h << 16) ^ t) >>> 0; h = (h + (h >>> 11)) >>> 0;
		}
		switch (n & 3) {
		case 3: h = (h + g16(i)) >>> 0; h = (h ^ (h << 16)) >>> 0; h = (h ^ (s8(i + 2) << 18)) >>> 0; h = (h + (h >>> 11)) >>> 0; break;
		case 2: h = (h + g16(i)) >>> 0; h = (h ^ (h << 11)) >>> 0; h = (h + (h >>> 17)) >>> 0; break;
		case 1: h = (h + s8(i)) >>> 0; h = (h ^ (h << 10)) >>> 0; h = (h + (h >>> 1)) >>> 0; break;
		}
		h = (h ^ (h << 3)) >>> 0; h = (h + (h >>> 5)) >>> 0; h = (h ^ (h << 4)) >>> 0;
		h = (h + (h >>> 17)) >>> 0; h = (h ^ (h << 25)) >>> 0; h = (h + (h >>> 6)) >>> 0;
		return (0x100000000 + h).toString(16).substr(1);
	};
	var trimws = function(s) { return String(s).trim().replace(/[ \t\n]+/g, ' '); };
	var pluralForm = null;
	window._ = function(s, c) {
		var k = (c != null ? trimws(c) + '\u0001' : '') + trimws(s);
		return (window.TR && window.TR[sfhHex(k)]) || s;
	};
	window.N_ = function(n, s, p, c) {
		if (pluralForm == null && window.TR)
			pluralForm = new Function('n', (window.TR['00000000'] || 'plural=(n != 1);') + 'return +plural');
		var i = pluralForm ? pluralForm(n) : +(n != 1),
		    k = (c != null ? trimws(c) + '\u0001' : '') + trimws(s) + '\u0002' + i;
		return (window.TR && window.TR[sfhHex(k)]) || (i ? p : s);
	};

	/* --- baseclass --- */
	var superContext = {}, classIndex = 0;

	var Class = Object.assign(function() {}, {
		extend: function(properties) {
			var props = {
				__id__: { value: classIndex },
				__base__: { value: this.prototype },
				__name__: { value: properties.__name__ || 'anonymous' + classIndex++ }
			};

			var ClassConstructor = function() {
				if (!(this instanceof ClassConstructor))
					throw new TypeError('Constructor must not be called without "new"');

				if (Object.getPrototypeOf(this).hasOwnProperty('__init__')) {
					if (typeof(this.__init__) != 'function')
						throw new TypeError('Class __init__ member is not a function');
					this.__init__.apply(this, arguments);
				}
				else {
					this.super('__init__', arguments);
				}
			};

			for (var key in properties)
				if (!props[key] && properties.hasOwnProperty(key))
					props[key] = { value: properties[key], writable: true };

			ClassConstructor.prototype = Object.create(this.prototype, props);
			ClassConstructor.prototype.constructor = ClassConstructor;
			Object.assign(ClassConstructor, this);
			ClassConstructor.displayName = props.__name__.value + 'Class';

			return ClassConstructor;
		},

		singleton: function(properties /*, ... */) {
			return Class.extend(properties).instantiate(Class.prototype.varargs(arguments, 1));
		},

		instantiate: function(args) {
			return new (Function.prototype.bind.apply(this, Class.prototype.varargs(args, 0, null)))();
		},

		call: function(self, method) {
			if (typeof(this.prototype[method]) != 'function')
				throw new ReferenceError(method + ' is not defined in class');
			return this.prototype[method].apply(self, self.varargs(arguments, 1));
		},

		isSubclass: function(klass) {
			return (klass != null && typeof(klass) == 'function' && klass.prototype instanceof this);
		},

		prototype: {
			varargs: function(args, offset /*, ... */) {
				return Array.prototype.slice.call(arguments, 2).concat(Array.prototype.slice.call(args, offset));
			},

			super: function(key, callArgs) {
				if (key == null)
					return null;

				var slotIdx = this.__id__ + '.' + key,
				    symStack = superContext[slotIdx],
				    protoCtx = null;

				for (protoCtx = Object.getPrototypeOf(symStack ? symStack[0] : Object.getPrototypeOf(this));
				     protoCtx != null && !protoCtx.hasOwnProperty(key);
				     protoCtx = Object.getPrototypeOf(protoCtx)) {}

				if (protoCtx == null)
					return null;

				var res = protoCtx[key];

				if (arguments.length > 1) {
					if (typeof(res) != 'function')
						throw new ReferenceError(key + ' is not a function in base class');

					if (typeof(callArgs) != 'object')
						callArgs = this.varargs(arguments, 1);

					if (symStack)
						symStack.unshift(protoCtx);
					else
						superContext[slotIdx] = [ protoCtx ];

					try {
						res = res.apply(this, callArgs);
					}
					finally {
						superContext[slotIdx].shift();
						if (!superContext[slotIdx].length)
							delete superContext[slotIdx];
					}
				}

				return res;
			},

			toString: function() {
				return '[' + this.constructor.displayName + ']';
			}
		}
	});

	/* --- dom --- */
	var domParser = null, registry = {};

	var DOM = Class.singleton({
		__name__: 'LuCI.dom',

		elem: function(e) {
			return (e != null && typeof(e) == 'object' && 'nodeType' in e);
		},

		parse: function(s) {
			domParser = domParser || new DOMParser();
			return domParser.parseFromString(s, 'text/html').body.firstChild || null;
		},

		matches: function(node, selector) {
			return this.elem(node) && node.matches ? node.matches(selector) : false;
		},

		parent: function(node, selector) {
			return (this.elem(node) && node.closest) ? node.closest(selector) : null;
		},

		append: function(node, children) {
			if (!this.elem(node))
				return null;

			if (Array.isArray(children)) {
				for (var i = 0; i < children.length; i++)
					if (this.elem(children[i]))
						node.appendChild(children[i]);
					else if (children !== null && children !== undefined)
						node.appendChild(document.createTextNode('' + children[i]));

				return node.lastChild;
			}
			else if (typeof(children) === 'function') {
				return this.append(node, children(node));
			}
			else if (this.elem(children)) {
				return node.appendChild(children);
			}
			else if (children !== null && children !== undefined) {
				node.innerHTML = '' + children;
				return node.lastChild;
			}

			return null;
		},

		content: function(node, children) {
			if (!this.elem(node))
				return null;

			var dataNodes = node.querySelectorAll('[data-idref]');
			for (var i = 0; i < dataNodes.length; i++)
				delete registry[dataNodes[i].getAttribute('data-idref')];

			while (node.firstChild)
				node.removeChild(node.firstChild);

			return this.append(node, children);
		},

		attr: function(node, key, val) {
			if (!this.elem(node))
				return null;

			var attr = null;

			if (typeof(key) === 'object' && key !== null)
				attr = key;
			else if (typeof(key) === 'string')
				attr = {}, attr[key] = val;

			for (key in attr) {
				if (!attr.hasOwnProperty(key) || attr[key] == null)
					continue;

				switch (typeof(attr[key])) {
				case 'function':
					node.addEventListener(key, attr[key]);
					break;
				case 'object':
					node.setAttribute(key, JSON.stringify(attr[key]));
					break;
				default:
					node.setAttribute(key, attr[key]);
				}
			}
		},

		create: function() {
			var html = arguments[0], attr = arguments[1], data = arguments[2], elem;

			if (!(attr instanceof Object) || Array.isArray(attr))
				data = attr, attr = null;

			if (Array.isArray(html)) {
				elem = document.createDocumentFragment();
				for (var i = 0; i < html.length; i++)
					elem.appendChild(this.create(html[i]));
			}
			else if (this.elem(html)) {
				elem = html;
			}
			else if (html.charCodeAt(0) === 60) {
				elem = this.parse(html);
			}
			else {
				elem = document.createElement(html);
			}

			if (!elem)
				return null;

			this.attr(elem, attr);
			this.append(elem, data);

			return elem;
		},

		data: function(node, key, val) {
			if (!node || !node.getAttribute)
				return null;

			var id = node.getAttribute('data-idref');

			if (arguments.length > 1 && key == null) {
				if (id != null) {
					node.removeAttribute('data-idref');
					val = registry[id];
					delete registry[id];
					return val;
				}
				return null;
			}
			else if (arguments.length > 2 && key != null && val == null) {
				if (id != null) {
					val = registry[id][key];
					delete registry[id][key];
					return val;
				}
				return null;
			}
			else if (arguments.length > 2 && key != null && val != null) {
				if (id == null) {
					do { id = Math.floor(Math.random() * 0xffffffff).toString(16); }
					while (registry.hasOwnProperty(id));
					node.setAttribute('data-idref', id);
					registry[id] = {};
				}
				return (registry[id][key] = val);
			}
			else if (arguments.length == 1) {
				return (id != null) ? registry[id] : null;
			}
			else if (arguments.length == 2) {
				return (id != null && registry[id]) ? registry[id][key] : null;
			}

			return null;
		},

		bindClassInstance: function(node, inst) {
			if (!(inst instanceof Class))
				L.error('TypeError', 'Argument must be a class instance');
			return this.data(node, '_class', inst);
		},

		findClassInstance: function(node) {
			var inst = null;
			do {
				inst = this.data(node, '_class');
				node = node.parentNode;
			}
			while (!(inst instanceof Class) && node != null);
			return inst;
		},

		callClassMethod: function(node, method /*, ... */) {
			var inst = this.findClassInstance(node);
			if (inst == null || typeof(inst[method]) != 'function')
				return null;
			return inst[method].apply(inst, inst.varargs(arguments, 2));
		},

		isEmpty: function(node, ignoreFn) {
			for (var child = node.firstElementChild; child != null; child = child.nextElementSibling)
				if (!child.classList.contains('hidden') && (!ignoreFn || !ignoreFn(child)))
					return false;
			return true;
		}
	});

	window.E = function() { return DOM.create.apply(DOM, arguments); };

	/* --- poll --- */
	var Poll = Class.singleton({
		__name__: 'LuCI.poll',
		queue: [],

		add: function(fn, interval) {
			if (interval == null || interval <= 0)
				interval = window.L ? window.L.env.pollinterval : null;

			if (isNaN(interval) || typeof(fn) != 'function')
				throw new TypeError('Invalid argument to LuCI.poll.add()');

			for (var i = 0; i < this.queue.length; i++)
				if (this.queue[i].fn === fn)
					return false;

			this.queue.push({ r: true, i: interval >>> 0, fn: fn });

			if (this.tick != null && !this.active())
				this.start();

			return true;
		},

		remove: function(fn) {
			if (typeof(fn) != 'function')
				throw new TypeError('Invalid argument to LuCI.poll.remove()');

			var len = this.queue.length;
			for (var i = len; i > 0; i--)
				if (this.queue[i - 1].fn === fn)
					this.queue.splice(i - 1, 1);

			if (!this.queue.length && this.stop())
				this.tick = 0;

			return (this.queue.length != len);
		},

		start: function() {
			if (this.active())
				return false;

			this.tick = 0;

			if (this.queue.length) {
				this.timer = window.setInterval(this.step, 1000);
				this.step();
				document.dispatchEvent(new CustomEvent('poll-start'));
			}

			return true;
		},

		stop: function() {
			if (!this.active())
				return false;

			document.dispatchEvent(new CustomEvent('poll-stop'));
			window.clearInterval(this.timer);
			delete this.timer;
			delete this.tick;
			return true;
		},

		step: function() {
			for (var i = 0, e = null; (e = Poll.queue[i]) != null; i++) {
				if ((Poll.tick % e.i) != 0 || !e.r)
					continue;

				e.r = false;
				Promise.resolve(e.fn()).finally((function() { this.r = true; }).bind(e));
			}

			Poll.tick = (Poll.tick + 1) % Math.pow(2, 32);
		},

		active: function() {
			return (this.timer != null);
		}
	});

	/* --- request --- */
	var Response = Class.extend({
		__name__: 'LuCI.response',
		__init__: function(xhr, url, duration) {
			this.ok = (xhr.status >= 200 && xhr.status <= 299);
			this.status = xhr.status;
			this.statusText = xhr.statusText;
			this.duration = duration;
			this.url = url;
			this.xhr = xhr;
			this.responseText = xhr.responseText;
			this.responseJSON = null;
		},
		json: function() {
			if (this.responseJSON == null)
				this.responseJSON = JSON.parse(this.responseText);
			return this.responseJSON;
		},
		text: function() {
			return this.responseText;
		}
	});

	var Request = Class.singleton({
		__name__: 'LuCI.request',

		request: function(target, options) {
			var opt = Object.assign({}, options),
			    start = Date.now();

			return new Promise(function(resolve, reject) {
				var xhr = new XMLHttpRequest(),
				    url = target,
				    content = null;

				if (!opt.cache)
					url += (/\?/.test(url) ? '&' : '?') + start;

				xhr.open(String(opt.method || 'GET').toUpperCase(), url, true);

				if ('timeout' in opt)
					xhr.timeout = +opt.timeout;

				if (opt.content != null) {
					if (typeof(opt.content) == 'object') {
						content = JSON.stringify(opt.content);
						xhr.setRequestHeader('Content-Type', 'application/json');
					}
					else {
						content = String(opt.content);
					}
				}

				xhr.onload = function() { resolve(new Response(xhr, url, Date.now() - start)); };
				xhr.onerror = function() { reject(new Error('XHR request aborted by browser')); };
				xhr.ontimeout = function() { reject(new Error('XHR request timed out')); };
				xhr.send(content);
			});
		},

		get: function(url, options) {
			return this.request(url, Object.assign({ method: 'GET' }, options));
		},

		post: function(url, data, options) {
			return this.request(url, Object.assign({ method: 'POST', content: data }, options));
		}
	});

	/* --- view --- */
	var View = Class.extend({
		__name__: 'LuCI.view',

		__init__: function() {
			var vp = document.getElementById('view');

			DOM.content(vp, E('div', { 'class': 'spinning' }, _('Loading view…')));

			return Promise.resolve(this.load())
				.then(L.bind(this.render, this))
				.then(L.bind(function(nodes) {
					var vp = document.getElementById('view');
					DOM.content(vp, nodes);
					DOM.append(vp, this.addFooter());
				}, this)).catch(L.error);
		},

		load: function() {},
		render: function() {},

		handleSave: function(ev) {
			var tasks = [];
			document.getElementById('maincontent').querySelectorAll('.cbi-map').forEach(function(map) {
				tasks.push(DOM.callClassMethod(map, 'save'));
			});
			return Promise.all(tasks);
		},

		handleSaveApply: function(ev, mode) {
			return this.handleSave(ev).then(function() {
				return L.ui.changes.apply(mode == '0');
			});
		},

		handleReset: function(ev) {
			var tasks = [];
			document.getElementById('maincontent').querySelectorAll('.cbi-map').forEach(function(map) {
				tasks.push(DOM.callClassMethod(map, 'reset'));
			});
			return Promise.all(tasks);
		},

		addFooter: function() {
			var footer = E([]);

			if (this.handleSaveApply || this.handleSave || this.handleReset) {
				footer.appendChild(E('div', { 'class': 'cbi-page-actions' }, [
					this.handleSaveApply ? E('button', {
						'class': 'cbi-button cbi-button-apply important',
						'click': L.ui.createHandlerFn(this, 'handleSaveApply')
					}, [ _('Save & Apply') ]) : '', ' ',
					this.handleSave ? E('button', {
						'class': 'cbi-button cbi-button-save',
						'click': L.ui.createHandlerFn(this, 'handleSave')
					}, [ _('Save') ]) : '', ' ',
					this.handleReset ? E('button', {
						'class': 'cbi-button cbi-button-reset',
						'click': L.ui.createHandlerFn(this, 'handleReset')
					}, [ _('Reset') ]) : ''
				]));
			}

			return footer;
		}
	});

	/* --- LuCI --- */
	var classes = {
		baseclass: Class,
		dom: DOM,
		poll: Poll,
		request: Request,
		view: View
	};

	var LuCI = Class.extend({
		__name__: 'LuCI',

		__init__: function(env) {
			Object.assign(this.env, env);

			var domReady = new Promise(function(resolve) {
				if (document.readyState != 'loading')
					resolve();
				else
					document.addEventListener('DOMContentLoaded', resolve);
			});

			Promise.all([ domReady, this.require('ui'), this.require('rpc'), this.require('form') ])
				.then(function() {
					Poll.start();
					document.dispatchEvent(new CustomEvent('luci-loaded'));
				}).catch(this.error);
		},

		env: {},

		raise: function(type, fmt /*, ... */) {
			var msg = fmt ? String.prototype.format.apply(fmt, this.varargs(arguments, 2)) : null, e;

			if (type instanceof Error) {
				e = type;
				if (msg)
					e.message = msg + ': ' + e.message;
			}
			else {
				e = new (window[type || 'Error'] || Error)(msg || 'Unspecified error');
				e.name = type || 'Error';
			}

			throw e;
		},

		error: function(type, fmt /*, ... */) {
			try {
				L.raise.apply(L, Array.prototype.slice.call(arguments));
			}
			catch (e) {
				if (!e.reported) {
					if (L.ui)
						L.ui.addNotification(e.name || _('Runtime error'), E('pre', {}, [ e.message ]), 'danger');
					else
						DOM.content(document.querySelector('#maincontent'),
							E('pre', { 'class': 'alert-message error' }, [ e.message ]));
					e.reported = true;
				}
				throw e;
			}
		},

		bind: function(fn, self /*, ... */) {
			return Function.prototype.bind.apply(fn, this.varargs(arguments, 2, self));
		},

		path: function(prefix, parts) {
			var url = [ prefix || '' ];
			for (var i = 0; i < parts.length; i++)
				if (/^(?:[a-zA-Z0-9_.%,;-]+\/)*[a-zA-Z0-9_.%,;-]+$/.test(parts[i]))
					url.push('/', parts[i]);
			if (url.length === 1)
				url.push('/');
			return url.join('');
		},

		url: function() { return this.path(this.env.scriptname, arguments); },
		resource: function() { return this.path(this.env.resource, arguments); },
		media: function() { return this.path(this.env.media, arguments); },
		location: function() { return this.path(this.env.scriptname, this.env.requestpath); },

		isObject: function(val) {
			return (val != null && typeof(val) == 'object');
		},

		toArray: function(val) {
			if (val == null)
				return [];
			else if (Array.isArray(val))
				return val;
			else if (typeof(val) == 'object')
				return [ val ];

			var s = String(val).trim();
			return (s == '') ? [] : s.split(/\s+/);
		},

		resolveDefault: function(value, defvalue) {
			return Promise.resolve(value).catch(function() { return defvalue; });
		},

		require: function(name, from) {
			var L = this, url = null;

			from = from || [];

			if (classes[name] != null) {
				if (from.indexOf(name) != -1)
					L.raise('DependencyError', 'Circular dependency: class "%s" depends on "%s"',
						name, from.join('" which depends on "'));

				return Promise.resolve(classes[name]);
			}

			url = '%s/%s.js'.format(L.env.base_url, name.replace(/\./g, '/'));
			from = [ name ].concat(from);

			var compileClass = function(res) {
				if (!res.ok)
					L.raise('NetworkError', 'HTTP error %d while loading class file "%s"', res.status, url);

				var source = res.text(),
				    requirematch = /^require[ \t]+(\S+)(?:[ \t]+as[ \t]+([a-zA-Z_]\S*))?$/,
				    strictmatch = /^use[ \t]+strict$/,
				    depends = [],
				    args = '';

				/* leading quoted strings: the pragmas (see the header of this file) */
				for (var i = 0, off = -1, quote = -1, esc = false; i < source.length; i++) {
					var chr = source.charCodeAt(i);

					if (esc) {
						esc = false;
					}
					else if (chr == 92) {
						esc = true;
					}
					else if (chr == quote) {
						var s = source.substring(off, i), m = requirematch.exec(s);

						if (m) {
							var dep = m[1], as = m[2] || dep.replace(/[^a-zA-Z0-9_]/g, '_');
							depends.push(L.require(dep, from));
							args += ', ' + as;
						}
						else if (!strictmatch.exec(s)) {
							break;
						}

						off = -1;
						quote = -1;
					}
					else if (quote == -1 && (chr == 34 || chr == 39)) {
						off = i + 1;
						quote = chr;
					}
				}

				return Promise.all(depends).then(function(instances) {
					var factory, klass;

					try {
						factory = new Function('return (function(window, document, L' + args + ') { ' +
							source + '\n})\n//# sourceURL=' + res.url.replace(/[?&]\d+$/, ''))();
					}
					catch (error) {
						L.raise('SyntaxError', '%s\n  in %s', error.message, url);
					}

					klass = factory.apply(factory, [ window, document, L ].concat(instances));

					if (!Class.isSubclass(klass))
						L.error('TypeError', '"%s" factory yields invalid constructor', name);

					var ptr = Object.getPrototypeOf(L), parts = name.split(/\./), instance = new klass();

					for (var j = 0; ptr && j < parts.length - 1; j++)
						ptr = ptr[parts[j]];

					if (ptr)
						ptr[parts[j]] = instance;

					classes[name] = instance;

					return instance;
				});
			};

			classes[name] = Request.get(url, { cache: true }).then(compileClass);

			return classes[name];
		},

		dom: DOM,
		Poll: Poll,
		Class: Class,
		Request: Request
	});

	window.LuCI = LuCI;
})(window, document);
