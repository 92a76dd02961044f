package lmo

import (
	"bytes"
	"os"
	"testing"
)

func TestCompileMatchesPo2lmo(t *testing.T) {
	for _, name := range []string{"sample", "noheader"} {
		po, err := os.ReadFile("testdata/" + name + ".po")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile("testdata/" + name + ".lmo")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Compile(po)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Compile differs from po2lmo's output:\n got %x\nwant %x", name, got, want)
		}
	}
}

func TestSampleEntries(t *testing.T) {
	po, err := os.ReadFile("testdata/sample.po")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(po)
	if err != nil {
		t.Fatal(err)
	}
	es, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]Entry{}
	for i, e := range es {
		if i > 0 && es[i-1].Key > e.Key {
			t.Errorf("index not sorted at %d", i)
		}
		got[e.Key] = e
	}
	for _, c := range []struct {
		key   string
		val   string
		forms uint32
	}{
		{"Download", "Herunterladen", 1},
		{"Fuzzy", "Unscharf", 1},
		{"Menu\x01Status", "Übersicht", 1},
		{"%d device\x020", "%d Gerät", 2},
		{"%d device\x021", "%d Geräte", 2},
		{"Period\x01%d day left\x021", "noch %d Tage", 2},
		{"A long message that gettext wraps over several lines.", "Eine lange Nachricht, die gettext über mehrere Zeilen umbricht.", 1},
		{`Quote "and" backslash \ and newline\n and tab\t`, `Zitat "und" Backslash \ und Zeilenumbruch\n und Tab\t`, 1},
		{"Upload", "上传", 1},
	} {
		e, ok := got[Hash([]byte(c.key))]
		if !ok {
			t.Errorf("%q: no entry", c.key)
			continue
		}
		if e.Value != c.val || e.Forms != c.forms {
			t.Errorf("%q: got %q (%d forms), want %q (%d)", c.key, e.Value, e.Forms, c.val, c.forms)
		}
	}
	if e, ok := got[0]; !ok || e.Value != "nplurals=2; plural=n != 1;" {
		t.Errorf("Plural-Forms entry: %+v", e)
	}
	for _, k := range []string{"MAC", "Untranslated", "Obsolete", "Status"} {
		if _, ok := got[Hash([]byte(k))]; ok {
			t.Errorf("%q: should not be in the catalogue", k)
		}
	}
}

func TestEmptyAndBad(t *testing.T) {
	b, err := Compile([]byte("msgid \"x\"\nmsgstr \"\"\n"))
	if err != nil || b != nil {
		t.Errorf("no translation: %x, %v; want nothing", b, err)
	}
	if _, err := Compile([]byte("msgid \"x\"\nmsgstr[12] \"y\"\n")); err == nil {
		t.Error("12 plural forms accepted")
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 9}, {1, 2, 3, 4, 5, 0, 0, 0, 0}} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%x) accepted", bad)
		}
	}
}
