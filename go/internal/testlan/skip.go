package testlan

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The one skip policy of the project's tests. A test may skip only through
// these, so that a run can never look green while testing nothing:
//   - SkipOrFail: a prerequisite this machine lacks (root, a tool, a
//     working `ip netns add`). Under CI (CI set), which installs everything,
//     it fails instead.
//   - SkipForGuest: a kernel feature this machine's kernel lacks and cannot
//     load (a flowtable, 8021q). `make test` runs those tests again in a
//     guest kernel that has it (scripts/guest, TRANSFEROMETER_GUEST set,
//     always under CI); there it fails instead.

// SkipOrFail skips a test whose prerequisite is missing, or fails it when
// CI is set.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: failing instead of skipping)")
		return
	}
	t.Skip(msg)
}

// SkipForGuest skips a test that needs a kernel feature this kernel lacks,
// or fails it inside the guest kernel, whose run covers it.
func SkipForGuest(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("TRANSFEROMETER_GUEST") != "" {
		t.Fatal(msg + " (in the guest kernel, which must have it)")
		return
	}
	t.Skip(msg + "; the guest-kernel run (make test-offload) covers it")
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	SkipOrFail(t, "testlan: "+format, args...)
}

// RequireTools skips (fails under CI) unless every named program is on PATH.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			unavailable(t, "%s not found on PATH", n)
		}
	}
}

// Rand returns a random source for a randomised test and logs its seed;
// TRANSFEROMETER_TEST_SEED replays a logged run.
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv("TRANSFEROMETER_TEST_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("TRANSFEROMETER_TEST_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("random seed %d (replay with TRANSFEROMETER_TEST_SEED=%d)", seed, seed)
	return rand.New(rand.NewSource(seed))
}
