package main

import (
	"reflect"
	"testing"
)

// TestCommandArgs: run from rpcd's plugin directory (the package installs
// a symlink there) the binary is the rpcd plugin; by any other name or
// path, argv[1:] is the command line.
func TestCommandArgs(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want []string
	}{
		{[]string{"/usr/libexec/rpcd/transferometer", "list"}, []string{"rpcd", "list"}},
		{[]string{"/usr/libexec/rpcd/transferometer", "call", "usage"}, []string{"rpcd", "call", "usage"}},
		{[]string{"/tmp/x/usr/libexec/rpcd/transferometer", "call", "hosts"}, []string{"rpcd", "call", "hosts"}},
		{[]string{"/usr/sbin/transferometer", "list"}, []string{"list"}},
		{[]string{"transferometer", "usage", "--json"}, []string{"usage", "--json"}},
		{[]string{"/usr/libexec/rpcd-other/transferometer", "list"}, []string{"list"}},
		{[]string{"/usr/libexec/transferometer", "list"}, []string{"list"}},
		{[]string{"/usr/sbin/transferometer"}, []string{}},
		{nil, nil},
	} {
		if got := commandArgs(c.argv); !reflect.DeepEqual(got, c.want) {
			t.Errorf("commandArgs(%q) = %q, want %q", c.argv, got, c.want)
		}
	}
}
