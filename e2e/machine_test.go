package e2e_test

import (
	"strings"
	"testing"

	"bgcall/internal/testutil"
)

func TestMachineDetectionModuleSimulator(t *testing.T) { runMachineDetectionModule(t, simulator) }
func TestMachineDetectionModuleRealFreeSWITCH(t *testing.T) {
	runMachineDetectionModule(t, realFreeSWITCH)
}

// runMachineDetectionModule: with confirm.machine_detection on, the daemon
// asks the node whether mod_avmd is loaded; a node without it (the real
// FreeSWITCH here ships none) is named in a warning that says how to fix
// it, and the daemon runs on without machine detection there (its
// confirmation scenarios pass all the same).
func runMachineDetectionModule(t *testing.T, start func(*testing.T) *backend) {
	t.Parallel()
	b := start(t)
	want := []string{"machine detection on", "node=fs1", "module=mod_avmd"}
	if !b.machineDetection {
		want = []string{"level=WARN", "WARNING: confirm.machine_detection is on but FreeSWITCH node fs1 has no mod_avmd loaded",
			"load mod_avmd", "modules.conf.xml", "switch confirm.machine_detection off"}
	}
	testutil.WaitFor(t, "the daemon's word on mod_avmd", func() bool { return lines(b.log, want...) != "" })
	if b.machineDetection && strings.Contains(b.log.String(), "no mod_avmd loaded") {
		t.Errorf("a warning about mod_avmd on %s, which has it:\n%s", b.name, lines(b.log, "mod_avmd"))
	}
}
