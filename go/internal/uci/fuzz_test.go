package uci

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, fails only with a ParseError,
// and that whatever it accepts survives WriteTo and a second Parse
// unchanged (internal section ids included, so merging behaves the same).
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"config interface 'lan'\n\toption proto 'static'\n\tlist dns '1.1.1.1'\n",
		"config a 'b'\n\toption msg 'it'\\''s'\n",
		"config a 'b'\n\toption v 'x'\"y\"z\n",
		"config a 'b'\n\toption v \"say \\\"hi\\\" \\\\\"\n",
		"config a 'b'\n\toption v foo\\ bar\\\nbaz # c\n",
		"config a 'b'\n\toption v 'multi\nline'\n",
		"config a\nconfig a 'cfg01b606'\n\toption x 1\n",
		"config a 'x'\n\toption p 1\nconfig a 'x'\n\tlist p 2\n\toption p ''\n",
		"config a 'b'; option v 'c'; list w 'd'\n\toption e f; option g h\n",
		"package p\nc t\no v 1\nl w 2\n",
		"config 'odd#type' 'x'\r\n\toption v\v\f'y'\r\n",
		"config a 'b'\n\toption v \"unterminated\n",
		"config a 'b-c'\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{"testdata/network", "testdata/firewall"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		first, err := Parse("fuzz", bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		var out bytes.Buffer
		if _, err := first.WriteTo(&out); err != nil {
			t.Fatalf("WriteTo of a parsed file: %v", err)
		}
		second, err := Parse("fuzz-out", bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-parse of\n%q\nfailed: %v", out.String(), err)
		}
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("round trip changed the file\ninput %q\noutput %q\nfirst  %#v\nsecond %#v", data, out.String(), first, second)
		}
	})
}
