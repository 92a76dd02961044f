package ledger

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// Every file the ledger writes is 0600: per-device traffic is nobody
// else's business on the router.
func TestFilesAreOwnerOnly(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "db")}
	h, tr, _, err := s.Load(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveHosts(h); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTransfer(tr); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveHistory(NewHistory()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{HostsFile, TransferFile, HistoryFile} {
		st, err := os.Stat(filepath.Join(s.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", f, st.Mode().Perm())
		}
	}
}

// A db_dir that another user planted (a link to a victim directory, or a
// directory of theirs) is refused: nothing is written there, the victim
// is untouched.
func TestPlantedDirectoryRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root to plant files as another user")
	}
	base := t.TempDir()
	if err := os.Chmod(base, os.ModeSticky|0o777); err != nil { // as /tmp
		t.Fatal(err)
	}
	victim := filepath.Join(base, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "db-link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(base, "db-theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{link, theirs} {
		s := Store{Dir: dir}
		if _, _, _, err := s.Load(time.Now()); err == nil {
			t.Errorf("Load in %s: accepted", dir)
		}
		if err := s.SaveTransfer(NewTransfer()); err == nil {
			t.Errorf("SaveTransfer in %s: accepted", dir)
		}
	}
	for _, dir := range []string{victim, theirs} {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: %d entries written", dir, len(ents))
		}
	}
}
