package app_test

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"bgcall/config"
)

// TestSystemdUnit checks that the shipped unit starts bgcall with flags the
// daemon accepts, on the shipped configuration, and gives the drain time to
// finish before systemd kills it.
func TestSystemdUnit(t *testing.T) {
	unit := readUnit(t, "../deploy/systemd/bgcall.service")
	exec := strings.Fields(unit["ExecStart"])
	if len(exec) < 2 || exec[0] != "/usr/local/bin/bgcall" || exec[1] != "serve" {
		t.Fatalf("ExecStart %q does not run bgcall serve", unit["ExecStart"])
	}
	args := exec[2:]
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			args[i+1] = "../deploy/systemd/bgcall.conf"
		}
	}
	env := readEnvFile(t, "../deploy/systemd/bgcall.env")
	c, err := config.Load(args, env, io.Discard)
	if err != nil {
		t.Fatalf("the shipped unit and configuration do not load: %v", err)
	}
	stop, err := time.ParseDuration(unit["TimeoutStopSec"] + "s")
	if err != nil {
		t.Fatalf("TimeoutStopSec %q: %v", unit["TimeoutStopSec"], err)
	}
	if stop <= c.Drain {
		t.Errorf("TimeoutStopSec %s does not leave room for drain.timeout %s", stop, c.Drain)
	}
	if unit["RestartPreventExitStatus"] != "2" {
		t.Errorf("RestartPreventExitStatus %q: an invalid configuration (exit 2) would restart in a loop", unit["RestartPreventExitStatus"])
	}
}

func readUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

func readEnvFile(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	return env
}
