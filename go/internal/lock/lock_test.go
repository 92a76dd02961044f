package lock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/transferometer/transferometer/internal/testlan"
)

// Environment of the helper process (see TestHelperProcess).
const (
	envMode    = "TRANSFEROMETER_LOCK_HELPER"
	envDir     = "TRANSFEROMETER_LOCK_DIR"
	envPID     = "TRANSFEROMETER_LOCK_PIDFILE"
	envCounter = "TRANSFEROMETER_LOCK_COUNTER"
)

func testOptions(t *testing.T) Options {
	t.Helper()
	d := t.TempDir()
	return Options{
		Dir:     filepath.Join(d, "tmp", "~transferometer"),
		PIDFile: filepath.Join(d, "run", "transferometer.pid"),
		Timeout: 10 * time.Second,
		Grace:   2 * time.Second,
	}
}

func mustAcquire(t *testing.T, o Options) *Lock {
	t.Helper()
	l, err := Acquire(context.Background(), o)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// deadPID returns the PID of a process that has exited and been reaped.
// Its PID being reused at once takes a wrap-around of the PID space: if
// it happens, it is tried again, not skipped (that would hide a failure to
// get any dead PID).
func deadPID(t *testing.T) int {
	t.Helper()
	var err error
	for try := 0; try < 5; try++ {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatalf("run true: %v", err)
		}
		pid := cmd.Process.Pid
		if err = syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return pid
		}
		t.Logf("pid %d of a reaped child is already reused (kill: %v)", pid, err)
	}
	t.Fatalf("no dead pid in 5 tries: the pids of reaped children stay alive (last kill: %v)", err)
	return 0
}

// liveChild starts `sleep 30`, killed and reaped at test end.
func liveChild(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// fakeHolder makes the lock look held: mkdir, then a PID file (in that
// order, as a real holder does, so the PID file is not older than the dir).
func fakeHolder(t *testing.T, o Options, pid string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(o.Dir), filepath.Dir(o.PIDFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(o.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if pid != "" {
		if err := os.WriteFile(o.PIDFile, []byte(pid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ownPIDFile is what this process writes as a holder: its PID, then its
// start time from /proc/self/stat.
func ownPIDFile() string {
	_, started, _ := procStat(os.Getpid())
	return fmt.Sprintf("%d\nstart=%d\n", os.Getpid(), started)
}

func setMtime(t *testing.T, path string, ago time.Duration) {
	t.Helper()
	when := time.Now().Add(-ago)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// assertTimeout runs Acquire expecting ErrTimeout, and checks the message
// and that the lock on disk was left as it was.
func assertTimeout(t *testing.T, o Options, wantHolder string) {
	t.Helper()
	dirBefore, err := os.Lstat(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	pidBefore, pidErr := os.ReadFile(o.PIDFile)

	start := time.Now()
	l, err := Acquire(context.Background(), o)
	took := time.Since(start)
	if err == nil {
		_ = l.Release()
		t.Fatal("Acquire succeeded on a held lock")
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	want := fmt.Sprintf("lock %s held by %s for %s; gave up", o.Dir, wantHolder, o.Timeout)
	if err.Error() != want {
		t.Fatalf("message:\n got %q\nwant %q", err.Error(), want)
	}
	if took < o.Timeout || took > o.Timeout+5*time.Second {
		t.Fatalf("timed out after %v, want about %v", took, o.Timeout)
	}

	dirAfter, err := os.Lstat(o.Dir)
	if err != nil {
		t.Fatalf("lock dir gone after timeout: %v", err)
	}
	if dirIDOf(dirAfter) != dirIDOf(dirBefore) {
		t.Fatal("lock dir replaced during a wait that timed out")
	}
	pidAfter, err := os.ReadFile(o.PIDFile)
	if (err == nil) != (pidErr == nil) || string(pidAfter) != string(pidBefore) {
		t.Fatalf("pid file changed: before %q (%v), after %q (%v)", pidBefore, pidErr, pidAfter, err)
	}
}

func TestAcquireRelease(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	l := mustAcquire(t, o)
	if l.Waited() != 0 {
		t.Errorf("Waited = %v on a free lock", l.Waited())
	}
	if fi, err := os.Stat(o.Dir); err != nil || !fi.IsDir() {
		t.Fatalf("lock dir: %v", err)
	}
	if got, want := readFile(t, o.PIDFile), ownPIDFile(); got != want {
		t.Fatalf("pid file = %q, want %q", got, want)
	}
	if fi, err := os.Stat(o.PIDFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pid file mode: %v (%v), want 0600", fi.Mode(), err)
	}
	if pid, ok := HolderPID(o); !ok || pid != os.Getpid() {
		t.Fatalf("HolderPID = %d, %v", pid, ok)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	for _, p := range []string{o.PIDFile, o.Dir} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after Release (%v)", p, err)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, ok := HolderPID(o); ok {
		t.Fatal("HolderPID reports a holder of a free lock")
	}
	// No temp files left behind next to the PID file.
	ents, err := os.ReadDir(filepath.Dir(o.PIDFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("left in pid dir: %v", ents)
	}
	// And it can be taken again.
	if err := mustAcquire(t, o).Release(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	for _, o := range []Options{
		{PIDFile: filepath.Join(d, "pid")},
		{Dir: filepath.Join(d, "lock")},
		{Dir: filepath.Join(d, "lock"), PIDFile: filepath.Join(d, "lock", "pid")},
		{Dir: filepath.Join(d, "lock"), PIDFile: filepath.Join(d, "lock")},
		{Dir: "/", PIDFile: filepath.Join(d, "pid")},
	} {
		if l, err := Acquire(context.Background(), o); err == nil {
			_ = l.Release()
			t.Errorf("Acquire(%+v) succeeded", o)
		}
	}
	// A sibling whose name merely starts with the dir's is fine.
	o := Options{Dir: filepath.Join(d, "lock"), PIDFile: filepath.Join(d, "lock.pid")}
	if err := mustAcquire(t, o).Release(); err != nil {
		t.Fatal(err)
	}
}

func TestNotADirectory(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 200 * time.Millisecond
	if err := os.MkdirAll(filepath.Dir(o.Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.Dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(context.Background(), o)
	if err == nil || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("want a not-a-directory error, got %v", err)
	}
	if _, err := os.Stat(o.Dir); err != nil {
		t.Fatal("the stray file was removed")
	}
}

func TestSecondAcquireWaits(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	l1 := mustAcquire(t, o)
	type result struct {
		l   *Lock
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := Acquire(context.Background(), o)
		done <- result{l, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("second Acquire returned while held: %v", r.err)
	case <-time.After(150 * time.Millisecond):
	}
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("second Acquire: %v", r.err)
	}
	if w := r.l.Waited(); w <= 0 || w > o.Timeout {
		t.Errorf("Waited = %v, want in (0, %v]", w, o.Timeout)
	}
	if err := r.l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutLiveChild(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 300 * time.Millisecond
	pid := liveChild(t)
	fakeHolder(t, o, strconv.Itoa(pid)+"\n")
	// Old dir: a live holder is never stale, however long it holds.
	setMtime(t, o.Dir, time.Hour)
	setMtime(t, o.PIDFile, time.Hour)
	assertTimeout(t, o, "pid "+strconv.Itoa(pid))
	if got, ok := HolderPID(o); !ok || got != pid {
		t.Fatalf("HolderPID = %d, %v; want %d", got, ok, pid)
	}
}

func TestTimeoutHeldBySelf(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	l := mustAcquire(t, o)
	defer l.Release()
	o.Timeout = 200 * time.Millisecond
	assertTimeout(t, o, "pid "+strconv.Itoa(os.Getpid()))
}

// TestTimeoutPID1: kill(1, 0) fails with EPERM unless we are root; either
// way pid 1 is alive and the lock is not stale.
func TestTimeoutPID1(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 200 * time.Millisecond
	fakeHolder(t, o, "1")
	assertTimeout(t, o, "pid 1")
}

func TestStaleDeadPID(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	fakeHolder(t, o, strconv.Itoa(deadPID(t))+"\n")
	start := time.Now()
	l := mustAcquire(t, o)
	defer l.Release()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("reclaim took %v", took)
	}
	if got, want := readFile(t, o.PIDFile), ownPIDFile(); got != want {
		t.Fatalf("pid file = %q, want %q", got, want)
	}
}

func TestNoPIDFileYoungWaits(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 300 * time.Millisecond
	o.Grace = 5 * time.Second
	fakeHolder(t, o, "")
	assertTimeout(t, o, "an unknown process")
}

func TestNoPIDFileOldReclaimed(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "garbage\n", "0\n", "-1\n"} {
		content := content
		t.Run(fmt.Sprintf("%q", content), func(t *testing.T) {
			t.Parallel()
			o := testOptions(t)
			fakeHolder(t, o, content)
			setMtime(t, o.Dir, time.Minute)
			if content != "" {
				setMtime(t, o.PIDFile, time.Minute)
			}
			start := time.Now()
			l := mustAcquire(t, o)
			defer l.Release()
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("reclaim took %v", took)
			}
		})
	}
}

func TestGarbagePIDFileYoungWaits(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 300 * time.Millisecond
	o.Grace = 5 * time.Second
	fakeHolder(t, o, "not a pid")
	assertTimeout(t, o, "an unknown process")
}

func TestLeftoverPIDFileIgnored(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 300 * time.Millisecond
	o.Grace = 5 * time.Second
	// An earlier holder died leaving its PID file; its dir went away. Then
	// a fresh holder did mkdir and has not yet written its PID file.
	dead := deadPID(t)
	if err := os.MkdirAll(filepath.Dir(o.PIDFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.PIDFile, []byte(strconv.Itoa(dead)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setMtime(t, o.PIDFile, time.Minute)
	fakeHolder(t, o, "")
	if _, ok := HolderPID(o); ok {
		t.Fatal("HolderPID believes a leftover PID file")
	}
	assertTimeout(t, o, "an unknown process")

	// Once the fresh dir outlives the grace period without a PID file of its
	// own, it is stale after all (its holder died before writing one).
	setMtime(t, o.Dir, 30*time.Second)
	o.Timeout = 10 * time.Second
	l := mustAcquire(t, o)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestReclaimFlockExcludes shows that a waiter does not reclaim while another
// process holds the reclaim flock, and does once it is dropped.
func TestReclaimFlockExcludes(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 300 * time.Millisecond
	fakeHolder(t, o, strconv.Itoa(deadPID(t)))
	// flock locks belong to the open file description, so a second open in
	// this process conflicts just like another process would.
	f, err := os.OpenFile(o.Dir+reclaimSuffix, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	assertTimeout(t, o, "pid "+strings.TrimSpace(readFile(t, o.PIDFile)))
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	o.Timeout = 10 * time.Second
	if err := mustAcquire(t, o).Release(); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	o.Timeout = time.Minute
	l := mustAcquire(t, o)
	defer l.Release()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Acquire(ctx, o)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancel took %v to end the wait", took)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := Acquire(ctx2, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
	// The holder's lock is untouched.
	if pid, ok := HolderPID(o); !ok || pid != os.Getpid() {
		t.Fatalf("HolderPID = %d, %v", pid, ok)
	}
}

func TestReleaseNotOurs(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	l := mustAcquire(t, o)
	other := strconv.Itoa(liveChild(t)) + "\n"
	if err := os.WriteFile(o.PIDFile, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("want ErrNotHeld, got %v", err)
	}
	if readFile(t, o.PIDFile) != other {
		t.Fatal("someone else's pid file was touched")
	}
	if _, err := os.Stat(o.Dir); err != nil {
		t.Fatal("someone else's lock dir was removed")
	}

	// Same PID but a different file: another Lock in this process.
	o2 := testOptions(t)
	l2 := mustAcquire(t, o2)
	// Written beside and renamed over, as a holder does, so that it is
	// surely a new inode (ext4 would hand a just-freed one back).
	tmp := o2.PIDFile + ".other"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, o2.PIDFile); err != nil {
		t.Fatal(err)
	}
	if err := l2.Release(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("want ErrNotHeld for a replaced pid file, got %v", err)
	}
	if _, err := os.Stat(o2.Dir); err != nil {
		t.Fatal("lock dir removed despite a replaced pid file")
	}

	// A missing PID file: also not ours to delete.
	o3 := testOptions(t)
	l3 := mustAcquire(t, o3)
	if err := os.Remove(o3.PIDFile); err != nil {
		t.Fatal(err)
	}
	if err := l3.Release(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("want ErrNotHeld for a missing pid file, got %v", err)
	}
}

// incrementCounter is the critical section of the contention tests: a
// read-modify-write that loses updates unless the lock excludes.
func incrementCounter(path string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	n := 0
	if s := strings.TrimSpace(string(b)); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			return err
		}
	}
	time.Sleep(time.Millisecond) // widen the race window
	return os.WriteFile(path, []byte(strconv.Itoa(n+1)+"\n"), 0o644)
}

func TestGoroutineContention(t *testing.T) {
	t.Parallel()
	for _, stale := range []bool{false, true} {
		stale := stale
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			t.Parallel()
			o := testOptions(t)
			o.Timeout = 30 * time.Second
			if stale {
				// All of them find a dead holder and race to reclaim.
				fakeHolder(t, o, strconv.Itoa(deadPID(t)))
			}
			counter := filepath.Join(t.TempDir(), "counter")
			const n = 20
			var holders, maxHolders atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l, err := Acquire(context.Background(), o)
					if err != nil {
						errs <- err
						return
					}
					h := holders.Add(1)
					for {
						m := maxHolders.Load()
						if h <= m || maxHolders.CompareAndSwap(m, h) {
							break
						}
					}
					err = incrementCounter(counter)
					holders.Add(-1)
					if rerr := l.Release(); err == nil {
						err = rerr
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if m := maxHolders.Load(); m != 1 {
				t.Errorf("max simultaneous holders = %d", m)
			}
			if got := strings.TrimSpace(readFile(t, counter)); got != strconv.Itoa(n) {
				t.Errorf("counter = %s, want %d", got, n)
			}
		})
	}
}

func helperCmd(mode string, o Options, counter string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envMode+"="+mode, envDir+"="+o.Dir, envPID+"="+o.PIDFile, envCounter+"="+counter)
	return cmd
}

// TestHelperProcess is not a test: it is the body of the child processes
// the multi-process tests start by re-executing the test binary.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envMode)
	if mode == "" {
		t.Skip("helper process only")
	}
	o := Options{Dir: os.Getenv(envDir), PIDFile: os.Getenv(envPID), Timeout: time.Minute}
	l, err := Acquire(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	switch mode {
	case "increment":
		// Would fail if another process were inside at the same time.
		inside := os.Getenv(envCounter) + ".inside"
		f, err := os.OpenFile(inside, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper: two holders at once:", err)
			os.Exit(4)
		}
		f.Close()
		if err := incrementCounter(os.Getenv(envCounter)); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(5)
		}
		if err := os.Remove(inside); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(6)
		}
		if err := l.Release(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(7)
		}
		os.Exit(0)
	case "hold":
		fmt.Println("acquired")
		time.Sleep(time.Minute)
		os.Exit(8)
	}
	os.Exit(9)
}

func TestMultiProcessContention(t *testing.T) {
	t.Parallel()
	for _, stale := range []bool{false, true} {
		stale := stale
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			t.Parallel()
			multiProcessContention(t, stale)
		})
	}
}

func multiProcessContention(t *testing.T, stale bool) {
	o := testOptions(t)
	if stale {
		// All of them find a dead holder and race to reclaim.
		fakeHolder(t, o, strconv.Itoa(deadPID(t)))
	}
	counter := filepath.Join(t.TempDir(), "counter")
	const n = 10
	cmds := make([]*exec.Cmd, n)
	outs := make([]*strings.Builder, n)
	for i := range cmds {
		cmds[i] = helperCmd("increment", o, counter)
		outs[i] = new(strings.Builder)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v: %s", i, err, outs[i])
		}
	}
	if got := strings.TrimSpace(readFile(t, counter)); got != strconv.Itoa(n) {
		t.Errorf("counter = %s, want %d", got, n)
	}
	if _, err := os.Lstat(o.Dir); !os.IsNotExist(err) {
		t.Errorf("lock dir left behind: %v", err)
	}
}

// startHolder starts a helper process that acquires the lock and sleeps.
func startHolder(t *testing.T, o Options) *exec.Cmd {
	t.Helper()
	cmd := helperCmd("hold", o, "")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "acquired\n" {
		t.Fatalf("holder: %q, %v", line, err)
	}
	if pid, ok := HolderPID(o); !ok || pid != cmd.Process.Pid {
		t.Fatalf("HolderPID = %d, %v; want the child %d", pid, ok, cmd.Process.Pid)
	}
	return cmd
}

func TestKilledHolderReclaimed(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	cmd := startHolder(t, o)

	// While it lives, we wait.
	short := o
	short.Timeout = 200 * time.Millisecond
	assertTimeout(t, short, "pid "+strconv.Itoa(cmd.Process.Pid))

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // reaped, so its PID is gone
	start := time.Now()
	l := mustAcquire(t, o)
	defer l.Release()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("reclaim took %v", took)
	}
}

// TestKilledHolderZombie: a holder killed but not yet reaped by its parent
// still answers kill(pid, 0); it must count as dead all the same.
func TestKilledHolderZombie(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	cmd := startHolder(t, o)
	pid := cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	zombie := func() bool {
		st, _, _ := procStat(pid)
		return st == 'Z' || st == 'X'
	}
	for deadline := time.Now().Add(10 * time.Second); !zombie(); {
		if time.Now().After(deadline) {
			t.Fatal("killed child never became a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("kill(zombie, 0) = %v; the test premise is off", err)
	}
	l := mustAcquire(t, o)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestSelf(t *testing.T) {
	pid, started := self()
	if pid != os.Getpid() {
		t.Fatalf("self: pid %d, os.Getpid %d", pid, os.Getpid())
	}
	// As another process sees it (under qemu-user, our own view of
	// /proc/self/stat is qemu's).
	out, err := exec.Command("cat", "/proc/"+strconv.Itoa(pid)+"/stat").Output()
	if err != nil {
		t.Fatal(err)
	}
	_, want, ok := parseStat(out)
	if !ok || started == 0 || started != want {
		t.Fatalf("self: start time %d, cat /proc/PID/stat says %d (%v): %q", started, want, ok, out)
	}
}

// TestWritePIDFileNotOlderThanDir: if the clock stepped back between mkdir
// and writing the PID file, the holder still makes its PID file count.
func TestWritePIDFileNotOlderThanDir(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	fakeHolder(t, o, "")
	future := time.Now().Add(time.Hour).Add(123 * time.Millisecond)
	if err := os.Chtimes(o.Dir, future, future); err != nil {
		t.Fatal(err)
	}
	fi, err := writePIDFile(o.PIDFile, os.Getpid(), 0, future)
	if err != nil {
		t.Fatal(err)
	}
	if fi.ModTime().Before(future) {
		t.Fatalf("pid file mtime %v older than dir %v", fi.ModTime(), future)
	}
	if pid, ok := HolderPID(o); !ok || pid != os.Getpid() {
		t.Fatalf("HolderPID = %d, %v", pid, ok)
	}
}

// needRoot: planting things owned by another user takes chown.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testlan.SkipOrFail(t, "needs root to chown files to another user")
	}
}

// nobody is the user that plants things in these tests.
const nobody = 65534

// publicTmp makes the lock dir's parent world-writable and sticky, like
// /tmp: where another user can put something at the lock path first.
func publicTmp(t *testing.T, o Options) {
	t.Helper()
	for _, d := range []string{filepath.Dir(o.Dir), filepath.Dir(o.PIDFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Dir(o.Dir), 0o1777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
}

func lchown(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlantedLock: whatever another user puts at the lock path before us (a
// file, a symlink, a directory of theirs, with files in it) is not a lock:
// the next door removes it and takes the lock, without following a link.
// The grace period is an hour and the timeout 2 s, so neither ageing nor
// waiting can be what frees the lock.
func TestPlantedLock(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		name  string
		plant func(t *testing.T, o Options, victim string)
	}{
		{"file", func(t *testing.T, o Options, victim string) {
			if err := os.WriteFile(o.Dir, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			lchown(t, o.Dir)
		}},
		{"symlink to a file", func(t *testing.T, o Options, victim string) {
			if err := os.Symlink(victim, o.Dir); err != nil {
				t.Fatal(err)
			}
			lchown(t, o.Dir)
		}},
		{"symlink to a directory", func(t *testing.T, o Options, victim string) {
			if err := os.Symlink(filepath.Dir(victim), o.Dir); err != nil {
				t.Fatal(err)
			}
			lchown(t, o.Dir)
		}},
		{"empty directory", func(t *testing.T, o Options, victim string) {
			if err := os.Mkdir(o.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			lchown(t, o.Dir)
		}},
		{"directory with a file, a link and a subdirectory", func(t *testing.T, o Options, victim string) {
			if err := os.MkdirAll(filepath.Join(o.Dir, "sub"), 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(o.Dir, "sub", "f"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Dir(victim), filepath.Join(o.Dir, "link")); err != nil {
				t.Fatal(err)
			}
			lchown(t, o.Dir, filepath.Join(o.Dir, "sub"), filepath.Join(o.Dir, "sub", "f"), filepath.Join(o.Dir, "link"))
		}},
		{"directory with a PID file naming a live process", func(t *testing.T, o Options, victim string) {
			fakeHolder(t, o, "1\n")
			lchown(t, o.Dir)
		}},
	} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t)
			o.Timeout, o.Grace = 2*time.Second, time.Hour
			publicTmp(t, o)
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			c.plant(t, o, victim)
			l, err := Acquire(context.Background(), o)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			fi, err := os.Lstat(o.Dir)
			if err != nil || !fi.IsDir() || owner(fi) != os.Geteuid() {
				t.Fatalf("lock path after Acquire: %v (%v), want our directory", fi, err)
			}
			if err := l.Release(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, victim); got != "keep" {
				t.Fatalf("victim file changed: %q", got)
			}
		})
	}
}

// TestPlantedLockRootOnlyParent: something another user owns in a directory
// only root may write to was put there by root (a setting may name a real
// directory): a clear error at once, and it is left alone.
func TestPlantedLockRootOnlyParent(t *testing.T) {
	needRoot(t)
	t.Parallel()
	o := testOptions(t)
	o.Timeout, o.Grace = 2*time.Second, time.Hour
	fakeHolder(t, o, "")
	if err := os.WriteFile(filepath.Join(o.Dir, "data"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	lchown(t, o.Dir)
	_, err := Acquire(context.Background(), o)
	if err == nil || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), "remove it by hand") {
		t.Fatalf("want an immediate error naming the owner, got %v", err)
	}
	if got := readFile(t, filepath.Join(o.Dir, "data")); got != "keep" {
		t.Fatalf("data = %q", got)
	}
}

// TestForeignPIDFileIgnored: a PID file another user wrote (naming a live
// process, pid 1) does not count: the lock ages into staleness as one
// without a PID file.
func TestForeignPIDFileIgnored(t *testing.T) {
	needRoot(t)
	t.Parallel()
	o := testOptions(t)
	o.Timeout, o.Grace = 5*time.Second, 200*time.Millisecond
	fakeHolder(t, o, "1\n")
	lchown(t, o.PIDFile)
	if pid, ok := HolderPID(o); ok {
		t.Fatalf("HolderPID believes another user's PID file: %d", pid)
	}
	if err := mustAcquire(t, o).Release(); err != nil {
		t.Fatal(err)
	}
}

// TestPlantedReclaimFile: another user's file at the reclaim flock's path,
// flocked by them forever, would stop every reclaim; it is replaced, and a
// dead holder's lock reclaimed.
func TestPlantedReclaimFile(t *testing.T) {
	needRoot(t)
	t.Parallel()
	o := testOptions(t)
	o.Timeout = 2 * time.Second
	publicTmp(t, o)
	fakeHolder(t, o, strconv.Itoa(deadPID(t))+"\n")
	f, err := os.OpenFile(o.Dir+reclaimSuffix, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lchown(t, f.Name())
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if err := mustAcquire(t, o).Release(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(o.Dir + reclaimSuffix)
	if err != nil || owner(fi) != os.Geteuid() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("reclaim file after: %v (%v), want ours, 0600", fi, err)
	}
}

// TestReusedPID: the holder died and its PID now belongs to a long-lived
// process that started later. The start time in the PID file tells them
// apart: stale, reclaimed. The same process with its own start time holds.
func TestReusedPID(t *testing.T) {
	t.Parallel()
	pid := liveChild(t)
	_, started, ok := procStat(pid)
	if !ok {
		t.Fatalf("no start time for pid %d", pid)
	}
	t.Run("other start time", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t)
		o.Timeout, o.Grace = 2*time.Second, time.Hour
		fakeHolder(t, o, pidFileContent(pid, started-1))
		setMtime(t, o.Dir, time.Hour)
		setMtime(t, o.PIDFile, time.Hour)
		if err := mustAcquire(t, o).Release(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("its own start time", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t)
		o.Timeout = 300 * time.Millisecond
		fakeHolder(t, o, pidFileContent(pid, started))
		assertTimeout(t, o, "pid "+strconv.Itoa(pid))
	})
}
