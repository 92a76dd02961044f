// Package safepath checks a directory before root writes into it. Every
// door runs as root, and the directories it writes (db_dir, persist_dir)
// come from a settings file that a delegated LuCI user may edit, under
// /tmp, where anyone may create entries. So a directory is written only if
// nobody but root could have put it there or could swap what it holds:
// every component from / is a directory owned by root (world-writable ones
// only with the sticky bit, as /tmp), or a symbolic link owned by root
// (OpenWrt's /var -> /tmp) whose target passes the same check; the
// directory itself is owned by root and writable by root only.
package safepath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinks bounds how many symbolic links a path may pass through.
const maxLinks = 16

// ErrUnsafe marks a directory that must not be written.
var ErrUnsafe = errors.New("unsafe directory")

// Dir checks that dir (absolute) is safe to write into.
func Dir(dir string) error {
	links := 0
	return check(dir, &links, true)
}

// MkdirAll creates dir and its missing parents with perm (as os.MkdirAll)
// and then checks it with Dir.
func MkdirAll(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	return Dir(dir)
}

func check(dir string, links *int, last bool) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s: %w: not an absolute path", dir, ErrUnsafe)
	}
	euid := uint32(os.Geteuid())
	cur := "/"
	parts := strings.Split(filepath.Clean(dir), "/")
	for i, name := range parts {
		if name == "" {
			continue
		}
		final := last && i == len(parts)-1
		next := filepath.Join(cur, name)
		st, err := os.Lstat(next)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: %w: no owner information", next, ErrUnsafe)
		}
		trusted := sys.Uid == 0 || sys.Uid == euid
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			if !trusted {
				return fmt.Errorf("%s: %w: a symbolic link owned by uid %d", next, ErrUnsafe, sys.Uid)
			}
			if *links++; *links > maxLinks {
				return fmt.Errorf("%s: %w: too many symbolic links", dir, ErrUnsafe)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			if err := check(target, links, final); err != nil {
				return err
			}
			if cur, err = filepath.EvalSymlinks(target); err != nil {
				return err
			}
			continue
		case !st.IsDir():
			return fmt.Errorf("%s: %w: not a directory", next, ErrUnsafe)
		case !trusted:
			return fmt.Errorf("%s: %w: owned by uid %d, not root", next, ErrUnsafe, sys.Uid)
		case final && st.Mode().Perm()&0o022 != 0:
			return fmt.Errorf("%s: %w: writable by others (mode %o)", next, ErrUnsafe, st.Mode().Perm())
		case st.Mode().Perm()&0o002 != 0 && st.Mode()&os.ModeSticky == 0:
			return fmt.Errorf("%s: %w: writable by everyone without the sticky bit", next, ErrUnsafe)
		case st.Mode().Perm()&0o020 != 0 && sys.Gid != 0:
			return fmt.Errorf("%s: %w: writable by group %d", next, ErrUnsafe, sys.Gid)
		}
		cur = next
	}
	return nil
}
