// Package uci reads and writes OpenWrt UCI configuration files
// (/etc/config/*) with the semantics of libuci in strict mode, the mode the
// `uci` command line tool, rpcd and LuCI use. It knows nothing about any
// particular configuration.
//
// Values decode exactly as libuci decodes them, including the idiom that
// embeds a single quote in a single-quoted value (close, escaped quote,
// reopen), which gives "it's" here:
//
//	option msg 'it'\''s'
//
// Behaviour mirrored from libuci (file.c, list.c, util.c):
//
//   - Statements: config, option, list, package (accepted, validated and
//     ignored, as uci_file_load does), and their one-letter abbreviations
//     c, o, l, p. A '#' outside quotes begins a comment, even inside a
//     word: `option a b#c` sets a to "b". ';' separates statements
//     (but a ';' straight after an unquoted word ends the line, because
//     libuci overwrites it in place).
//
//   - Values: bare words, single-quoted (no escapes, may span lines),
//     double-quoted (a backslash takes the next character literally, a
//     backslash before a newline joins lines); a backslash in a bare word
//     takes the next character literally; adjacent parts concatenate.
//
//   - An option with an empty value (or none) is ignored: it neither
//     creates nor deletes the option. A repeated option replaces the
//     earlier value in place; an option replaces a list of the same name;
//     a list after an option of the same name turns it into a list whose
//     first item is the option's value; an empty list item is kept.
//
//   - A named section whose name is already used continues that section
//     (options merge, later ones win); if its type differs it is a parse
//     error, as in strict mode. Anonymous sections get libuci's internal
//     name cfgNNhhhh, so a later `config TYPE 'cfgNNhhhh'` merges too.
//
//   - Section and option names are [A-Za-z0-9_]; types are any printable
//     ASCII without spaces.
//
// Deliberate differences: a file with a NUL byte or larger than MaxSize is
// rejected; an unterminated quote is reported at the line it opens on
// rather than at the end of the file; uncommitted changes (/tmp/.uci
// deltas) are not applied, so what is read is what was committed.
package uci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxSize is the largest file Parse accepts; real configuration files are a
// few KiB, so anything bigger is a mistake or an attack.
const MaxSize = 1 << 20

// ErrTooLarge is returned (wrapped) for input larger than MaxSize.
var ErrTooLarge = errors.New("uci: file larger than 1 MiB")

// File is a parsed configuration package.
type File struct {
	Sections []*Section // in file order
}

// Section is one `config` block.
type Section struct {
	Type string
	// Name is the section name; for an anonymous section Parse sets it to
	// the libuci reference "@TYPE[i]" (i counts every section of that type,
	// named ones too, as `uci show` does).
	Name      string
	Anonymous bool
	Options   []Option // in file order; each name at most once

	// id is libuci's name for the section: Name, or cfgNNhhhh for an
	// anonymous one. Lookups and same-name merging go through it.
	id string
}

// Option is one option or list.
type Option struct {
	Name   string
	Values []string // exactly one for an option; one or more for a list
	IsList bool
}

// ParseError reports a syntax error with the line it was found on.
type ParseError struct {
	File   string
	Line   int
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("uci: %s:%d: %s", e.File, e.Line, e.Reason)
}

// ParseFile reads and parses the file at path. A missing file gives an error
// that matches fs.ErrNotExist.
func ParseFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("uci: %w", err)
	}
	defer fh.Close()
	return Parse(path, fh)
}

// Parse parses a configuration file; name is used in error messages only.
func Parse(name string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("uci: read %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %s", ErrTooLarge, name)
	}
	return parse(name, data)
}

// Section returns the section with the given name, or nil. Besides plain
// names it accepts libuci's extended references "@TYPE[i]" ("@[i]" for any
// type, negative i counting from the end) and the internal cfgNNhhhh names
// of anonymous sections.
func (f *File) Section(name string) *Section {
	if strings.HasPrefix(name, "@") {
		return f.extSection(name)
	}
	for _, s := range f.Sections {
		if s.key() == name {
			return s
		}
	}
	return nil
}

// SectionsOfType returns the sections of type t in file order; index i of
// the result is the section "@t[i]".
func (f *File) SectionsOfType(t string) []*Section {
	var out []*Section
	for _, s := range f.Sections {
		if s.Type == t {
			out = append(out, s)
		}
	}
	return out
}

// Get returns the option with the given name.
func (s *Section) Get(name string) (Option, bool) {
	for _, o := range s.Options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

func (s *Section) key() string {
	if s.id != "" {
		return s.id
	}
	if s.Anonymous {
		return ""
	}
	return s.Name
}

// extSection resolves "@TYPE[i]" like uci_lookup_ext_section.
func (f *File) extSection(ref string) *Section {
	open := strings.IndexByte(ref, '[')
	if open < 0 || !strings.HasSuffix(ref, "]") {
		return nil
	}
	typ := ref[1:open]
	if typ != "" && !validType(typ) {
		return nil
	}
	idx, err := strconv.Atoi(ref[open+1 : len(ref)-1])
	if err != nil {
		return nil
	}
	var match []*Section
	for _, s := range f.Sections {
		if typ == "" || s.Type == typ {
			match = append(match, s)
		}
	}
	if idx < 0 {
		idx += len(match)
	}
	if idx < 0 || idx >= len(match) {
		return nil
	}
	return match[idx]
}

// validName mirrors uci_validate_name: section and option names.
func validName(s string) bool { return validateStr(s, true, false) }

// validType mirrors uci_validate_type: section types.
func validType(s string) bool { return validateStr(s, false, false) }

// validateStr is uci_validate_str: alphanumerics and '_' always, '-' in
// package names, and for types any other printable ASCII but space.
func validateStr(s string, name, pkg bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c) || c == '_':
		case c == '-' && pkg:
		case name || c < 33 || c > 126:
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
