// Package owpkg builds OpenWrt packages the way OpenWrt's build does, from
// this repository's own inputs: the package Makefiles' variables and define
// blocks, and files.manifest. It is the apk side of what scripts/mkipk.sh
// does for opkg, and both take their dependencies from Depends here, so the
// two formats cannot drift apart.
package owpkg

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Makefile is an OpenWrt package Makefile, read as text: NAME:=VALUE lines
// and define blocks, as scripts/mkipk.sh reads them (no make involved).
type Makefile struct {
	path string
	text []byte
}

// ReadMakefile reads an OpenWrt package Makefile.
func ReadMakefile(path string) (*Makefile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &Makefile{path: path, text: b}, nil
}

// Var is the value of the first NAME:=VALUE line (leading blanks allowed,
// so that assignments inside define blocks are found too).
func (m *Makefile) Var(name string) (string, error) {
	re := regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(name) + `[ \t]*:=[ \t]*(.*)$`)
	if v := re.FindSubmatch(m.text); v != nil {
		if s := strings.TrimSpace(string(v[1])); s != "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s: no %s:=", m.path, name)
}

// Define is the body of `define NAME` ... `endef`, each line ending in a
// newline; empty if there is no such block.
func (m *Makefile) Define(name string) string {
	var out strings.Builder
	on := false
	sc := bufio.NewScanner(bytes.NewReader(m.text))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case !on && l == "define "+name:
			on = true
		case on && strings.HasPrefix(l, "endef"):
			return out.String()
		case on:
			out.WriteString(l + "\n")
		}
	}
	return ""
}

// Script is a define block holding a shell script, with make's $$ turned
// into $ (make expands the block once when the build writes it out).
func (m *Makefile) Script(name string) string {
	return strings.ReplaceAll(m.Define(name), "$$", "$")
}

// DefineVar is NAME:=VALUE inside a define block (a package's SECTION,
// DEPENDS, TITLE…).
func (m *Makefile) DefineVar(block, name string) string {
	re := regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(name) + `[ \t]*:=[ \t]*(.*)$`)
	if v := re.FindStringSubmatch(m.Define(block)); v != nil {
		return strings.TrimSpace(v[1])
	}
	return ""
}

// Strip is make's $(strip): runs of white space become one space.
func Strip(s string) string { return strings.Join(strings.Fields(s), " ") }
