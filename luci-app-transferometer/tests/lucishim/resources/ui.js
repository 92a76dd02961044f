'use strict';
'require baseclass';
'require view';
'require rpc';
'require dom';

/*
 * LuCI test shim: ui (NOT LuCI).  Only what the views use, with the markup LuCI makes:
 *  - showModal(title, children, ...classes) / hideModal(): #modal_overlay > .modal, shown
 *    by the body class modal-overlay-active;
 *  - addNotification(title, children, ...classes): .alert-message inserted at the top of
 *    #maincontent with a Dismiss button; returns the node;
 *  - createHandlerFn(ctx, fn, ...args): the handler marks the clicked button busy
 *    (spinning, disabled) until the promise fn returns settles;
 *  - instantiateView(path): requires view.<path> and checks it derives from view;
 *  - changes.apply(): the Save & Apply step, committing the staged uci changes.
 */

var modalDiv = null;

var callUciApply = rpc.declare({
	object: 'uci',
	method: 'apply',
	params: [ 'rollback', 'timeout' ],
	reject: true
});

return baseclass.extend({
	__name__: 'LuCI.ui',

	__init__: function() {
		modalDiv = document.body.appendChild(
			dom.create('div', { 'id': 'modal_overlay', 'tabindex': -1 }, [
				dom.create('div', { 'class': 'modal', 'role': 'dialog', 'aria-modal': 'true' })
			]));
	},

	showModal: function(title, children /*, ... */) {
		var dlg = modalDiv.firstElementChild;

		dlg.setAttribute('class', 'modal');

		for (var i = 2; i < arguments.length; i++)
			dlg.classList.add(arguments[i]);

		dom.content(dlg, dom.create('h4', {}, title));
		dom.append(dlg, children);

		document.body.classList.add('modal-overlay-active');
		modalDiv.scrollTop = 0;
		modalDiv.focus();

		return dlg;
	},

	hideModal: function() {
		document.body.classList.remove('modal-overlay-active');
		modalDiv.blur();
	},

	addNotification: function(title, children /*, ... */) {
		var mc = document.querySelector('#maincontent') || document.body;
		var msg = E('div', {
			'class': 'alert-message fade-in',
			'style': 'display:flex'
		}, [
			E('div', { 'style': 'flex:10' }),
			E('div', { 'style': 'flex:1 1 auto; display:flex' }, [
				E('button', {
					'class': 'btn',
					'style': 'margin-left:auto; margin-top:auto',
					'click': function(ev) {
						var n = dom.parent(ev.target, '.alert-message');
						if (n && n.parentNode)
							n.parentNode.removeChild(n);
					}
				}, [ _('Dismiss') ])
			])
		]);

		if (title != null)
			dom.append(msg.firstElementChild, E('h4', {}, title));

		dom.append(msg.firstElementChild, children);

		for (var i = 2; i < arguments.length; i++)
			msg.classList.add(arguments[i]);

		mc.insertBefore(msg, mc.firstElementChild);

		return msg;
	},

	createHandlerFn: function(ctx, fn /*, ... */) {
		if (typeof(fn) == 'string')
			fn = ctx[fn];

		if (typeof(fn) != 'function')
			return null;

		var arg_offset = arguments.length - 2;

		return Function.prototype.bind.apply(function() {
			var t = arguments[arg_offset].currentTarget;

			t.classList.add('spinning');
			t.disabled = true;

			if (t.blur)
				t.blur();

			Promise.resolve(fn.apply(ctx, arguments)).finally(function() {
				t.classList.remove('spinning');
				t.disabled = false;
			});
		}, this.varargs(arguments, 2, ctx));
	},

	instantiateView: function(path) {
		var className = 'view.%s'.format(path.replace(/\//g, '.'));

		return L.require(className).then(function(v) {
			if (!(v instanceof view))
				throw new TypeError('Loaded class %s is not a descendant of View'.format(className));
			return v;
		}).catch(function(err) {
			dom.content(document.querySelector('#view'), null);
			L.error(err);
		});
	},

	changes: {
		apply: function(checked) {
			L.ui.showModal(_('Configuration changes'), [
				E('p', { 'class': 'spinning' }, [ _('Applying configuration changes…') ])
			]);

			return callUciApply(false, 10).then(function() {
				window.setTimeout(function() { window.location.reload(); }, 300);
			}).catch(function(err) {
				L.ui.hideModal();
				L.ui.addNotification(null, E('p', [ _('Apply request failed: %s').format(err.message) ]), 'danger');
			});
		}
	}
});
