//go:build !linux

package testlan

import "errors"

// Network namespaces are Linux-only; Require skips before these are reached.

func writeSysctls(string, []string, map[string]bool) error {
	return errors.New("testlan: network namespaces need Linux")
}

func disableOffloads(string, ...string) error {
	return errors.New("testlan: network namespaces need Linux")
}
