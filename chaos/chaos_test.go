package chaos_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"bgcall/chaos"
)

var (
	seedFlag  = flag.Uint64("chaos.seed", envUint("BGCALL_CHAOS_SEED", 1), "first seed of the fault run (env BGCALL_CHAOS_SEED)")
	seedsFlag = flag.Int("chaos.seeds", int(envUint("BGCALL_CHAOS_SEEDS", 1)), "consecutive seeds to run (env BGCALL_CHAOS_SEEDS)")
	dirFlag   = flag.String("chaos.dir", os.Getenv("BGCALL_CHAOS_DIR"), "keep the replicas' logs under this directory, one per seed (env BGCALL_CHAOS_DIR); default a temporary one, kept only when a seed fails")
	longFlag  = flag.Bool("chaos.long", os.Getenv("BGCALL_CHAOS_LONG") != "", "the full run of a few minutes instead of the short one (env BGCALL_CHAOS_LONG)")
)

func envUint(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	if chaos.IsReplica() {
		os.Exit(chaos.ServeReplica())
	}
	os.Exit(m.Run())
}

// TestChaos runs the fault run: short by default (about 75 s), the full
// one with -chaos.long, over -chaos.seeds consecutive seeds.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault run takes over a minute; -short skips it")
	}
	failed := 0
	for i := range *seedsFlag {
		seed := *seedFlag + uint64(i)
		o := chaos.Options{
			Seed: seed, Short: !*longFlag, Progress: testWriter{t},
			ReplicaCommand: []string{os.Args[0], "-test.run=^$"},
		}
		if *dirFlag != "" {
			o.Dir = filepath.Join(*dirFlag, fmt.Sprintf("seed-%d", seed))
			if err := os.MkdirAll(o.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := chaos.Run(t.Context(), o)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var b strings.Builder
		rep.Write(&b)
		t.Log("\n" + b.String())
		if !rep.Passed() {
			failed++
			t.Errorf("seed %d: %d invariant violations (see above)", seed, len(rep.Violations))
		}
	}
	if *seedsFlag > 1 {
		t.Logf("%d of %d seeds passed (seeds %d..%d)", *seedsFlag-failed, *seedsFlag, *seedFlag, *seedFlag+uint64(*seedsFlag)-1)
	}
}

// testWriter writes to the test's log, line by line as they come.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
