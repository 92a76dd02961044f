package uci

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Shorthands for expected values, all written by hand from libuci's rules.
func opt(name, value string) Option { return Option{Name: name, Values: []string{value}} }
func lst(name string, values ...string) Option {
	return Option{Name: name, Values: values, IsList: true}
}
func named(typ, name string, opts ...Option) Section {
	return Section{Type: typ, Name: name, Options: opts}
}
func anon(typ, ref string, opts ...Option) Section {
	return Section{Type: typ, Name: ref, Anonymous: true, Options: opts}
}

// exported copies the sections without the unexported libuci id.
func exported(f *File) []Section {
	var out []Section
	for _, s := range f.Sections {
		c := *s
		c.id = ""
		out = append(out, c)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Section
	}{
		{"empty file", "", nil},
		{"blank and comment lines only", "\n\n# just a comment\n   \t\n  # indented\n", nil},
		{
			"options lists and quoting styles",
			"config interface 'lan'\n\toption proto 'static'\n\toption ipaddr 192.168.1.1\n\toption netmask \"255.255.255.0\"\n\tlist dns '1.1.1.1'\n\tlist dns 8.8.8.8\n",
			[]Section{named("interface", "lan",
				opt("proto", "static"), opt("ipaddr", "192.168.1.1"), opt("netmask", "255.255.255.0"),
				lst("dns", "1.1.1.1", "8.8.8.8"))},
		},
		{"unquoted section name", "config interface lan\n", []Section{named("interface", "lan")}},
		{"double quoted section name", "config interface \"lan\"\n", []Section{named("interface", "lan")}},
		{"empty section", "config foo 'bar'\n\nconfig foo 'baz'\n", []Section{named("foo", "bar"), named("foo", "baz")}},
		{"tabs and spaces everywhere", "  config\tfoo\t 'bar'  \n \t option  \t a\t\t'b'\t \n", []Section{named("foo", "bar", opt("a", "b"))}},
		{"embedded single quote", "config a 'b'\n\toption msg 'it'\\''s'\n", []Section{named("a", "b", opt("msg", "it's"))}},
		{"concatenated parts", "config a 'b'\n\toption v 'x'\"y\"z'w'\n", []Section{named("a", "b", opt("v", "xyzw"))}},
		{"double quote escapes", "config a 'b'\n\toption v \"say \\\"hi\\\" \\\\ \\$x \\n\"\n", []Section{named("a", "b", opt("v", `say "hi" \ $x n`))}},
		{"single quotes keep backslashes", "config a 'b'\n\toption v 'a\\nb\\\\'\n", []Section{named("a", "b", opt("v", `a\nb\\`))}},
		{"backslash in a bare word", "config a 'b'\n\toption v foo\\ bar\\'s\\\\\n", []Section{named("a", "b", opt("v", `foo bar's\`))}},
		{"hash inside quotes is data", "config a 'b'\n\toption v 'x#y' # trailing comment\n", []Section{named("a", "b", opt("v", "x#y"))}},
		{"hash starts a comment inside a bare word", "config a 'b'\n\toption v x#y z\n", []Section{named("a", "b", opt("v", "x"))}},
		{"comment after a statement", "config a 'b' # the b section\n\toption v 1 # one\n", []Section{named("a", "b", opt("v", "1"))}},
		{"comment in place of the value leaves the option unset", "config a 'b'\n\toption v # nothing\n", []Section{named("a", "b")}},
		{"empty option value is ignored", "config a 'b'\n\toption v ''\n\toption w\n", []Section{named("a", "b")}},
		{"empty option value does not delete", "config a 'b'\n\toption v 1\n\toption v ''\n", []Section{named("a", "b", opt("v", "1"))}},
		{"empty list item is kept", "config a 'b'\n\tlist v ''\n\tlist v x\n", []Section{named("a", "b", lst("v", "", "x"))}},
		{"repeated option overrides in place", "config a 'b'\n\toption v 1\n\toption w 2\n\toption v 3\n", []Section{named("a", "b", opt("v", "3"), opt("w", "2"))}},
		{"option replaces a list", "config a 'b'\n\tlist v 1\n\tlist v 2\n\toption v 3\n", []Section{named("a", "b", opt("v", "3"))}},
		{"list after option keeps the option value first", "config a 'b'\n\toption v 1\n\toption w 2\n\tlist v 3\n", []Section{named("a", "b", lst("v", "1", "3"), opt("w", "2"))}},
		{
			"same name merges and later options win",
			"config a 'x'\n\toption p 1\n\toption q 2\nconfig b 'y'\n\toption p 9\nconfig a 'x'\n\toption p 3\n\toption r 4\n",
			[]Section{named("a", "x", opt("p", "3"), opt("q", "2"), opt("r", "4")), named("b", "y", opt("p", "9"))},
		},
		{
			"anonymous sections are numbered per type, named ones counted",
			"config rule\n\toption name r0\nconfig zone 'lan'\nconfig rule\n\toption name r1\nconfig zone\nconfig zone ''\n",
			[]Section{
				anon("rule", "@rule[0]", opt("name", "r0")), named("zone", "lan"),
				anon("rule", "@rule[1]", opt("name", "r1")), anon("zone", "@zone[1]"), anon("zone", "@zone[2]"),
			},
		},
		{
			// uci_fixup_section names the first section of type "a"
			// cfg01b606: 5381*33+'a' = 0x2b606, low 16 bits.
			"named section can continue an anonymous one by its internal name",
			"config a\n\toption x 1\nconfig a 'cfg01b606'\n\toption y 2\n",
			[]Section{anon("a", "@a[0]", opt("x", "1"), opt("y", "2"))},
		},
		{
			"multi-line single quoted value",
			"config a 'b'\n\toption v 'line1\n  line2'\n\toption w 2\n",
			[]Section{named("a", "b", opt("v", "line1\n  line2"), opt("w", "2"))},
		},
		{"multi-line double quoted value", "config a 'b'\n\toption v \"x\ny\"\n", []Section{named("a", "b", opt("v", "x\ny"))}},
		{"backslash-newline joins lines in double quotes", "config a 'b'\n\toption v \"x\\\ny\"\n", []Section{named("a", "b", opt("v", "xy"))}},
		{"backslash-newline joins lines in a bare word", "config a 'b'\n\toption v x\\\ny\n", []Section{named("a", "b", opt("v", "xy"))}},
		{"backslash at end of file is dropped", "config a 'b'\n\toption v x\\", []Section{named("a", "b", opt("v", "x"))}},
		{"CRLF line endings", "config a 'b'\r\n\toption v 'c'\r\n\toption w d\r\n", []Section{named("a", "b", opt("v", "c"), opt("w", "d"))}},
		{"no newline at end of file", "config a 'b'\n\toption v 'c'", []Section{named("a", "b", opt("v", "c"))}},
		{"one-letter commands", "c a 'b'\no v 1\nl w 2\n", []Section{named("a", "b", opt("v", "1"), lst("w", "2"))}},
		{"package line is accepted and ignored", "package network\n\nconfig a 'b'\n", []Section{named("a", "b")}},
		{"types allow punctuation", "config 'my-type.x' 'b'\n", []Section{named("my-type.x", "b")}},
		{"semicolon after a quoted value separates statements", "config a 'b'; option v 'c'; list w 'd'\n", []Section{named("a", "b", opt("v", "c"), lst("w", "d"))}},
		{"semicolon after a spaced bare word separates statements", "config a 'b'\n\toption v c ; option w d\n", []Section{named("a", "b", opt("v", "c"), opt("w", "d"))}},
		// libuci overwrites the ';' that ends an unquoted word in place,
		// which ends the line: the second statement is silently lost.
		{"semicolon right after a bare word ends the line", "config a 'b'\n\toption v c; option w d\n", []Section{named("a", "b", opt("v", "c"))}},
		{"extra empty argument is allowed", "config a 'b'\n\toption v c ''\n", []Section{named("a", "b", opt("v", "c"))}},
		{"vertical tab and form feed are whitespace between arguments", "config a 'b'\n\toption v\v\fc\n", []Section{named("a", "b", opt("v", "c"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("test", strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := exported(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got  %#v\n want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		line   int
		reason string // substring of the reason
	}{
		{"unknown command", "config a 'b'\n\n\tbogus x\n", 3, `invalid command "bogus"`},
		{"option before any section", "# header\noption a b\n", 2, "option before the first config section"},
		{"list before any section", "list a b\n", 1, "list before the first config section"},
		{"unterminated single quote reports the opening line", "config a 'b'\n\toption v 'oops\n\toption w x\n\n", 2, "unterminated single quote"},
		{"unterminated double quote", "config a 'b'\n\toption v \"oops\n", 2, "unterminated double quote"},
		{"backslash at end of file inside double quotes", "config a 'b'\n\toption v \"x\\", 2, "unterminated double quote"},
		{"invalid section name", "config a 'b-c'\n", 1, `invalid character in name field "b-c"`},
		{"invalid option name", "config a 'b'\n\toption foo-bar x\n", 2, `invalid character in name field "foo-bar"`},
		{"option name with a dot", "config a 'b'\n\toption a.b x\n", 2, "invalid character in name field"},
		{"type with a space", "config 'a b' c\n", 1, `invalid character in type field "a b"`},
		{"too many arguments to config", "config a b c\n", 1, `too many arguments (unexpected "c")`},
		{"too many arguments to option", "config a 'b'\n\toption v 1 2\n", 2, "too many arguments"},
		{"unquoted value with a space", "config a 'b'\n\toption v hello world\n", 2, "too many arguments"},
		{"same name with a different type", "config a 'x'\nconfig b 'x'\n", 2, `section "x" of type "a" redefined with different type "b"`},
		{"config with an empty type", "config ''\n", 1, "insufficient arguments"},
		{"config alone at end of file", "config", 1, "config without type"},
		{"config alone on a line", "config a 'b'\nconfig\n", 2, "invalid command"},
		{"option without a name", "config a 'b'\n\toption \n", 2, "insufficient arguments"},
		{"option alone at end of file", "config a 'b'\n\toption", 2, "option without name"},
		{"package with an invalid name", "package 'a.b'\n", 1, "invalid character in name field"},
		{"line counted after a multi-line value", "config a 'b'\n\toption v 'l1\nl2'\n\toption w x y\n", 4, "too many arguments"},
		{"NUL byte", "config a 'b'\n\toption v 'x\x00'\n", 2, "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/config/x", strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, want a *ParseError", tt.in, err)
			}
			if pe.File != "/etc/config/x" || pe.Line != tt.line || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Parse(%q) = %q, want line %d and reason containing %q", tt.in, err, tt.line, tt.reason)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	in := strings.Repeat("\n", 6) + "config a 'b\n"
	_, err := Parse("/etc/config/x", strings.NewReader(in))
	const want = "uci: /etc/config/x:7: unterminated single quote"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseTooLarge(t *testing.T) {
	ok := "config a 'b'\n" + strings.Repeat("#", MaxSize-len("config a 'b'\n"))
	if _, err := Parse("big", strings.NewReader(ok)); err != nil {
		t.Fatalf("file of exactly MaxSize: %v", err)
	}
	_, err := Parse("big", strings.NewReader(ok+"\n"))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("file of MaxSize+1: got %v, want ErrTooLarge", err)
	}
}

func TestParseFile(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
}

func TestLookup(t *testing.T) {
	in := "config rule\n\toption n 0\nconfig zone 'lan'\n\toption n 1\nconfig rule\n\toption n 2\nconfig zone\n\toption n 3\n"
	f, err := Parse("t", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	n := func(s *Section) string {
		if s == nil {
			return "<nil>"
		}
		o, _ := s.Get("n")
		return o.Values[0]
	}
	for ref, want := range map[string]string{
		"lan":       "1",
		"@rule[0]":  "0",
		"@rule[1]":  "2",
		"@rule[-1]": "2",
		"@rule[-2]": "0",
		"@zone[0]":  "1", // the named section counts
		"@zone[1]":  "3",
		"@[2]":      "2", // any type
		"@[-1]":     "3",
		"cfg0192bd": "0", // libuci's internal name: djbhash("rule") = 0x7c9d92bd
		"@rule[2]":  "<nil>",
		"@rule[-3]": "<nil>",
		"@rule[x]":  "<nil>",
		"@rule":     "<nil>",
		"nope":      "<nil>",
		"":          "<nil>",
	} {
		if got := n(f.Section(ref)); got != want {
			t.Errorf("Section(%q) has n=%s, want %s", ref, got, want)
		}
	}
	if got := len(f.SectionsOfType("rule")); got != 2 {
		t.Errorf("SectionsOfType(rule): %d sections, want 2", got)
	}
	if got := len(f.SectionsOfType("none")); got != 0 {
		t.Errorf("SectionsOfType(none): %d sections, want 0", got)
	}
	if _, ok := f.Section("lan").Get("missing"); ok {
		t.Error("Get(missing) reported ok")
	}
}

func TestFixtureNetwork(t *testing.T) {
	f, err := ParseFile("testdata/network")
	if err != nil {
		t.Fatal(err)
	}
	want := []Section{
		named("interface", "loopback", opt("device", "lo"), opt("proto", "static"), opt("ipaddr", "127.0.0.1"), opt("netmask", "255.0.0.0")),
		named("globals", "globals", opt("ula_prefix", "fd1c:5b3a:9e47::/48")),
		anon("device", "@device[0]", opt("name", "br-lan"), opt("type", "bridge"), lst("ports", "lan1", "lan2", "lan3", "lan4")),
		named("interface", "lan", opt("device", "br-lan"), opt("proto", "static"), opt("ipaddr", "192.168.1.1"), opt("netmask", "255.255.255.0"), opt("ip6assign", "60")),
		named("interface", "wan", opt("device", "wan"), opt("proto", "dhcp")),
		named("interface", "wan6", opt("device", "wan"), opt("proto", "dhcpv6")),
	}
	if got := exported(f); !reflect.DeepEqual(got, want) {
		t.Errorf("network fixture\n got  %#v\n want %#v", got, want)
	}
}

func TestFixtureFirewall(t *testing.T) {
	f, err := ParseFile("testdata/firewall")
	if err != nil {
		t.Fatal(err)
	}
	get := func(ref, name string) Option {
		t.Helper()
		s := f.Section(ref)
		if s == nil {
			t.Fatalf("no section %s", ref)
		}
		o, _ := s.Get(name)
		return o
	}
	checks := []struct {
		ref, name string
		want      Option
	}{
		{"@defaults[0]", "syn_flood", opt("syn_flood", "1")},
		{"@defaults[0]", "forward", opt("forward", "REJECT")},
		{"@defaults[0]", "disable_ipv6", Option{}}, // commented out
		{"@zone[0]", "network", lst("network", "lan")},
		{"@zone[1]", "network", lst("network", "wan", "wan6")},
		{"@zone[1]", "masq", opt("masq", "1")},
		{"@forwarding[0]", "dest", opt("dest", "wan")},
		{"@rule[4]", "icmp_type", lst("icmp_type", "130/0", "131/0", "132/0", "143/0")},
		{"@rule[4]", "src_ip", opt("src_ip", "fe80::/10")},
		{"@rule[6]", "dest", opt("dest", "*")},
		{"@rule[6]", "limit", opt("limit", "1000/sec")},
		{"@rule[-1]", "name", opt("name", "Allow-ISAKMP")},
	}
	for _, c := range checks {
		if got := get(c.ref, c.name); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s.%s = %#v, want %#v", c.ref, c.name, got, c.want)
		}
	}
	if n := len(f.Sections); n != 13 {
		t.Errorf("%d sections, want 13 (defaults, 2 zones, forwarding, 9 rules)", n)
	}
	if n := len(f.SectionsOfType("rule")); n != 9 {
		t.Errorf("%d rules, want 9", n)
	}
	if n := len(get("@rule[5]", "icmp_type").Values); n != 11 {
		t.Errorf("Allow-ICMPv6-Input has %d icmp types, want 11", n)
	}
}

func TestWriteTo(t *testing.T) {
	f := &File{Sections: []*Section{
		{Type: "interface", Name: "lan", Options: []Option{opt("proto", "static"), lst("dns", "1.1.1.1", "8.8.8.8")}},
		{Type: "rule", Anonymous: true, Options: []Option{opt("name", "it's"), opt("multi", "a\nb")}},
		{Type: "odd'type", Name: "x"},
	}}
	const want = "\nconfig interface 'lan'\n\toption proto 'static'\n\tlist dns '1.1.1.1'\n\tlist dns '8.8.8.8'\n" +
		"\nconfig rule\n\toption name 'it'\\''s'\n\toption multi 'a\nb'\n" +
		"\nconfig 'odd'\\''type' 'x'\n\n"
	var b bytes.Buffer
	n, err := f.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != want || n != int64(len(want)) {
		t.Errorf("WriteTo wrote %d bytes\n%q\nwant\n%q", n, b.String(), want)
	}
	back, err := Parse("back", &b)
	if err != nil {
		t.Fatal(err)
	}
	wantBack := []Section{
		named("interface", "lan", opt("proto", "static"), lst("dns", "1.1.1.1", "8.8.8.8")),
		anon("rule", "@rule[0]", opt("name", "it's"), opt("multi", "a\nb")),
		named("odd'type", "x"),
	}
	if got := exported(back); !reflect.DeepEqual(got, wantBack) {
		t.Errorf("re-parsed\n got  %#v\n want %#v", got, wantBack)
	}
}

func TestWriteToRejects(t *testing.T) {
	for name, s := range map[string]*Section{
		"bad type":            {Type: "a b", Name: "x"},
		"bad name":            {Type: "a", Name: "x-y"},
		"empty name":          {Type: "a"},
		"bad option name":     {Type: "a", Name: "x", Options: []Option{opt("o-p", "1")}},
		"empty option value":  {Type: "a", Name: "x", Options: []Option{opt("o", "")}},
		"two option values":   {Type: "a", Name: "x", Options: []Option{{Name: "o", Values: []string{"1", "2"}}}},
		"empty list":          {Type: "a", Name: "x", Options: []Option{{Name: "o", IsList: true}}},
		"NUL in a list value": {Type: "a", Name: "x", Options: []Option{lst("o", "a\x00")}},
	} {
		var b bytes.Buffer
		if _, err := (&File{Sections: []*Section{s}}).WriteTo(&b); err == nil {
			t.Errorf("%s: WriteTo succeeded, wrote %q", name, b.String())
		}
	}
}
