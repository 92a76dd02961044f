package names

import "testing"

func TestParse(t *testing.T) {
	for _, ok := range []string{"laptop", "Pixel-7a", "büro-pc", "客厅电视", "a.b_c", ""} {
		if got, err := Parse(ok); err != nil || got != ok {
			t.Errorf("Parse(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{
		"bad\nname", "tab\tname", "del\x7f", "c1\u0085name", "c1\u009bname", "<script>", "a&b", "q\"", "q'", "back\\slash",
		"evil\u202etxt.exe", "rlo\u202d", "iso\u2066late\u2069", "mark\u200f", "alm\u061c", "zw\u200bsp", "bom\ufeff", "wj\u2060",
		"bad\xffutf8", string(make([]byte, 254)),
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
