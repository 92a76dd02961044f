'use strict';
'require baseclass';
'require dom';
'require rpc';
'require ui';
'require formsections';

/*
 * LuCI test shim: form (NOT LuCI).  Enough of LuCI's form.js for a settings page on one UCI
 * config, with LuCI's markup and save semantics:
 *  - Map(config, title, description): load (ubus uci get, then every option's load(sid)),
 *    render, save (validate all, then ubus uci set / delete; committed by Save & Apply), reset;
 *  - NamedSection(map, section_id, type, title, description), TypedSection(map, type, ...);
 *    section.option(), section.tab(), section.taboption(), section.cfgvalue(sid[, option]),
 *    section.formvalue(sid[, option]); map.lookupOption(name, sid) -> [ option, sid ];
 *  - as LuCI's Map.checkDepends does on every widget change, a change anywhere in the map
 *    re-validates every text input (a validate() may read other options' form values) and
 *    shows or hides the options with depends();
 *  - depends(option, value) or depends({ option: value, ... }): as LuCI, the option is shown
 *    (its .cbi-value gets class "hidden" otherwise) when the form values of one such set all
 *    match, each of those options shown itself; a hidden option is not validated, and on save
 *    its value is removed unless the option has retain set;
 *  - Value (text input; value() entries become a datalist), Flag (checkbox, enabled/disabled),
 *    ListValue (select), DynamicList (items + an input to add one), DummyValue;
 *    option properties: default, rmempty, optional, retain, datatype, validate(), placeholder,
 *    description, readonly; load(), cfgvalue(), formvalue(), write(), remove(). A ListValue
 *    whose value is not one of its choices shows the first choice, as LuCI's ui.Select does.
 *  - datatypes: cidr cidr4 cidr6 ipaddr ip4addr ip6addr uciname string uinteger integer
 *    range(min,max) min(n) max(n); an unknown one is reported with console.error.
 * Not implemented: JSONMap, GridSection, modal sections. Sections added and deleted
 * (TypedSection addremove) and DynamicList choices: formsections.js.
 */

var callUciGet = rpc.declare({
	object: 'uci',
	method: 'get',
	params: [ 'config' ],
	expect: { values: {} },
	reject: true
});

var callUciSet = rpc.declare({
	object: 'uci',
	method: 'set',
	params: [ 'config', 'section', 'values' ],
	reject: true
});

/* --- validation --- */

function parseIPv4(s) {
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
	return !!m && m.slice(1).every(function(o) { return +o <= 255; });
}

function parseIPv6(s) {
	if (!/^[0-9a-fA-F:.]+$/.test(s) || s.indexOf(':') < 0)
		return false;

	var tail4 = /:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s), groups = 8;

	if (tail4) {
		if (!parseIPv4(tail4[1]))
			return false;
		s = s.slice(0, -tail4[1].length) + '0';
		groups = 7;
	}

	var halves = s.split('::');
	if (halves.length > 2)
		return false;

	var count = function(h) { return h ? h.split(':') : []; },
	    head = count(halves[0]), tail = count(halves[1]),
	    all = head.concat(tail);

	if (!all.every(function(g) { return /^[0-9a-fA-F]{1,4}$/.test(g); }))
		return false;

	return (halves.length == 2) ? all.length < 8 : all.length == 8 && groups >= 7;
}

function cidr(value, family) {
	var m = /^(.+)\/(\d{1,3})$/.exec(value);
	if (!m)
		return false;
	if (family != 6 && parseIPv4(m[1]))
		return +m[2] <= 32;
	if (family != 4 && parseIPv6(m[1]))
		return +m[2] <= 128;
	return false;
}

function checkDatatype(datatype, value) {
	var m = /^(\w+)(?:\((.*)\))?$/.exec(datatype || ''), args = m && m[2] ? m[2].split(/\s*,\s*/) : [];

	switch (m ? m[1] : '') {
	case 'string': return true;
	case 'cidr': return cidr(value) || _('Expecting: %s').format(_('valid IPv4 or IPv6 CIDR'));
	case 'cidr4': return cidr(value, 4) || _('Expecting: %s').format(_('valid IPv4 CIDR'));
	case 'cidr6': return cidr(value, 6) || _('Expecting: %s').format(_('valid IPv6 CIDR'));
	case 'ipaddr': return parseIPv4(value) || parseIPv6(value) || _('Expecting: %s').format(_('valid IP address'));
	case 'ip4addr': return parseIPv4(value) || _('Expecting: %s').format(_('valid IPv4 address'));
	case 'ip6addr': return parseIPv6(value) || _('Expecting: %s').format(_('valid IPv6 address'));
	case 'uciname': return /^[a-zA-Z0-9_]+$/.test(value) || _('Expecting: %s').format(_('valid UCI identifier'));
	case 'uinteger': return /^\d+$/.test(value) || _('Expecting: %s').format(_('positive integer value'));
	case 'integer': return /^-?\d+$/.test(value) || _('Expecting: %s').format(_('integer value'));
	case 'range':
		return (/^-?\d+(\.\d+)?$/.test(value) && +value >= +args[0] && +value <= +args[1]) ||
			_('Expecting: %s').format(_('value between %f and %f').format(+args[0], +args[1]));
	case 'min':
		return (/^-?\d+(\.\d+)?$/.test(value) && +value >= +args[0]) ||
			_('Expecting: %s').format(_('value greater or equal to %f').format(+args[0]));
	case 'max':
		return (/^-?\d+(\.\d+)?$/.test(value) && +value <= +args[0]) ||
			_('Expecting: %s').format(_('value smaller or equal to %f').format(+args[0]));
	}

	console.error('form shim: datatype "' + datatype + '" is not implemented by the test shim');
	return true;
}

/* --- map --- */

var CBIMap = baseclass.extend({
	__name__: 'CBI.Map',

	__init__: function(config, title, description) {
		this.config = config;
		this.title = title || '';
		this.description = description || '';
		this.children = [];
		this.data = {};
		this.readonly = false;
	},

	section: function(cbiClass /*, ... */) {
		var s = cbiClass.instantiate(this.varargs(arguments, 1, this));
		this.children.push(s);
		return s;
	},

	/* as LuCI: the config, then every option's load(section_id) (which may add choices) */
	load: function() {
		return callUciGet(this.config).then(L.bind(function(values) {
			this.data = values || {};
			this.children.forEach(function(s) {
				s.cfgsections().forEach(function(sid) {
					s.children.forEach(function(o) { o.load(sid); });
				});
			});
		}, this));
	},

	/* LuCI's shape: [ option instance, section id ], or null */
	lookupOption: function(name, section_id) {
		for (var i = 0; i < this.children.length; i++) {
			var s = this.children[i];
			for (var j = 0; j < s.children.length; j++)
				if (s.children[j].option == name && s.cfgsections().indexOf(section_id) >= 0)
					return [ s.children[j], section_id ];
		}
		return null;
	},

	/* re-mark the validity of every text input (their validate() may depend on other options) */
	revalidate: function() {
		this.children.forEach(function(s) {
			s.cfgsections().forEach(function(sid) {
				s.children.forEach(function(o) {
					var w = o.widgets[sid];
					if (w && w.tagName == 'INPUT' && w.type == 'text' && typeof(o.markValidity) == 'function')
						o.markValidity(w, sid, w.value.trim());
				});
			});
		});
	},

	/* as LuCI's checkDepends: show or hide options until nothing changes (a dependency may depend on another) */
	checkDepends: function() {
		for (var pass = 0; pass < 10; pass++) {
			var changed = false;
			this.children.forEach(function(s) {
				s.cfgsections().forEach(function(sid) {
					s.children.forEach(function(o) {
						if (o.setActive(sid, o.checkDepends(sid)))
							changed = true;
					});
				});
			});
			if (!changed)
				break;
		}
	},

	renderContents: function() {
		var node = E('div', { 'class': 'cbi-map', 'id': 'cbi-' + this.config }, [
			this.title ? E('h2', { 'name': 'content' }, this.title) : '',
			this.description ? E('div', { 'class': 'cbi-map-descr' }, this.description) : ''
		]);

		this.children.forEach(function(s) {
			node.appendChild(s.render());
		});

		dom.bindClassInstance(node, this);
		node.addEventListener('change', L.bind(function() {
			this.checkDepends();
			this.revalidate();
		}, this));
		this.root = node;
		this.checkDepends();

		return node;
	},

	render: function() {
		return this.load().then(L.bind(this.renderContents, this));
	},

	rerender: function() {
		var old = this.root;
		return this.load().then(L.bind(function() {
			var node = this.renderContents();
			if (old && old.parentNode)
				old.parentNode.replaceChild(node, old);
			return node;
		}, this));
	},

	save: function(cb, silent) {
		var tasks = [], invalid = [];

		this.children.forEach(function(s) {
			s.cfgsections().forEach(function(sid) {
				s.children.forEach(function(o) {
					var v = o.isActive(sid) ? o.isValid(sid) : true;
					if (v !== true)
						invalid.push((o.title || o.option) + ': ' + v);
				});
			});
		});

		if (invalid.length) {
			var err = new TypeError(_('Some fields are invalid, cannot save values!') + '\n' + invalid.join('\n'));

			if (!silent)
				ui.showModal(_('Save error'), [
					E('p', {}, [ _('An error occurred while saving the form:') ]),
					E('p', {}, [ E('em', { 'style': 'white-space:pre-wrap' }, [ err.message ]) ]),
					E('div', { 'class': 'right' }, [
						E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, [ _('Dismiss') ])
					])
				]);

			return Promise.reject(err);
		}

		this.children.forEach(function(s) {
			s.cfgsections().forEach(function(sid) {
				s.children.forEach(function(o) {
					tasks.push(o.parse(sid));
				});
			});
		});

		return Promise.all(tasks).then(L.bind(function() {
			if (typeof(cb) == 'function')
				cb();
			return this.rerender();
		}, this));
	},

	reset: function() {
		return this.rerender();
	}
});

/* --- sections --- */

var CBIAbstractSection = baseclass.extend({
	__name__: 'CBI.AbstractSection',

	__init__: function(map, sectionType, title, description) {
		this.map = map;
		this.sectiontype = sectionType;
		this.title = title || '';
		this.description = description || '';
		this.children = [];
		this.tabs = null;
		this.tab_names = [];
		this.anonymous = false;
		this.addremove = false;
	},

	tab: function(name, title, description) {
		this.tabs = this.tabs || {};
		this.tabs[name] = { title: title, description: description, children: [] };
		this.tab_names.push(name);
	},

	option: function(cbiClass /*, ... */) {
		var o = cbiClass.instantiate(this.varargs(arguments, 1, this.map, this));
		this.children.push(o);
		return o;
	},

	taboption: function(tabName /*, ... */) {
		if (!this.tabs || !this.tabs[tabName])
			throw new ReferenceError('Associated tab not declared');

		var o = this.option.apply(this, this.varargs(arguments, 1));
		o.tab = tabName;
		this.tabs[tabName].children.push(o);
		return o;
	},

	/* as LuCI: one option's value, or all of them by name when no option is given */
	cfgvalue: function(section_id, option) {
		var rv = (arguments.length == 1) ? {} : null;
		for (var i = 0, o; (o = this.children[i]) != null; i++) {
			if (rv)
				rv[o.option] = o.cfgvalue(section_id);
			else if (o.option == option)
				return o.cfgvalue(section_id);
		}
		return rv;
	},

	/* as LuCI: the widgets' values once rendered, the configured ones before */
	formvalue: function(section_id, option) {
		var rv = (arguments.length == 1) ? {} : null;
		for (var i = 0, o; (o = this.children[i]) != null; i++) {
			var v = o.widgets[section_id] ? o.formvalue(section_id) : o.cfgvalue(section_id);
			if (rv)
				rv[o.option] = v;
			else if (o.option == option)
				return v;
		}
		return rv;
	},

	renderOptions: function(section_id) {
		var self = this;

		if (!this.tabs)
			return E('div', { 'class': 'cbi-section-node', 'id': 'cbi-%s-%s'.format(this.map.config, section_id) },
				this.children.map(function(o) { return o.render(section_id); }));

		var panes = this.tab_names.map(function(name, i) {
			var t = self.tabs[name];
			return E('div', {
				'class': 'cbi-tabcontainer',
				'data-tab': name,
				'data-tab-title': t.title,
				'data-tab-active': i == 0 ? 'true' : 'false'
			}, [ t.description ? E('div', { 'class': 'cbi-tab-descr' }, t.description) : '' ].concat(
				t.children.map(function(o) { return o.render(section_id); })));
		});

		var menu = E('ul', { 'class': 'cbi-tabmenu' }, this.tab_names.map(function(name, i) {
			return E('li', { 'class': i == 0 ? 'cbi-tab' : 'cbi-tab-disabled', 'data-tab': name }, [
				E('a', {
					'href': '#',
					'click': function(ev) {
						ev.preventDefault();
						menu.querySelectorAll('li').forEach(function(li) {
							li.className = (li.getAttribute('data-tab') == name) ? 'cbi-tab' : 'cbi-tab-disabled';
						});
						panes.forEach(function(p) {
							p.setAttribute('data-tab-active', p.getAttribute('data-tab') == name ? 'true' : 'false');
						});
					}
				}, [ self.tabs[name].title ])
			]);
		}));

		return E('div', {}, [
			menu,
			E('div', { 'class': 'cbi-section-node cbi-section-node-tabbed', 'id': 'cbi-%s-%s'.format(this.map.config, section_id) }, panes)
		]);
	},

	render: function() {
		var self = this,
		    node = E('div', { 'class': 'cbi-section', 'id': 'cbi-%s-%s'.format(this.map.config, this.sectiontype) }, [
			this.title ? E('h3', {}, this.title) : '',
			this.description ? E('div', { 'class': 'cbi-section-descr' }, this.description) : ''
		]);

		var sids = this.cfgsections();

		if (!sids.length)
			node.appendChild(E('em', {}, _('This section contains no values yet')));

		sids.forEach(function(sid) {
			node.appendChild(self.renderOptions(sid));
		});

		return node;
	}
});

var CBINamedSection = CBIAbstractSection.extend({
	__name__: 'CBI.NamedSection',

	__init__: function(map, section_id /*, ... */) {
		this.super('__init__', this.varargs(arguments, 2, map));
		this.section = section_id;
	},

	cfgsections: function() {
		return this.map.data[this.section] ? [ this.section ] : [];
	}
});

var CBITypedSection = CBIAbstractSection.extend({
	__name__: 'CBI.TypedSection',

	cfgsections: function() {
		var data = this.map.data, type = this.sectiontype;
		return Object.keys(data).filter(function(sid) {
			return data[sid]['.type'] == type;
		}).sort(function(a, b) {
			return data[a]['.index'] - data[b]['.index'];
		});
	}
});

/* --- options --- */

var CBIAbstractValue = baseclass.extend({
	__name__: 'CBI.AbstractValue',

	__init__: function(map, section, option, title, description) {
		this.map = map;
		this.section = section;
		this.option = option;
		this.title = title || '';
		this.description = description || '';
		this.default = null;
		this.rmempty = true;
		this.optional = false;
		this.readonly = null;
		this.datatype = null;
		this.placeholder = null;
		this.keylist = [];
		this.vallist = [];
		this.retain = false;
		this.deps = [];
		this.widgets = {};
		this.fields = {};
	},

	value: function(key, label) {
		this.keylist.push(String(key));
		this.vallist.push(label != null ? label : String(key));
	},

	depends: function(field, value) {
		var deps;
		if (typeof(field) == 'string') {
			deps = {};
			deps[field] = value;
		}
		else {
			deps = Object.assign({}, field);
		}
		this.deps.push(deps);
	},

	/* as LuCI's isDependencySatisfied: no depends() at all, or one set whose options are all shown and at their values */
	checkDepends: function(section_id) {
		var map = this.map, section = this.section;

		if (!this.deps.length)
			return true;

		return this.deps.some(function(deps) {
			return Object.keys(deps).every(function(name) {
				var res = map.lookupOption(name, section_id);
				if (!res || !res[0].isActive(section_id))
					return false;
				var v = section.formvalue(section_id, name);
				return String(v != null ? v : '') == String(deps[name]);
			});
		});
	},

	/* shown: rendered and not hidden by its depends() */
	isActive: function(section_id) {
		var field = this.fields[section_id];
		return field != null && !field.classList.contains('hidden');
	},

	/* true if that changed anything */
	setActive: function(section_id, active) {
		var field = this.fields[section_id];
		if (!field || field.classList.contains('hidden') != active)
			return false;
		field.classList.toggle('hidden', !active);
		return true;
	},

	/* as LuCI: a hidden option's value is removed on save, unless retain is set */
	parseInactive: function(section_id) {
		if (this.retain || this.cfgvalue(section_id) == null)
			return Promise.resolve();
		return Promise.resolve(this.remove(section_id));
	},

	cbid: function(section_id) {
		return 'cbid.%s.%s.%s'.format(this.map.config, section_id, this.option);
	},

	/* the configured value, as LuCI's load(section_id) returns it */
	load: function(section_id) {
		return this.cfgvalue(section_id);
	},

	cfgvalue: function(section_id) {
		var s = this.map.data[section_id];
		return (s && s[this.option] != null) ? s[this.option] : null;
	},

	/* the value shown: the configured one, else the default */
	shownvalue: function(section_id) {
		var v = this.cfgvalue(section_id);
		return (v != null) ? v : this.default;
	},

	validate: function(section_id, value) {
		return true;
	},

	checkValue: function(section_id, value) {
		if (value == null || value === '' || (Array.isArray(value) && !value.length))
			return true;

		var values = Array.isArray(value) ? value : [ value ];

		for (var i = 0; i < values.length; i++) {
			if (this.datatype) {
				var d = checkDatatype(this.datatype, String(values[i]));
				if (d !== true)
					return d;
			}

			var v = this.validate(section_id, values[i]);
			if (v !== true)
				return (typeof(v) == 'string') ? v : _('Invalid value');
		}

		return true;
	},

	isValid: function(section_id) {
		return this.checkValue(section_id, this.formvalue(section_id));
	},

	markValidity: function(input, section_id, value) {
		var res = this.checkValue(section_id, value);

		input.classList.toggle('cbi-input-invalid', res !== true);

		if (res !== true)
			input.setAttribute('data-tooltip', res);
		else
			input.removeAttribute('data-tooltip');

		return res;
	},

	write: function(section_id, value) {
		var values = {};
		values[this.option] = value;
		return callUciSet(this.map.config, section_id, values);
	},

	remove: function(section_id) {
		return formsections.uciDelete(this.map.config, section_id, [ this.option ]);
	},

	parse: function(section_id) {
		if (!this.isActive(section_id))
			return this.parseInactive(section_id);

		var fval = this.formvalue(section_id),
		    cval = this.cfgvalue(section_id),
		    same = JSON.stringify(L.toArray(cval)) == JSON.stringify(L.toArray(fval));

		if (fval != null && fval !== '' && !(Array.isArray(fval) && !fval.length))
			return same && cval != null ? Promise.resolve() : Promise.resolve(this.write(section_id, fval));

		if (this.rmempty || this.optional)
			return (cval != null) ? Promise.resolve(this.remove(section_id)) : Promise.resolve();

		return Promise.reject(new TypeError(_('Option "%s" must not be empty.').format(this.title || this.option)));
	},

	render: function(section_id) {
		var cbid = this.cbid(section_id),
		    widget = this.renderWidget(section_id, this.shownvalue(section_id));

		return this.fields[section_id] = E('div', {
			'class': 'cbi-value',
			'id': 'cbi-%s-%s-%s'.format(this.map.config, section_id, this.option),
			'data-field': cbid,
			'data-name': this.option,
			'data-widget': this.__name__
		}, [
			E('label', { 'class': 'cbi-value-title', 'for': 'widget.' + cbid }, this.title),
			E('div', { 'class': 'cbi-value-field' }, [
				widget,
				this.description ? E('div', { 'class': 'cbi-value-description' }, this.description) : ''
			])
		]);
	}
});

var CBIValue = CBIAbstractValue.extend({
	__name__: 'CBI.Value',

	renderWidget: function(section_id, value) {
		var self = this, cbid = this.cbid(section_id), listId = null, children = [];

		if (this.keylist.length) {
			listId = 'list.' + cbid;
			children.push(E('datalist', { 'id': listId }, this.keylist.map(function(k, i) {
				return E('option', { 'value': k }, [ self.vallist[i] ]);
			})));
		}

		var input = E('input', {
			'type': this.password ? 'password' : 'text',
			'class': 'cbi-input-text',
			'id': 'widget.' + cbid,
			'name': cbid,
			'value': value != null ? String(value) : '',
			'placeholder': this.placeholder != null ? this.placeholder : null,
			'list': listId,
			'disabled': (this.readonly != null ? this.readonly : this.map.readonly) ? '' : null
		});

		input.addEventListener('input', function() { self.markValidity(input, section_id, input.value.trim()); });
		input.addEventListener('blur', function() { self.markValidity(input, section_id, input.value.trim()); });

		this.widgets[section_id] = input;
		this.markValidity(input, section_id, input.value.trim());

		return E('div', { 'id': cbid }, [ input ].concat(children));
	},

	formvalue: function(section_id) {
		var w = this.widgets[section_id];
		return w ? w.value.trim() : null;
	}
});

var CBIFlag = CBIAbstractValue.extend({
	__name__: 'CBI.Flag',

	__init__: function() {
		this.super('__init__', arguments);
		this.enabled = '1';
		this.disabled = '0';
		this.default = this.disabled;
	},

	renderWidget: function(section_id, value) {
		var cbid = this.cbid(section_id),
		    input = E('input', {
				'type': 'checkbox',
				'id': 'widget.' + cbid,
				'name': cbid,
				'value': this.enabled
			});

		input.checked = (String(value) == this.enabled);
		this.widgets[section_id] = input;

		return E('div', { 'class': 'cbi-checkbox', 'id': cbid }, [
			input,
			E('label', { 'for': 'widget.' + cbid })
		]);
	},

	formvalue: function(section_id) {
		var w = this.widgets[section_id];
		return w ? (w.checked ? this.enabled : this.disabled) : null;
	},

	parse: function(section_id) {
		if (!this.isActive(section_id))
			return this.parseInactive(section_id);

		var fval = this.formvalue(section_id), cval = this.cfgvalue(section_id);

		if (fval == this.default && (this.optional || this.rmempty))
			return (cval != null) ? Promise.resolve(this.remove(section_id)) : Promise.resolve();

		return (cval === fval) ? Promise.resolve() : Promise.resolve(this.write(section_id, fval));
	}
});

var CBIListValue = CBIAbstractValue.extend({
	__name__: 'CBI.ListValue',

	renderWidget: function(section_id, value) {
		var self = this, cbid = this.cbid(section_id),
		    keys = this.keylist.slice();

		var select = E('select', {
			'class': 'cbi-input-select',
			'id': 'widget.' + cbid,
			'name': cbid
		}, keys.map(function(k) {
			var i = self.keylist.indexOf(k);
			return E('option', { 'value': k }, [ i >= 0 ? self.vallist[i] : k ]);
		}));

		/* as LuCI's ui.Select: a value that is not a choice gets no option, so the first one shows */
		select.value = (value != null && keys.indexOf(String(value)) >= 0) ? String(value) : (keys[0] || '');
		this.widgets[section_id] = select;

		return E('div', { 'id': cbid }, [ select ]);
	},

	formvalue: function(section_id) {
		var w = this.widgets[section_id];
		return w ? w.value : null;
	}
});

var CBIDynamicList = CBIAbstractValue.extend({
	__name__: 'CBI.DynamicList',

	renderWidget: function(section_id, value) {
		var self = this, cbid = this.cbid(section_id),
		    values = L.toArray(value),
		    dl = E('div', { 'class': 'cbi-dynlist', 'id': cbid });

		var addItem = function(v) {
			var item = E('div', { 'class': 'item', 'data-value': v }, [
				E('span', {}, [ v ]),
				E('span', {
					'class': 'remove',
					'title': _('Remove'),
					'click': function(ev) { dl.removeChild(item); }
				}, [ '×' ])
			]);
			dl.insertBefore(item, adder);
		};

		var input = E('input', {
			'type': 'text',
			'class': 'cbi-input-text',
			'id': 'widget.' + cbid,
			'placeholder': this.placeholder != null ? this.placeholder : null
		});

		var tryAdd = function() {
			var v = input.value.trim();
			if (v === '')
				return;
			if (self.markValidity(input, section_id, v) !== true)
				return;
			addItem(v);
			input.value = '';
		};

		input.addEventListener('input', function() {
			var v = input.value.trim();
			if (v === '')
				self.markValidity(input, section_id, '');
			else
				self.markValidity(input, section_id, v);
		});
		input.addEventListener('keydown', function(ev) {
			if (ev.key == 'Enter') {
				ev.preventDefault();
				tryAdd();
			}
		});

		var adder = E('div', { 'class': 'add-item' }, [
			input,
			E('button', {
				'class': 'cbi-button cbi-button-add',
				'title': _('Add'),
				'click': function(ev) { ev.preventDefault(); tryAdd(); }
			}, [ '+' ])
		]);

		dl.appendChild(adder);
		values.forEach(addItem);

		this.widgets[section_id] = { list: dl, input: input };

		return dl;
	},

	formvalue: function(section_id) {
		var w = this.widgets[section_id];
		if (!w)
			return null;

		var values = Array.prototype.map.call(w.list.querySelectorAll('.item'), function(i) {
			return i.getAttribute('data-value');
		});

		/* a typed but not yet added value counts, as in LuCI */
		if (w.input.value.trim() !== '')
			values.push(w.input.value.trim());

		return values;
	}
});

var CBIDummyValue = CBIAbstractValue.extend({
	__name__: 'CBI.DummyValue',

	renderWidget: function(section_id, value) {
		return E('div', { 'id': this.cbid(section_id) }, [ value != null ? String(value) : '' ]);
	},

	formvalue: function(section_id) {
		return null;
	},

	parse: function(section_id) {
		return Promise.resolve();
	},

	isValid: function() {
		return true;
	}
});

return baseclass.extend({
	__name__: 'LuCI.form',

	Map: CBIMap,
	NamedSection: CBINamedSection,
	TypedSection: formsections.typedSection(CBITypedSection),
	Value: CBIValue,
	Flag: CBIFlag,
	ListValue: CBIListValue,
	DynamicList: formsections.dynamicList(CBIDynamicList),
	DummyValue: CBIDummyValue
});
