package chaos

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"bgcall/api"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/internal/redistest"
)

// cluster is what the run starts and breaks: one redis-server behind a
// fault proxy, the simulated nodes, and the replicas.
type cluster struct {
	o       *Options
	argv    []string
	ns      string
	redis   *redistest.Server
	proxy   *redistest.Proxy
	scripts *scriptCensus
	nodes   []*fssim.Node
	names   []string // the nodes' names, as bgcall knows them

	mu       sync.Mutex
	slots    []*slot
	restarts int               // replica ids handed out after the first ones
	errs     []error           // the run itself failed (a replica that would not start)
	lost     []<-chan struct{} // closed once the reply it stands for was lost
	next     atomic.Uint32
	pending  sync.WaitGroup // restarts and wake-ups still to come
}

// slot is one of the replicas: it may be down (killed, not yet restarted)
// or paused.
type slot struct {
	r      *replica // nil while down
	paused bool
	logs   []string // every log file it wrote, one per replica id
}

func startCluster(o *Options, argv []string, seed uint64) (*cluster, error) {
	c := &cluster{o: o, argv: argv, ns: fmt.Sprintf("chaos%d", seed)}
	var err error
	if c.redis, err = redistest.StartServer(); err != nil {
		return nil, err
	}
	if c.proxy, err = redistest.NewProxy(c.redis.Addr); err != nil {
		c.close()
		return nil, err
	}
	c.scripts = newScriptCensus(c.proxy)
	for i := range o.Nodes {
		n, err := fssim.Start(fssim.Options{
			Hostname:       fmt.Sprintf("fs%d", i+1),
			PromptDuration: promptLength,
			RecordLimit:    1 << 22, // everything: the checker reads it all
		})
		if err != nil {
			c.close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.names = append(c.names, fmt.Sprintf("fs%d", i+1))
	}
	for i := range o.Replicas {
		s := &slot{}
		c.slots = append(c.slots, s)
		r, err := c.launch(s, fmt.Sprintf("r%d", i+1))
		if err != nil {
			c.close()
			return nil, err
		}
		s.r = r
	}
	return c, nil
}

// launch starts a replica under id for slot s.
func (c *cluster) launch(s *slot, id string) (*replica, error) {
	cfg := config.Defaults()
	cfg.ReplicaID = id
	cfg.Namespace = c.ns
	cfg.Redis.Addrs = []string{c.proxy.Addr}
	cfg.FreeSWITCH.Nodes = nil
	for i, n := range c.nodes {
		cfg.FreeSWITCH.Nodes = append(cfg.FreeSWITCH.Nodes, config.Node{Name: c.names[i], Addr: n.Addr(), Password: n.Password()})
	}
	cfg.Dial.Domain = "chaos.test"
	cfg.Retry = config.Retry{
		RingTime: ringTime, CallerRing: ringTime, FirstInterval: retryInterval, Backoff: 1,
		MaxInterval: retryInterval, MaxAttempts: maxAttempts, MaxTotal: maxTotal,
		QuietStart: -1, QuietEnd: -1, Timezone: "UTC",
		Causes: []config.CauseRule{{Cause: "USER_BUSY", Action: config.ActionRetry, Delay: retryInterval}},
	}
	// The prompts the run plays; the others (confirmation mode's) keep their defaults.
	cfg.Prompts.Hold, cfg.Prompts.CallerUnavailable, cfg.Prompts.Cancelled = "chaos/hold.wav", "chaos/unavailable.wav", "chaos/cancelled.wav"
	cfg.Notify.Mode = "chat"
	cfg.Limits = config.Limits{PerCaller: 5, PerCallee: 5}
	cfg.API.Listen = "127.0.0.1:0"
	cfg.LeaseTTL = leaseTTL
	cfg.Drain = 5 * time.Second
	log := filepath.Join(c.o.Dir, id+".log")
	c.mu.Lock()
	s.logs = append(s.logs, log)
	c.mu.Unlock()
	return startReplica(c.argv, replicaConfig{Config: cfg, Log: log,
		LegGrace: legGrace, PromptTimeout: promptTimeout, ParkTimeout: parkTimeout,
		OrphanGrace: orphanGrace, PollInterval: pollInterval})
}

// client returns the API of a running replica, a different one each call.
func (c *cluster) client() (*api.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up := c.runningLocked()
	if len(up) == 0 {
		return nil, errNoReplica
	}
	return up[int(c.next.Add(1))%len(up)].r.client, nil
}

// runningLocked lists the slots whose replica runs (neither down nor
// paused); c.mu is held.
func (c *cluster) runningLocked() []*slot {
	var up []*slot
	for _, s := range c.slots {
		if s.r != nil && !s.paused {
			up = append(up, s)
		}
	}
	return up
}

// inject carries out f and says what it hit, or why it hit nothing. A
// replica is killed or paused only while every other one runs: one
// machine fails at a time (a kill or a pause while another replica is down
// or paused is skipped and counted). Redis and FreeSWITCH faults come on
// top of it at any time.
func (c *cluster) inject(f faultPlan) (string, bool) {
	switch f.kind {
	case faultKill, faultKillNewID:
		return c.kill(f)
	case faultPause:
		return c.pause(f)
	case faultRedisDrop, faultRedisCut:
		target, ok := c.scripts.pick(f.pick)
		if !ok {
			return "no script seen yet", false
		}
		lost := c.proxy.DropReply
		if f.kind == faultRedisCut {
			lost = c.proxy.CutAfter
		}
		ch := lost(f.nth, target.match)
		c.mu.Lock()
		c.lost = append(c.lost, ch)
		c.mu.Unlock()
		return fmt.Sprintf("run %d from now of the script on %s", f.nth, target.name), true
	case faultRedisCutAll:
		c.proxy.CutAll()
		return "every connection", true
	case faultESLCut:
		i := int(f.pick) % len(c.nodes)
		c.nodes[i].DropConnections()
		return c.names[i], true
	case faultNodeRestart:
		i := int(f.pick) % len(c.nodes)
		c.nodes[i].Restart()
		return c.names[i], true
	}
	return "unknown fault", false
}

func (c *cluster) kill(f faultPlan) (string, bool) {
	c.mu.Lock()
	up := c.runningLocked()
	if len(up) < len(c.slots) {
		c.mu.Unlock()
		return "another replica is down or paused", false
	}
	s := up[int(f.pick)%len(up)]
	r := s.r
	s.r = nil
	c.mu.Unlock()
	r.kill()
	id := r.id
	if f.kind == faultKillNewID {
		c.mu.Lock()
		c.restarts++
		id = fmt.Sprintf("%s-%d", strings.SplitN(r.id, "-", 2)[0], c.restarts)
		c.mu.Unlock()
	}
	c.pending.Add(1)
	time.AfterFunc(f.hold, func() {
		defer c.pending.Done()
		nr, err := c.launch(s, id)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.errs = append(c.errs, err)
			return
		}
		s.r = nr
	})
	return fmt.Sprintf("%s, back as %s after %v", r.id, id, f.hold.Round(time.Millisecond)), true
}

func (c *cluster) pause(f faultPlan) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up := c.runningLocked()
	if len(up) < len(c.slots) {
		return "another replica is down or paused", false
	}
	s := up[int(f.pick)%len(up)]
	if err := s.r.signal(syscall.SIGSTOP); err != nil {
		c.errs = append(c.errs, err)
		return err.Error(), false
	}
	s.paused = true
	r := s.r
	c.pending.Add(1)
	time.AfterFunc(f.hold, func() {
		defer c.pending.Done()
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := r.signal(syscall.SIGCONT); err != nil {
			c.errs = append(c.errs, err)
		}
		s.paused = false
	})
	return fmt.Sprintf("%s for %v", r.id, f.hold.Round(time.Millisecond)), true
}

// calm waits for every killed replica to be back and every paused one to
// run again.
func (c *cluster) calm() error {
	c.pending.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// stop stops every replica gracefully.
func (c *cluster) stop() error {
	c.mu.Lock()
	slots := append([]*slot(nil), c.slots...)
	c.mu.Unlock()
	var errs []error
	for _, s := range slots {
		if s.r != nil {
			if err := s.r.stop(15 * time.Second); err != nil {
				errs = append(errs, err)
			}
			s.r = nil
		}
	}
	return errors.Join(errs...)
}

// close ends whatever is still running, however the run ended, once no
// restart is still to come.
func (c *cluster) close() {
	c.pending.Wait()
	for _, s := range c.slots {
		if s.r != nil {
			s.r.kill()
		}
	}
	for _, n := range c.nodes {
		n.Close()
	}
	if c.proxy != nil {
		c.proxy.Close()
	}
	if c.redis != nil {
		c.redis.Stop()
	}
}

// repliesLost counts the Redis replies that were lost as planned (a
// planned loss waits for its script to run that often).
func (c *cluster) repliesLost() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ch := range c.lost {
		select {
		case <-ch:
			n++
		default:
		}
	}
	return n
}

// logs lists every replica log of the run.
func (c *cluster) logs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.slots {
		out = append(out, s.logs...)
	}
	return out
}

// scriptCensus learns which Lua scripts the replicas run, so that a lost
// reply can be aimed at each kind of script alike rather than mostly at
// the claim, which runs many times a second.
type scriptCensus struct {
	mu   sync.Mutex
	seen map[string]string // SHA-1 → what its first key names
}

func newScriptCensus(p *redistest.Proxy) *scriptCensus {
	sc := &scriptCensus{seen: make(map[string]string)}
	// A rule that never matches sees every command and drops nothing.
	p.DropReply(1, func(cmd redistest.Command) bool {
		if cmd.Name == "EVALSHA" && len(cmd.Args) > 2 {
			sc.mu.Lock()
			if _, ok := sc.seen[cmd.Args[0]]; !ok {
				sc.seen[cmd.Args[0]] = keyShape(cmd.Args[2])
			}
			sc.mu.Unlock()
		}
		return false
	})
	return sc
}

// keyShape is a key without its namespace and ids: what it is, not which.
func keyShape(key string) string {
	parts := strings.Split(key, ":")
	if len(parts) > 1 {
		parts = parts[1:]
	}
	for i, p := range parts {
		if len(p) >= 16 || strings.ContainsAny(p, "0123456789") {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ":")
}

type scriptTarget struct {
	name  string
	match func(redistest.Command) bool
}

// pick chooses one of the scripts seen so far.
func (sc *scriptCensus) pick(n uint32) (scriptTarget, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.seen) == 0 {
		return scriptTarget{}, false
	}
	shas := make([]string, 0, len(sc.seen))
	for sha := range sc.seen {
		shas = append(shas, sha)
	}
	sort.Strings(shas)
	sha := shas[int(n)%len(shas)]
	return scriptTarget{name: fmt.Sprintf("%s (%.7s)", sc.seen[sha], sha), match: redistest.RunsScript(sha)}, true
}
