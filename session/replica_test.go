package session_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// childEnv makes the test binary run one engine replica instead of the
// tests, so a test can kill a replica with SIGKILL, as a crash would.
const childEnv = "BGCALL_TEST_REPLICA"

// runChild runs a replica described by the environment until killed.
func runChild() int {
	var nodes []esl.Node
	for i, addr := range strings.Split(os.Getenv("BGCALL_TEST_NODES"), ",") {
		nodes = append(nodes, esl.Node{Name: fmt.Sprintf("fs%d", i+1), Addr: addr, Password: "ClueCon"})
	}
	pool, err := esl.NewPool(nodes, esl.Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go pool.Run(ctx)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.WaitConnected(wctx, len(nodes)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{os.Getenv("BGCALL_TEST_REDIS")}})
	st := store.New(client, store.Options{Namespace: os.Getenv("BGCALL_TEST_NS"), LeaseTTL: time.Second})
	opts := replicaOptions(st, pool, os.Getenv(childEnv))
	opts.Logger = slog.New(slog.DiscardHandler)
	if os.Getenv("BGCALL_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	eng, err := session.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	eng.Run(ctx)
	return 0
}

func replicaOptions(st *store.Store, pool *esl.Pool, replica string) session.Options {
	p := testPolicy()
	p.MaxAttempts = 0
	// 500 ms of simulator time: 200 sessions at once on a loaded machine
	// need room between a far end's scripted answer and its ring timeout.
	p.RingTime, p.CallerRingTime = 25*time.Second, 25*time.Second
	return session.Options{
		Store: st, Pool: pool, Replica: replica, Policy: p,
		LegGrace: 2 * time.Second, PromptTimeout: 2 * time.Second,
		// 10 s of simulator time bounds B's hold. It must outlast a takeover
		// (lease 1 s + a renewal tick) and the survivor then probing and
		// bridging the hundred sessions it adopts at once: on a loaded
		// 2-core machine under -race that took up to 2 s more, so 3 s let
		// B's park time out first now and then.
		ParkTimeout:  500 * time.Second,
		PollInterval: 10 * time.Millisecond, LeaseTTL: time.Second, OrphanGrace: time.Second,
	}
}

// startChild starts a replica in a child process.
func startChild(t *testing.T, h *harness, replica string) *exec.Cmd {
	t.Helper()
	return startChildLogging(t, h, replica, nil)
}

// startChildLogging starts a replica whose log goes to logs, if not nil.
func startChildLogging(t *testing.T, h *harness, replica string, logs io.Writer) *exec.Cmd {
	t.Helper()
	var addrs []string
	for _, n := range h.nodes {
		addrs = append(addrs, n.Addr())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+replica, "BGCALL_TEST_NODES="+strings.Join(addrs, ","),
		"BGCALL_TEST_REDIS="+redisServer.Addr(t), "BGCALL_TEST_NS="+h.ns)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if logs != nil {
		cmd.Stderr = logs
		cmd.Env = append(cmd.Env, "BGCALL_TEST_LOG=1")
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf[:5]) != "ready" {
		t.Fatalf("replica %s did not start: %q %v", replica, buf, err)
	}
	return cmd
}

func TestReplicas(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "two replicas"
		if crash {
			name = "one replica killed mid-run"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withNodes(2), withOptions(func(o *session.Options) {
				*o = replicaOptions(nil, nil, "r1")
				o.Logger = testLogger(t)
			}))
			const sessions = 200
			for i := range sessions {
				a, b := fmt.Sprintf("2%03d", i), fmt.Sprintf("3%03d", i)
				for _, n := range h.nodes {
					// A and B stay on the line: the test hangs A up once the
					// call is bridged. A far end that hung up on a timer of
					// its own would race the bridge, which a slow machine or
					// a takeover delays.
					up := fssim.Behavior{Action: fssim.Answer, Ring: simSecond}
					switch i % 4 {
					case 0:
						n.SetSubscriber(b, up)
					case 1:
						n.SetSubscriber(b, noAnswer, up)
					case 2:
						n.SetSubscriber(b, busy, noAnswer, up)
					case 3:
						n.SetSubscriber(b, fssim.Behavior{Action: fssim.Answer, Ring: 5 * simSecond})
					}
					n.SetSubscriber(a, fssim.Behavior{Action: fssim.Answer, Ring: 2 * simSecond})
				}
			}
			child := startChild(t, h, "r2")
			var ids []string
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := h.create(fmt.Sprintf("2%03d", i), fmt.Sprintf("3%03d", i))
					mu.Lock()
					ids = append(ids, s.ID)
					mu.Unlock()
				}()
			}
			wg.Wait()
			if crash {
				time.Sleep(150 * time.Millisecond)
				child.Process.Signal(syscall.SIGKILL)
				child.Wait()
			}
			for _, id := range ids {
				bridged := h.waitFor(id, "bridged or finished", func(s store.Session) bool {
					return s.State == store.Bridged || s.State == store.Finished
				})
				if bridged.State == store.Bridged {
					kill, err := freeswitch.UUIDKill(bridged.CallerLeg, freeswitch.NormalClearing)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := h.pool.API(context.Background(), bridged.Node, kill); err != nil {
						t.Fatalf("session %s: hang up A: %v", id, err)
					}
				}
				got := h.waitOutcome(id)
				if got.Outcome != store.Completed {
					t.Errorf("session %s: outcome %s\n%s", id, got.Outcome, formatTimeline(h.timeline(id)))
				}
				finished := 0
				for _, e := range h.timeline(id) {
					switch e.Kind {
					case store.KindFinished:
						finished++
					}
				}
				if finished != 1 {
					t.Errorf("session %s finished %d times", id, finished)
				}
			}
			h.waitIdle()
			checkNoOverlap(t, h)
		})
	}
}

// checkNoOverlap fails if any session ever had two callee legs up at once.
func checkNoOverlap(t *testing.T, h *harness) {
	t.Helper()
	type span struct{ start, end time.Time }
	legs := map[string][]span{}
	for _, n := range h.nodes {
		for _, o := range n.Originates() {
			if o.Vars["bgcall_leg"] == "callee" && o.UUID != "" {
				legs[o.Vars["bgcall_session"]] = append(legs[o.Vars["bgcall_session"]], span{o.Start, o.Ended})
			}
		}
	}
	for id, spans := range legs {
		for i := range spans {
			for j := range spans {
				if i != j && spans[i].start.Before(spans[j].start) && (spans[i].end.IsZero() || spans[i].end.After(spans[j].start)) {
					t.Errorf("session %s: callee legs overlap: %v–%v and %v–%v", id, spans[i].start, spans[i].end, spans[j].start, spans[j].end)
				}
			}
		}
	}
}
