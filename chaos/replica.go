package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/session"
)

// replicaEnv carries a replica child's configuration, as JSON. Its presence
// makes the process serve as that replica (ServeReplica) instead of running
// the fault run.
const replicaEnv = "BGCALL_CHAOS_REPLICA"

// IsReplica reports whether this process was started as a replica of a
// fault run; it must then call ServeReplica and exit with its code.
func IsReplica() bool { return os.Getenv(replicaEnv) != "" }

// replicaConfig is what a child needs to be one bgcall daemon: the daemon's
// own configuration, and the engine timings the configuration does not
// expose (as app.Options.Engine sets them).
type replicaConfig struct {
	Config        config.Config
	Log           string // file the daemon's log and the child's stderr go to
	LegGrace      time.Duration
	PromptTimeout time.Duration
	ParkTimeout   time.Duration
	OrphanGrace   time.Duration
	PollInterval  time.Duration
}

// ServeReplica runs the bgcall daemon described by the environment until
// SIGTERM (a graceful stop) or SIGKILL (a crash), and returns the exit code.
// Once the API listens it writes "ready <api address>" on stdout.
func ServeReplica() int {
	var rc replicaConfig
	if err := json.Unmarshal([]byte(os.Getenv(replicaEnv)), &rc); err != nil {
		fmt.Fprintf(os.Stderr, "chaos replica: bad %s: %v\n", replicaEnv, err)
		return 2
	}
	logf, err := os.OpenFile(rc.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos replica: %v\n", err)
		return 2
	}
	defer logf.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := app.Start(ctx, app.Options{
		Config:    rc.Config,
		LogOutput: logf,
		Engine: func(o *session.Options) {
			o.LegGrace, o.PromptTimeout, o.ParkTimeout = rc.LegGrace, rc.PromptTimeout, rc.ParkTimeout
			o.OrphanGrace, o.PollInterval = rc.OrphanGrace, rc.PollInterval
		},
	})
	if err != nil {
		fmt.Fprintf(logf, "chaos replica %s: %v\n", rc.Config.ReplicaID, err)
		return 1
	}
	fmt.Printf("ready %s\n", d.APIAddr())
	if err := d.Wait(); err != nil {
		fmt.Fprintf(logf, "chaos replica %s: %v\n", rc.Config.ReplicaID, err)
		return 1
	}
	return 0
}

// replica is the run's handle on one child daemon.
type replica struct {
	id     string
	cmd    *exec.Cmd
	client *api.Client
	exited chan struct{} // closed once the child has been waited for
}

// startReplica starts argv as the replica rc describes and waits until its
// API listens.
func startReplica(argv []string, rc replicaConfig) (*replica, error) {
	b, err := json.Marshal(rc)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(rc.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), replicaEnv+"="+string(b))
	cmd.Stderr = logf // panics and race reports, beside the daemon's log
	orphanProof(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica %s: %w", rc.Config.ReplicaID, err)
	}
	r := &replica{id: rc.Config.ReplicaID, cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- addr
			}
		}
		cmd.Wait()
		close(r.exited)
	}()
	select {
	case addr := <-ready:
		r.client = &api.Client{Base: "http://" + addr, Name: "chaos",
			HTTP: &http.Client{Timeout: requestTimeout}}
		return r, nil
	case <-r.exited:
		return nil, fmt.Errorf("replica %s exited before it was ready; see %s", r.id, rc.Log)
	case <-time.After(30 * time.Second):
		r.kill()
		return nil, fmt.Errorf("replica %s not ready within 30s; see %s", r.id, rc.Log)
	}
}

// requestTimeout bounds one API request: above go-redis's 3 s read
// timeout, which a dropped Redis reply makes a request wait for (twice,
// should the retry's reply be lost too).
const requestTimeout = 10 * time.Second

// kill ends the child with SIGKILL, as a crash would, and waits for it.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	<-r.exited
}

// stop ends the child with SIGTERM, as an operator would, killing it if it
// does not stop within the bound.
func (r *replica) stop(bound time.Duration) error {
	r.cmd.Process.Signal(syscall.SIGCONT)
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		if !r.cmd.ProcessState.Success() {
			return fmt.Errorf("replica %s: %v", r.id, r.cmd.ProcessState)
		}
		return nil
	case <-time.After(bound):
		r.kill()
		return fmt.Errorf("replica %s did not stop within %v of SIGTERM; killed", r.id, bound)
	}
}

func (r *replica) signal(sig syscall.Signal) error {
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("replica %s: %v: %w", r.id, sig, err)
	}
	return nil
}

// errNoReplica: every replica is down or paused at the moment.
var errNoReplica = errors.New("no replica is running")
