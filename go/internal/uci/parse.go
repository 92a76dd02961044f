package uci

import (
	"bytes"
	"fmt"
)

// parser is a port of libuci's file parser (file.c: uci_getln, parse_str,
// next_arg, uci_parse_line and friends). It keeps libuci's design of one
// line buffer that is decoded in place, because several edge cases (';'
// after a bare word, '#' inside a word, backslash-newline) only come out
// the same when the same bytes are overwritten in the same order.
type parser struct {
	name string
	src  []byte // input not yet read into buf
	buf  []byte // the current line(s); positions at or past len(buf) read as NUL
	pos  int
	line int

	file     *File
	cur      *Section
	byID     map[string]*Section // first section with each libuci name
	opts     map[*Section]map[string]int
	nSection int // libuci's package->n_section
}

func parse(name string, data []byte) (*File, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		// libuci's C strings would silently cut the line here; refuse instead.
		return nil, &ParseError{File: name, Line: bytes.Count(data[:i], []byte{'\n'}) + 1, Reason: "NUL byte in file"}
	}
	p := &parser{name: name, src: data, file: &File{}, byID: map[string]*Section{}, opts: map[*Section]map[string]int{}}
	// uci_import: one statement line at a time; a quoted value or a
	// backslash-newline may pull further lines into buf.
	for {
		p.pos = 0
		if !p.getln(0) {
			break
		}
		if err := p.parseLine(); err != nil {
			return nil, err
		}
	}
	// Give anonymous sections the references `uci show` prints.
	count := map[string]int{}
	for _, s := range p.file.Sections {
		if s.Anonymous {
			s.Name = fmt.Sprintf("@%s[%d]", s.Type, count[s.Type])
		}
		count[s.Type]++
	}
	return p.file, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return p.errorAt(p.line, format, args...)
}

func (p *parser) errorAt(line int, format string, args ...any) error {
	return &ParseError{File: p.name, Line: line, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) char(i int) byte {
	if i < len(p.buf) {
		return p.buf[i]
	}
	return 0
}

func (p *parser) setNUL(i int) {
	if i < len(p.buf) {
		p.buf[i] = 0
	}
}

// strlen is C's strlen of the string starting at i.
func (p *parser) strlen(i int) int {
	n := 0
	for p.char(i+n) != 0 {
		n++
	}
	return n
}

func (p *parser) cstr(i int) string {
	return string(p.buf[i : i+p.strlen(i)])
}

// getln replaces everything from offset on with the next input line
// (newline included), like uci_getln. It reports whether a line was read.
func (p *parser) getln(offset int) bool {
	p.buf = p.buf[:offset]
	if len(p.src) == 0 {
		return false
	}
	n := bytes.IndexByte(p.src, '\n') + 1
	if n == 0 {
		n = len(p.src)
	}
	p.buf = append(p.buf, p.src[:n]...)
	p.src = p.src[n:]
	p.line++
	return true
}

// isSpace is isspace() in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func (p *parser) skipWhitespace() {
	for c := p.char(p.pos); c != 0 && isSpace(c); c = p.char(p.pos) {
		p.pos++
	}
}

// strtok is strtok(cur_str, " \t"): it finds the next word, NUL-terminates
// it in place and leaves pos alone.
func (p *parser) strtok() (start, end int, ok bool) {
	i := p.pos
	for c := p.char(i); c == ' ' || c == '\t'; c = p.char(i) {
		i++
	}
	if p.char(i) == 0 {
		return 0, 0, false
	}
	start = i
	for c := p.char(i); c != 0 && c != ' ' && c != '\t'; c = p.char(i) {
		i++
	}
	p.setNUL(i)
	return start, i, true
}

// skipCommand moves past the command word strtok terminated, failing like
// uci_increase_pos when the word ended the buffer (no arguments follow).
func (p *parser) skipCommand() bool {
	n := p.strlen(p.pos) + 1
	if p.pos+n > len(p.buf) {
		return false
	}
	p.pos += n
	return true
}

// parseLine is uci_parse_line: statements separated by ';' until the
// buffer is used up.
func (p *parser) parseLine() error {
	p.skipWhitespace()
	for {
		start, end, ok := p.strtok()
		if !ok {
			return nil
		}
		word := string(p.buf[start:end])
		var err error
		switch {
		case word[0] == '#':
			return nil
		case word == "p" || word == "package":
			err = p.parsePackage()
		case word == "c" || word == "config":
			err = p.parseConfig()
		case word == "o" || word == "option":
			err = p.parseOption(false)
		case word == "l" || word == "list":
			err = p.parseOption(true)
		default:
			err = p.errorf("invalid command %s", quoteShort(word))
		}
		if err != nil {
			return err
		}
	}
}

// parsePackage accepts `package NAME` and ignores it, as uci_file_load does
// (the file's own name is the package).
func (p *parser) parsePackage() error {
	if !p.skipCommand() {
		return p.errorf("package without name")
	}
	if _, err := p.nextArg(true, true, true); err != nil {
		return err
	}
	return p.assertEOL()
}

// parseConfig is uci_parse_config.
func (p *parser) parseConfig() error {
	if !p.skipCommand() {
		return p.errorf("config without type")
	}
	t, err := p.nextArg(true, false, false)
	if err != nil {
		return err
	}
	if typ := p.cstr(t); !validType(typ) {
		return p.errorf("invalid character in type field %s", quoteShort(typ))
	}
	n, err := p.nextArg(false, true, false)
	if err != nil {
		return err
	}
	if err := p.assertEOL(); err != nil {
		return err
	}
	typ, name := p.cstr(t), p.cstr(n)

	if name == "" {
		p.cur = p.newSection(typ, "")
		return nil
	}
	if s := p.byID[name]; s != nil {
		// uci_set on an existing section: same type continues it; strict
		// mode refuses a type change.
		if s.Type != typ {
			return p.errorf("section %s of type %s redefined with different type %s", quoteShort(name), quoteShort(s.Type), quoteShort(typ))
		}
		p.cur = s
		return nil
	}
	p.cur = p.newSection(typ, name)
	return nil
}

// newSection is uci_alloc_section plus, for anonymous sections,
// uci_fixup_section's name: "cfg" + section count + hash of the type.
func (p *parser) newSection(typ, name string) *Section {
	p.nSection++
	s := &Section{Type: typ, Name: name, Anonymous: name == "", id: name}
	if s.Anonymous {
		s.id = fmt.Sprintf("cfg%02x%04x", p.nSection, djbhash(typ)&0xffff)
	}
	if _, dup := p.byID[s.id]; !dup {
		p.byID[s.id] = s
	}
	p.file.Sections = append(p.file.Sections, s)
	return s
}

// djbhash is list.c's djbhash for a single string from the initial state.
func djbhash(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h<<5 + h + uint32(s[i])
	}
	return h & 0x7fffffff
}

// parseOption is uci_parse_option followed by uci_set or uci_add_list.
func (p *parser) parseOption(list bool) error {
	cmd := "option"
	if list {
		cmd = "list"
	}
	if p.cur == nil {
		return p.errorf("%s before the first config section", cmd)
	}
	if !p.skipCommand() {
		return p.errorf("%s without name", cmd)
	}
	n, err := p.nextArg(true, true, false)
	if err != nil {
		return err
	}
	v, err := p.nextArg(false, false, false)
	if err != nil {
		return err
	}
	if err := p.assertEOL(); err != nil {
		return err
	}
	name, value := p.cstr(n), p.cstr(v)
	if list {
		p.addList(name, value)
	} else {
		p.set(name, value)
	}
	return nil
}

// set is uci_set on an option as the parser calls it: an empty value is a
// no-op (the lookup is not "complete", so nothing is deleted), otherwise
// the option is created or replaced where it stands.
func (p *parser) set(name, value string) {
	if value == "" {
		return
	}
	o := Option{Name: name, Values: []string{value}}
	if i, ok := p.optIndex(name); ok {
		p.cur.Options[i] = o
		return
	}
	p.addOption(o)
}

// addList is uci_add_list: an existing option becomes a list holding its
// old value followed by the new one, in the option's position.
func (p *parser) addList(name, value string) {
	i, ok := p.optIndex(name)
	if !ok {
		p.addOption(Option{Name: name, Values: []string{value}, IsList: true})
		return
	}
	o := &p.cur.Options[i]
	if !o.IsList {
		o.Values = []string{o.Values[0], value}
		o.IsList = true
		return
	}
	o.Values = append(o.Values, value)
}

// optIndex finds an option of the current section through a map, so a
// section with many options does not make parsing quadratic.
func (p *parser) optIndex(name string) (int, bool) {
	i, ok := p.opts[p.cur][name]
	return i, ok
}

func (p *parser) addOption(o Option) {
	idx := p.opts[p.cur]
	if idx == nil {
		idx = map[string]int{}
		p.opts[p.cur] = idx
	}
	idx[o.Name] = len(p.cur.Options)
	p.cur.Options = append(p.cur.Options, o)
}

// nextArg is next_arg: skip whitespace, take one argument (or an empty one
// at ';'), and return its offset in buf.
func (p *parser) nextArg(required, name, pkg bool) (int, error) {
	p.skipWhitespace()
	val := p.pos
	if p.char(p.pos) == ';' {
		p.setNUL(p.pos)
		p.pos++
	} else {
		target := val
		if err := p.parseStr(&target); err != nil {
			return 0, err
		}
	}
	if p.char(val) == 0 {
		if required {
			return 0, p.errorf("insufficient arguments")
		}
		return val, nil
	}
	if name && !validateStr(p.cstr(val), true, pkg) {
		return 0, p.errorf("invalid character in name field %s", quoteShort(p.cstr(val)))
	}
	return val, nil
}

// assertEOL fails if another argument follows (strict mode).
func (p *parser) assertEOL() error {
	p.skipWhitespace()
	v, err := p.nextArg(false, false, false)
	if err != nil {
		return err
	}
	if p.char(v) != 0 {
		return p.errorf("too many arguments (unexpected %s)", quoteShort(p.cstr(v)))
	}
	return nil
}

// parseStr is parse_str: decode one word made of bare, single-quoted and
// double-quoted parts into buf at *target.
func (p *parser) parseStr(target *int) error {
	next := true
loop:
	for {
		switch p.char(p.pos) {
		case '\'':
			if err := p.parseSingleQuote(target); err != nil {
				return err
			}
		case '"':
			if err := p.parseDoubleQuote(target); err != nil {
				return err
			}
		case '#':
			p.setNUL(p.pos)
			break loop
		case 0:
			break loop
		case ';':
			next = false
			break loop
		case '\\':
			if p.parseBackslash() {
				p.addc(target)
			}
		default:
			p.addc(target)
		}
		if c := p.char(p.pos); c == 0 || isSpace(c) {
			break
		}
	}
	// Step over the whitespace that ended an unquoted word, as libuci does.
	if p.char(p.pos) != 0 && next {
		p.pos++
	}
	p.setNUL(*target)
	return nil
}

func (p *parser) addc(target *int) {
	p.buf[*target] = p.buf[p.pos]
	*target++
	p.pos++
}

// parseBackslash skips a backslash. It reports whether the next character
// is to be taken literally; at the end of a line it instead joins the next
// line (the newline is dropped).
func (p *parser) parseBackslash() bool {
	p.pos++
	c := p.char(p.pos)
	if c == 0 || c == '\n' || (c == '\r' && p.char(p.pos+1) == '\n' && p.char(p.pos+2) == 0) {
		p.getln(p.pos)
		return false
	}
	return true
}

func (p *parser) parseDoubleQuote(target *int) error {
	open := p.line
	p.pos++
	for {
		switch p.char(p.pos) {
		case '"':
			p.pos++
			return nil
		case 0:
			// The value continues on the next line, newline included.
			p.getln(p.pos)
			if p.char(p.pos) == 0 {
				return p.errorAt(open, "unterminated double quote")
			}
		case '\\':
			if p.parseBackslash() {
				p.addc(target)
			}
		default:
			p.addc(target)
		}
	}
}

func (p *parser) parseSingleQuote(target *int) error {
	open := p.line
	p.pos++
	for {
		switch p.char(p.pos) {
		case '\'':
			p.pos++
			return nil
		case 0:
			p.getln(p.pos)
			if p.char(p.pos) == 0 {
				return p.errorAt(open, "unterminated single quote")
			}
		default:
			p.addc(target)
		}
	}
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
