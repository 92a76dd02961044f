package uci

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteTo writes f in the layout `uci commit` produces (uci_export), so
// that parsing the output gives back the same File. It refuses a File that
// could not be read back the same: invalid names or types, an option
// without exactly one non-empty value (libuci drops empty options), an
// empty list, or a NUL byte anywhere.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for i, s := range f.Sections {
		if !validType(s.Type) {
			return 0, fmt.Errorf("uci: section %d: invalid type %q", i, s.Type)
		}
		if !s.Anonymous && !validName(s.Name) {
			return 0, fmt.Errorf("uci: section %d: invalid name %q", i, s.Name)
		}
		b.WriteString("\nconfig ")
		// Types may contain quote, comment and escape characters; libuci
		// writes them bare and cannot read them back, so quote those.
		if strings.ContainsAny(s.Type, `'"\#;`) {
			b.WriteString(quote(s.Type))
		} else {
			b.WriteString(s.Type)
		}
		if !s.Anonymous {
			b.WriteString(" " + quote(s.Name))
		}
		b.WriteByte('\n')
		for _, o := range s.Options {
			if err := checkOption(o); err != nil {
				return 0, fmt.Errorf("uci: section %q: %w", s.Name, err)
			}
			cmd := "\toption "
			if o.IsList {
				cmd = "\tlist "
			}
			for _, v := range o.Values {
				b.WriteString(cmd + o.Name + " " + quote(v) + "\n")
			}
		}
	}
	b.WriteByte('\n')
	n, err := w.Write(b.Bytes())
	if err != nil {
		return int64(n), fmt.Errorf("uci: write: %w", err)
	}
	return int64(n), nil
}

func checkOption(o Option) error {
	if !validName(o.Name) {
		return fmt.Errorf("invalid option name %q", o.Name)
	}
	if o.IsList && len(o.Values) == 0 {
		return fmt.Errorf("list %s has no values", o.Name)
	}
	if !o.IsList && (len(o.Values) != 1 || o.Values[0] == "") {
		return fmt.Errorf("option %s needs exactly one non-empty value", o.Name)
	}
	for _, v := range o.Values {
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("option %s: value contains a NUL byte", o.Name)
		}
	}
	return nil
}

// quote single-quotes s, ending the quote around each embedded single quote
// and escaping it with a backslash, as uci_escape does. Inside single
// quotes nothing else is special.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
