_('plain');
_('with ctx', 'Ctx');
_('ctx var', foo);
_('con' + 'cat' +
  'enated');
_(foo);
_('three', 'c2', 'c3');
N_(n, 'one file', '%d files');
N_(n, 'one ctx', '%d ctx', 'PCtx');
L._('member');
_ ('spaced');
_(_('nested'));
_(`tmpl`);
_(`tmpl ${x} sub`);
/* _('comment') */ // _('line comment')
x = /_\('regex'\)/;
_("dq \"esc\" \n nl \t tab \\ bs \u00e4 \x41");
_('multi\
line');
_(
  'late line'
);
_('a' + b);
_(b + 'a');
N_(n, 'nctx var', 'p', foo);
_('dup'); _('dup', 'C'); _('dup');
foo(_('arg'), 2);
_('spaces   inside  ');
_('');
E('div', {}, _('in E'));
_('x', 'ctx' + 'cat');
_("it's");
_('tab	raw');
N_(n, 'only singular');
_(fn('inner'));
_(c ? 'tern1' : 'tern2');
_({ a: 'obj' });
_(['arr']);
x = a / 2; _('after div'); y = b / 3;
_('a' + b + 'c');
_(b + 'a2' + 'c2');
_('tab	x\x07bell');
return /re'g/.test(s) && _('after regex');
_('é' + "ü");
`_('in template')`;
`${_('in subst')}`;
_('A long message that is wrapped by gettext because it does not fit on one line of the template (79 columns).');
_('Quotes "inside" and a backslash \\ in a message long enough to be wrapped at some place, maybe at the quote.');
_('   leading and trailing   ');
_('Tab\tand\nnewline   collapse');
_('Tab and newline collapse');
N_(n, '%d device', '%d devices');
N_(n, '%d device', '%d devices', 'Table');
_('Status', 'Menu');
var s = _('Same msgid') + _('Same msgid');
_('Sorting: Zebra'); _('Sorting: apple'); _('Sorting: Äpfel');
