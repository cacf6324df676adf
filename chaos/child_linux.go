package chaos

import (
	"os/exec"
	"syscall"
)

// orphanProof makes the kernel kill a replica whose run died (a test
// binary's timeout panic), rather than leave it dialling nodes that are
// gone.
func orphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
