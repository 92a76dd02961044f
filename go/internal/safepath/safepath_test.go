package safepath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/transferometer/transferometer/internal/testlan"
)

const nobody = 65534

func asRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root to give files to another user")
	}
}

func mkdir(t *testing.T, p string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestDir(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	good := mkdir(t, filepath.Join(base, "good"), 0o755)
	if err := Dir(good); err != nil {
		t.Fatalf("a root-owned 0755 directory: %v", err)
	}
	// Below a sticky world-writable directory (as /tmp): fine.
	sticky := mkdir(t, filepath.Join(base, "sticky"), os.ModeSticky|0o777)
	if err := Dir(mkdir(t, filepath.Join(sticky, "db"), 0o700)); err != nil {
		t.Fatalf("below a sticky directory: %v", err)
	}
	// A root-owned link to a good directory (OpenWrt's /var -> /tmp).
	link := filepath.Join(base, "var")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if err := Dir(link); err != nil {
		t.Fatalf("a root-owned link to a good directory: %v", err)
	}
	mkdir(t, filepath.Join(good, "lib"), 0o755)
	if err := Dir(filepath.Join(link, "lib")); err != nil {
		t.Fatalf("through a root-owned link: %v", err)
	}

	victim := mkdir(t, filepath.Join(base, "victim"), 0o755)
	planted := filepath.Join(sticky, "planted")
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	foreign := mkdir(t, filepath.Join(sticky, "foreign"), 0o755)
	if err := os.Chown(foreign, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	open := mkdir(t, filepath.Join(base, "open"), 0o777)
	groupW := mkdir(t, filepath.Join(base, "groupw"), 0o775)
	if err := os.Chown(groupW, 0, nobody); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{
		"a link another user planted":         planted,
		"a directory another user owns":       foreign,
		"below a directory another user owns": mkdirAs(t, filepath.Join(foreign, "sub")),
		"world-writable, not sticky":          open,
		"below world-writable, not sticky":    mkdir(t, filepath.Join(open, "sub"), 0o755),
		"group-writable, foreign group":       groupW,
		"a file":                              file,
		"below a file":                        filepath.Join(file, "x"),
		"relative":                            "tmp/x",
		"writable by others itself":           sticky,
	} {
		err := Dir(dir)
		if err == nil {
			t.Errorf("%s (%s): accepted", name, dir)
		}
	}
	if err := Dir(planted); !errors.Is(err, ErrUnsafe) {
		t.Errorf("planted link: %v, want ErrUnsafe", err)
	}
}

// mkdirAs makes a directory (root-owned) under p's parent.
func mkdirAs(t *testing.T, p string) string {
	t.Helper()
	return mkdir(t, p, 0o755)
}

func TestLinkLoop(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	if err := os.Symlink(b, a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a, b); err != nil {
		t.Fatal(err)
	}
	if err := Dir(a); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("a link loop: %v", err)
	}
}

func TestMkdirAll(t *testing.T) {
	asRoot(t)
	d := filepath.Join(t.TempDir(), "x", "y")
	if err := MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Fatalf("not created: %v", err)
	}
}
