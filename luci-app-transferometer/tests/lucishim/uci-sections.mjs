// The test shim's `uci` object, sections as a whole (NOT rpcd): `add` (a new section, named or
// anonymous, with optional values) and `delete` without an option (the whole section), staged with
// the other changes until commit/apply, as rpcd's session delta holds them. Enough for a
// form.TypedSection with addremove (the Quotas page) to add and delete `config quota` sections.
//
// server.mjs hands every uci call to sectionCall first (it answers only these two); uci.mjs's
// applyChanges hands every staged change to applySectionChange first.

const OK = 0, INVALID_ARGUMENT = 2, NOT_FOUND = 4;

// uci's rule for section and type names.
const UCI_NAME = /^[A-Za-z0-9_]+$/;

// -> { result } for `add` and a whole-section `delete`, null for every other call.
// ctx: server.mjs's loadConfig(config) (the file's sections, or null), its staged changes
// (config -> [change]) and the uci.mjs module.
export function sectionCall(method, args, { loadConfig, staged, uci }) {
	const config = args && args.config;
	const wholeSection = method === 'delete' && args && args.section != null && args.option == null && args.options == null;
	if (method !== 'add' && !wholeSection) return null;

	const base = loadConfig(config);
	if (!base) return { result: [ NOT_FOUND ] };
	const now = uci.applyChanges(base, staged.get(config) || []);
	const list = staged.get(config) || [];

	if (wholeSection) {
		if (!now.some(s => s.name === args.section)) return { result: [ NOT_FOUND ] };
		list.push([ 'remove', String(args.section) ]);
		staged.set(config, list);
		return { result: [ OK ] };
	}

	const type = args.type, values = args.values || {};
	if (typeof type !== 'string' || !UCI_NAME.test(type)) return { result: [ INVALID_ARGUMENT ] };
	if (typeof values !== 'object' || Array.isArray(values) || !Object.keys(values).every(k => UCI_NAME.test(k)))
		return { result: [ INVALID_ARGUMENT ] };
	let name = args.name;
	if (name == null) {
		// an anonymous section gets a name of its own, as libuci's cfgXXXXXX
		let n = now.length;
		do name = 'cfg' + (n++).toString(16).padStart(6, '0'); while (now.some(s => s.name === name));
	}
	else if (typeof name !== 'string' || !UCI_NAME.test(name) || now.some(s => s.name === name)) {
		return { result: [ INVALID_ARGUMENT ] };
	}
	list.push([ 'add', name, type, { anonymous: args.name == null, values } ]);
	staged.set(config, list);
	return { result: [ OK, { section: name } ] };
}

// Applies ['add', name, type, { anonymous, values }] or ['remove', name] to sections (in place);
// false for any other change.
export function applySectionChange(sections, change) {
	const [ op, sid, type, extra ] = change;
	if (op === 'add') {
		if (!sections.some(s => s.name === sid)) {
			const options = new Map();
			for (const [ k, v ] of Object.entries((extra && extra.values) || {}))
				options.set(k, Array.isArray(v) ? v.map(String) : String(v));
			sections.push({ type, name: sid, anonymous: !!(extra && extra.anonymous), options });
		}
		return true;
	}
	if (op === 'remove') {
		const i = sections.findIndex(s => s.name === sid);
		if (i >= 0) sections.splice(i, 1);
		return true;
	}
	return false;
}
