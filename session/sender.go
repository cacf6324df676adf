package session

import (
	"context"
	"sync"
)

// sender sends commands to one FreeSWITCH node on behalf of the workers and
// the closer, so that none of them waits for a reply: a worker that did would
// hold up every other session it steers for as long as one node is slow.
//
// Commands carry a key, the session they act for. Commands with one key run
// one at a time in the order they were given, each after the previous one's
// reply (a node spreads commands over several connections, so only the reply
// proves the command reached FreeSWITCH before the next one): a uuid_bridge
// never overtakes the originate or the hold prompt before it, and a hangup
// never overtakes the originate of its leg. Commands with different keys run
// in parallel on a fixed set of goroutines.
type sender struct {
	n       int
	slots   chan struct{} // one per command queued or running: a full queue pushes back
	ready   chan *lane    // lanes whose first command may run now
	stopped <-chan struct{}

	mu    sync.Mutex
	lanes map[string]*lane // keys with commands queued or running
}

// lane holds the commands of one key; the first one is running or ready.
type lane struct {
	key   string
	queue []func(context.Context)
}

func newSender(goroutines, capacity int, stopped <-chan struct{}) *sender {
	return &sender{
		n:     goroutines,
		slots: make(chan struct{}, capacity),
		// Every lane in ready holds at least one slot, so ready never fills.
		ready:   make(chan *lane, capacity),
		stopped: stopped,
		lanes:   make(map[string]*lane),
	}
}

// send queues f behind the commands already queued for key. It blocks only
// while the queue is full, which pushes back on the caller rather than
// dropping a hangup; once the engine has stopped it drops f.
func (s *sender) send(key string, f func(context.Context)) {
	select {
	case s.slots <- struct{}{}:
	case <-s.stopped:
		return
	}
	s.mu.Lock()
	l := s.lanes[key]
	if l != nil {
		l.queue = append(l.queue, f)
		s.mu.Unlock()
		return
	}
	l = &lane{key: key, queue: []func(context.Context){f}}
	s.lanes[key] = l
	s.mu.Unlock()
	s.ready <- l
}

func (s *sender) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case l := <-s.ready:
					s.next(ctx, l)
				}
			}
		}()
	}
	wg.Wait()
}

// next runs the first command of l, then hands l back to the ready queue if
// more commands wait in it.
func (s *sender) next(ctx context.Context, l *lane) {
	s.mu.Lock()
	f := l.queue[0]
	s.mu.Unlock()
	f(ctx)
	<-s.slots
	s.mu.Lock()
	l.queue[0] = nil
	l.queue = l.queue[1:]
	more := len(l.queue) > 0
	if !more {
		delete(s.lanes, l.key)
	}
	s.mu.Unlock()
	if more {
		s.ready <- l
	}
}

// backlog is how many commands are queued or running.
func (s *sender) backlog() int { return len(s.slots) }

// senders gives each node its own sender, so that a slow node holds up only
// its own commands.
type senders struct {
	byNode map[string]*sender
	other  *sender // a node the pool does not know: its commands fail at once
}

func newSenders(nodes []string, stopped <-chan struct{}) *senders {
	ss := &senders{byNode: make(map[string]*sender, len(nodes)), other: newSender(1, 64, stopped)}
	for _, n := range nodes {
		ss.byNode[n] = newSender(senderGoroutines, senderCapacity, stopped)
	}
	return ss
}

// Per node: commands in flight at once (more than the pool's connections to
// a node carry, so that one waiting for a connection does not hold up a
// lane whose command could go), and commands queued before send pushes back.
const (
	senderGoroutines = 32
	senderCapacity   = 4096
)

// send queues f, a command to node on behalf of session key.
func (ss *senders) send(node, key string, f func(context.Context)) {
	s := ss.byNode[node]
	if s == nil {
		s = ss.other
	}
	s.send(key, f)
}

func (ss *senders) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range ss.all() {
		wg.Add(1)
		go func() { defer wg.Done(); s.run(ctx) }()
	}
	wg.Wait()
}

func (ss *senders) all() []*sender {
	out := []*sender{ss.other}
	for _, s := range ss.byNode {
		out = append(out, s)
	}
	return out
}

// leastBacklog is how many commands are queued or running on the node that
// has fewest.
func (ss *senders) leastBacklog() int {
	least := -1
	for _, s := range ss.byNode {
		if b := s.backlog(); least < 0 || b < least {
			least = b
		}
	}
	return max(least, 0)
}

// backlog is how many commands are queued or running on every node.
func (ss *senders) backlog() int {
	n := ss.other.backlog()
	for _, s := range ss.byNode {
		n += s.backlog()
	}
	return n
}
