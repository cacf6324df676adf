package fssim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"bgcall/internal/uuid"
)

// Options configures a node. The zero value is a usable node on a free
// loopback port with password ClueCon.
type Options struct {
	// Addr to listen on; default "127.0.0.1:0".
	Addr string
	// Password for auth; default "ClueCon".
	Password string
	// Hostname is FreeSWITCH-Hostname/-Switchname; default "fssim".
	Hostname string
	// IPv4 and IPv6 are FreeSWITCH-IPv4/-IPv6; defaults 127.0.0.1 and ::1.
	IPv4, IPv6 string
	// Second is how long one FreeSWITCH second lasts: originate_timeout and
	// park_timeout are counted in it. Default time.Second; tests use e.g.
	// 20ms so that a whole call finishes in well under a second.
	Second time.Duration
	// Heartbeat is the HEARTBEAT period; default 20 Seconds. Negative disables.
	Heartbeat time.Duration
	// AuthTimeout closes a connection whose first command has not come
	// within it; default 25s. As in FreeSWITCH, only the first command has a
	// deadline, whether it authenticates or not.
	AuthTimeout time.Duration
	// Default is the far-end behaviour of numbers not in Subscribers; the zero
	// value answers after one Second.
	Default Behavior
	// Subscribers script far ends by number: each originate to a number takes
	// the next Behavior of its sequence, the last one repeating.
	Subscribers map[string][]Behavior
	// PromptDuration is how long a played file lasts; default one Second.
	PromptDuration time.Duration
	// Prompts sets durations per file path (as sent in uuid_broadcast).
	Prompts map[string]time.Duration
	// SoundsDir is where a file given by a relative path is found; PLAYBACK
	// events name it there, as FreeSWITCH does. Default
	// /usr/local/freeswitch/sounds, FreeSWITCH's own default.
	SoundsDir string
	// MaxSessions and SessionsPerSecond limit originates as FreeSWITCH's
	// max-sessions and sessions-per-second do; 0 means no limit.
	MaxSessions, SessionsPerSecond int
	// ShowLag makes show channels/calls answer from a table up to this old,
	// as FreeSWITCH's may lag by about a second; 0 answers from live state.
	ShowLag time.Duration
	// RecordLimit bounds each list of the record (commands, originates,
	// bridges, prompts, chats); the oldest entries go first. Default 10000;
	// negative records nothing (long runs, benchmarks).
	RecordLimit int
	// EventQueue is how many events may wait for a slow client before
	// FreeSWITCH-style dropping starts; default 20000.
	EventQueue int
	// OriginateReturn is how long an originate takes to return once its leg
	// answered (or, without ignore_early_media, had early media): then its
	// BACKGROUND_JOB says +OK and the leg runs its application (CHANNEL_PARK).
	// FreeSWITCH's originate notices the answer on its next poll, 0 to 20 ms
	// later on loopback; default 20ms, negative returns at once.
	OriginateReturn time.Duration
	// EarlyBridge is what a uuid_bridge does to a leg that answered but whose
	// originate has not returned yet; see EarlyBridge.
	EarlyBridge EarlyBridge
	// AVMD loads a stand-in for mod_avmd, FreeSWITCH's voicemail beep
	// detector: "module_exists mod_avmd" answers true and "avmd <uuid>
	// start" listens on the leg (a far end's Behavior.Beep fires
	// CUSTOM avmd::beep); without it, as on a FreeSWITCH built without the
	// module, module_exists answers false and avmd is no command.
	AVMD bool
	// Logger receives connection-level diagnostics; default discards.
	Logger *slog.Logger
}

// EarlyBridge is the outcome of a race in FreeSWITCH: a uuid_bridge that
// reaches a leg after its CHANNEL_ANSWER but before its originate returned.
// Whichever it is, the bridge happens and the leg lives on; only the
// originate's BACKGROUND_JOB differs. The simulator does not race: it takes
// the outcome set here, every time.
type EarlyBridge int

const (
	// CancelThenBridge ends the originate with -ERR ORIGINATOR_CANCEL
	// before CHANNEL_BRIDGE, as FreeSWITCH 1.10.12 does whenever the bridge
	// wins (recorded in testdata/freeswitch/flows.json, "bridge on
	// answer"). The default: the outcome a controller most easily gets wrong.
	CancelThenBridge EarlyBridge = iota
	// BridgeThenCancel fires CHANNEL_BRIDGE before the job's -ERR
	// ORIGINATOR_CANCEL, an order reported from FreeSWITCH under load but
	// not in the recordings.
	BridgeThenCancel
	// ReturnThenBridge lets the originate win: +OK, CHANNEL_PARK, then the
	// bridge, which is what FreeSWITCH does most often.
	ReturnThenBridge
)

func (o *Options) defaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Password == "" {
		o.Password = "ClueCon"
	}
	if o.Hostname == "" {
		o.Hostname = "fssim"
	}
	if o.IPv4 == "" {
		o.IPv4 = "127.0.0.1"
	}
	if o.IPv6 == "" {
		o.IPv6 = "::1"
	}
	if o.Second <= 0 {
		o.Second = time.Second
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 20 * o.Second
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 25 * time.Second
	}
	if o.PromptDuration <= 0 {
		o.PromptDuration = o.Second
	}
	if o.SoundsDir == "" {
		o.SoundsDir = "/usr/local/freeswitch/sounds"
	}
	if o.RecordLimit == 0 {
		o.RecordLimit = 10000
	}
	if o.OriginateReturn == 0 {
		o.OriginateReturn = 20 * time.Millisecond
	}
	if o.EventQueue <= 0 {
		o.EventQueue = 20000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Node is one simulated FreeSWITCH process: one Core-UUID, one event
// sequence, its channels, and an event socket on its own port.
type Node struct {
	opts Options
	ln   net.Listener
	addr string // ln's address, which every originate record carries

	mu       sync.Mutex
	coreUUID string
	gen      int // bumped by Restart; timers of an older generation do nothing
	seq      uint64
	started  time.Time
	closed   bool
	conns    map[*conn]struct{}
	channels map[string]*channel
	sessions int // sessions since startup
	peak     int
	sessID   int
	attempts map[string]int
	timers   timerQueue  // pending timers, earliest deadline first
	timerSeq uint64      // timers armed so far
	wake     *time.Timer // serves the timers at the earliest deadline
	wakeAt   time.Time   // when wake fires; zero if it is not armed
	rec      record
	faults   faults
	subs     map[string][]Behavior
	def      Behavior
	prompts  map[string]time.Duration
	snapshot *showSnapshot // show channels/calls table, for the show lag

	// hangups counts the hangups under way, nested when one leg's hangup
	// takes another down; destroyLater are the legs whose CHANNEL_DESTROY
	// waits for the outermost one's HANGUP_COMPLETE.
	hangups      int
	destroyLater []*channel

	// liveChannels counts the channels not hanging up; originates, status
	// and heartbeats read it, so it is kept rather than scanned for.
	liveChannels int

	// spareEvents are delivered events kept for reuse (see takeEvent).
	spareEvents []*event
	// events is what the connections subscribed to, as a whole.
	events subscriptions

	// Event-Date-Local/-GMT of the current second, formatted once.
	dateSec            int64
	dateLocal, dateGMT string

	wg sync.WaitGroup
}

// Start starts a node listening on opts.Addr.
func Start(opts Options) (*Node, error) {
	opts.defaults()
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("fssim: listen on %s: %w", opts.Addr, err)
	}
	n := &Node{
		opts:     opts,
		ln:       ln,
		addr:     ln.Addr().String(),
		coreUUID: uuid.New(),
		started:  time.Now(),
		conns:    make(map[*conn]struct{}),
		channels: make(map[string]*channel),
		attempts: make(map[string]int),
		subs:     make(map[string][]Behavior),
		prompts:  make(map[string]time.Duration),
		def:      opts.Default,
	}
	for k, v := range opts.Subscribers {
		n.subs[k] = append([]Behavior(nil), v...)
	}
	for k, v := range opts.Prompts {
		n.prompts[k] = v
	}
	n.rec.limit = opts.RecordLimit
	n.faults.maxSessions = opts.MaxSessions
	n.faults.sps = opts.SessionsPerSecond
	n.faults.showLag = opts.ShowLag
	n.mu.Lock()
	n.scheduleHeartbeat()
	n.mu.Unlock()
	n.wg.Add(1)
	go n.acceptLoop()
	return n, nil
}

// Addr is the host:port the node's event socket listens on.
func (n *Node) Addr() string { return n.addr }

// Password is the event socket password.
func (n *Node) Password() string { return n.opts.Password }

// CoreUUID is the node's current Core-UUID; it changes on Restart.
func (n *Node) CoreUUID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.coreUUID
}

// Close stops the node: clients get the disconnect notice, channels vanish
// without events (as when the process exits), and every goroutine ends
// before Close returns.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.abortOriginatesLocked()
	n.stopTimersLocked()
	conns := n.takeConnsLocked()
	n.dropChannelsLocked()
	n.mu.Unlock()
	err := n.ln.Close()
	for _, c := range conns {
		c.shutdown(true)
	}
	n.wg.Wait()
	return err
}

// Restart simulates a FreeSWITCH restart: every client gets the disconnect
// notice and is closed, every channel is gone without events, and the node
// comes back on the same port with a new Core-UUID and a fresh event
// sequence.
func (n *Node) Restart() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.gen++
	n.abortOriginatesLocked()
	n.stopTimersLocked()
	conns := n.takeConnsLocked()
	for _, ch := range n.channels {
		n.rec.channelGone(ch, time.Now())
	}
	n.dropChannelsLocked()
	n.coreUUID = uuid.New()
	n.seq = 0
	n.started = time.Now()
	n.sessions, n.peak = 0, 0
	n.scheduleHeartbeat()
	n.mu.Unlock()
	for _, c := range conns {
		c.shutdown(true)
	}
}

// abortOriginatesLocked answers originates still dialling, so that no
// client waits on a node that is going away.
func (n *Node) abortOriginatesLocked() {
	for _, ch := range n.channels {
		if ch.orig != nil {
			ch.orig.finish("-ERR SYSTEM_SHUTDOWN\n")
			ch.orig = nil
		}
	}
}

// addChannel registers a new leg: it exists, counts as live and may raise
// the session peak.
func (n *Node) addChannel(ch *channel) {
	n.channels[ch.uuid] = ch
	n.sessions++
	n.liveChannels++
	if n.liveChannels > n.peak {
		n.peak = n.liveChannels
	}
}

// markGone starts a leg's hangup: from now on it no longer counts as live.
// A leg Restart already dropped is not counted twice.
func (n *Node) markGone(ch *channel) {
	if ch.gone {
		return
	}
	ch.gone = true
	if n.channels[ch.uuid] == ch {
		n.liveChannels--
	}
}

// dropChannelsLocked forgets every channel without events, as a process
// that exits does.
func (n *Node) dropChannelsLocked() {
	n.channels = make(map[string]*channel)
	n.liveChannels = 0
}

func (n *Node) takeConnsLocked() []*conn {
	conns := make([]*conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.conns = make(map[*conn]struct{})
	return conns
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		nc, err := n.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.opts.Logger.Warn("fssim: accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			nc.Close()
			return
		}
		c := newConn(n, nc)
		n.conns[c] = struct{}{}
		n.mu.Unlock()
		c.start()
	}
}

func (n *Node) removeConn(c *conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
}
