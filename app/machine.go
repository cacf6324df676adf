package app

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
)

// avmdModule is FreeSWITCH's voicemail beep detector (confirm.machine_detection).
const avmdModule = "mod_avmd"

// machineDetection knows which nodes can listen for a voicemail's beep: it
// asks each node whether mod_avmd is loaded once it is connected, and again
// after the node restarted (a new Core-UUID), and warns about each node
// without it. Until a node has answered, it has no detection.
type machineDetection struct {
	pool *esl.Pool
	log  *slog.Logger

	mu     sync.Mutex
	asked  map[string]string // node -> the Core-UUID it was asked under
	loaded map[string]bool   // node -> mod_avmd loaded
}

func newMachineDetection(pool *esl.Pool, log *slog.Logger) *machineDetection {
	return &machineDetection{pool: pool, log: log, asked: map[string]string{}, loaded: map[string]bool{}}
}

// on reports whether B's leg on node can be listened to.
func (m *machineDetection) on(node string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loaded[node]
}

// run asks the nodes until ctx is done: every 100 ms while a node has not
// answered (calls on it go without detection meanwhile), every second
// after, to notice a restart.
func (m *machineDetection) run(ctx context.Context) error {
	for {
		wait := time.Second
		for _, h := range m.pool.Health() {
			if h.Connected && h.CommandConns > 0 && m.due(h) {
				m.ask(ctx, h)
			}
			if m.due(h) {
				wait = 100 * time.Millisecond
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (m *machineDetection) due(h esl.NodeHealth) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	core, ok := m.asked[h.Name]
	return !ok || core != h.CoreUUID
}

// ask asks node h whether mod_avmd is loaded.
func (m *machineDetection) ask(ctx context.Context, h esl.NodeHealth) {
	cmd, _ := freeswitch.ModuleExists(avmdModule)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	out, err := m.pool.API(actx, h.Name, cmd)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("could not ask FreeSWITCH whether mod_avmd is loaded; asking again", "node", h.Name, "err", err)
		}
		return
	}
	loaded := strings.TrimSpace(out) == "true"
	m.mu.Lock()
	m.asked[h.Name], m.loaded[h.Name] = h.CoreUUID, loaded
	m.mu.Unlock()
	if loaded {
		m.log.Info("machine detection on", "node", h.Name, "module", avmdModule)
	} else {
		m.log.Warn("WARNING: confirm.machine_detection is on but FreeSWITCH node "+h.Name+" has no mod_avmd loaded: "+
			"calls on it go on without machine detection (B is still asked to confirm). "+
			"Fix: build and load mod_avmd on the node (fs_cli -x 'load mod_avmd', and <load module=\"mod_avmd\"/> in modules.conf.xml), "+
			"or switch confirm.machine_detection off",
			"node", h.Name, "module", avmdModule)
	}
}
