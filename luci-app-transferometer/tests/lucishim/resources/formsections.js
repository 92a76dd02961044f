'use strict';
'require baseclass';
'require rpc';
'require ui';

/*
 * LuCI test shim: form, sections added and deleted (NOT LuCI).  form.js builds its TypedSection and
 * DynamicList with these, adding what LuCI's form.js has and the Quotas page uses:
 *  - TypedSection with addremove: each section under an h3 with its name (non-anonymous) and a
 *    Delete button (.cbi-section-remove), then .cbi-section-create: a name input
 *    (.cbi-section-create-name; anonymous sections have none) and an Add button
 *    (.cbi-button-add, title addbtntitle); handleAdd(ev, name) stages `uci add` and
 *    handleRemove(section_id) `uci delete` of the section, each followed by map.save(null, true),
 *    as LuCI's TypedSection does (LuCI stages them in its uci module, the shim on the server);
 *    LuCI checks the new name only as a uciname, so a view that wants more overrides handleAdd;
 *  - DynamicList choices (value(key, label)): offered as a datalist of the add input (LuCI shows a
 *    dropdown that also takes values of one's own).
 */

var callUciAdd = rpc.declare({
	object: 'uci',
	method: 'add',
	params: [ 'config', 'type', 'name' ],
	reject: true
});

/* uci delete of a section, or of options of it (form.js's option remove uses this one too) */
var callUciDelete = rpc.declare({
	object: 'uci',
	method: 'delete',
	params: [ 'config', 'section', 'options' ],
	reject: true
});

function typedSection(Base) {
	return Base.extend({
		__name__: 'CBI.TypedSection',

		render: function() {
			var self = this,
			    node = Base.prototype.render.apply(this, arguments);

			if (!this.addremove && this.anonymous)
				return node;

			this.cfgsections().forEach(function(sid) {
				var inner = node.querySelector('[id="cbi-%s-%s"]'.format(self.map.config, sid)),
				    el = (inner && inner.parentNode !== node) ? inner.parentNode : inner;

				if (!el)
					return;

				if (!self.anonymous)
					node.insertBefore(E('h3', {}, [ sid ]), el);

				if (self.addremove)
					node.insertBefore(E('div', { 'class': 'cbi-section-remove right' }, [
						E('button', {
							'class': 'cbi-button',
							'name': 'cbi.rts.%s.%s'.format(self.map.config, sid),
							'data-section-id': sid,
							'click': ui.createHandlerFn(self, 'handleRemove', sid),
							'disabled': self.map.readonly || null
						}, [ _('Delete') ])
					]), el);
			});

			if (this.addremove)
				node.appendChild(this.renderSectionAdd());

			return node;
		},

		renderSectionAdd: function() {
			var self = this,
			    title = this.addbtntitle || _('Add'),
			    create = E('div', { 'class': 'cbi-section-create' });

			if (this.anonymous) {
				create.appendChild(E('button', {
					'class': 'cbi-button cbi-button-add',
					'title': title,
					'click': ui.createHandlerFn(this, 'handleAdd'),
					'disabled': this.map.readonly || null
				}, [ title ]));

				return create;
			}

			var name = E('input', { 'type': 'text', 'class': 'cbi-section-create-name', 'disabled': this.map.readonly || null }),
			    button = E('button', {
					'class': 'cbi-button cbi-button-add',
					'title': title,
					'disabled': '',
					'click': ui.createHandlerFn(this, function(ev) {
						if (name.classList.contains('cbi-input-invalid'))
							return;
						return self.handleAdd(ev, name.value);
					})
				}, [ title ]);

			/* as LuCI's validator on the name: a uciname, not empty */
			var check = function() {
				var v = name.value, ok = /^[a-zA-Z0-9_]+$/.test(v);
				name.classList.toggle('cbi-input-invalid', v !== '' && !ok);
				button.disabled = (v === '' || !ok || self.map.readonly) ? true : null;
			};

			name.addEventListener('keyup', check);
			name.addEventListener('input', check);
			name.addEventListener('blur', check);

			create.appendChild(E('div', {}, [ name ]));
			create.appendChild(button);

			return create;
		},

		handleAdd: function(ev, name) {
			var data = this.map.data, type = this.sectiontype;

			return callUciAdd(this.map.config, type, name != null && name !== '' ? name : undefined).then(L.bind(function(res) {
				var sid = (res && res.section) || name;

				data[sid] = { '.anonymous': name == null, '.type': type, '.name': sid, '.index': Object.keys(data).length };

				return this.map.save(null, true);
			}, this));
		},

		handleRemove: function(section_id, ev) {
			return callUciDelete(this.map.config, section_id).then(L.bind(function() {
				delete this.map.data[section_id];

				return this.map.save(null, true);
			}, this));
		}
	});
}

function dynamicList(Base) {
	return Base.extend({
		__name__: 'CBI.DynamicList',

		renderWidget: function(section_id, value) {
			var self = this,
			    dl = Base.prototype.renderWidget.apply(this, arguments),
			    w = this.widgets[section_id];

			if (this.keylist.length && w && w.input) {
				var id = 'list.' + this.cbid(section_id);

				dl.appendChild(E('datalist', { 'id': id }, this.keylist.map(function(k, i) {
					return E('option', { 'value': k }, [ self.vallist[i] ]);
				})));
				w.input.setAttribute('list', id);
			}

			return dl;
		}
	});
}

return baseclass.extend({
	__name__: 'LuCI.form.sections',

	typedSection: typedSection,
	dynamicList: dynamicList,
	uciDelete: callUciDelete
});
