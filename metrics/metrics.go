// Package metrics exports bgcall's Prometheus metrics.
//
// Every metric is named bgcall_*, follows Prometheus naming rules (base
// units in the name, _total on counters) and carries only bounded labels:
// each label takes its values from a fixed list below, and a value outside
// the list is counted under "other" (dial result classes fall back to
// "error"). The node label takes the FreeSWITCH node names from the
// configuration. New creates every series at zero, so rate() and absent()
// work from the first scrape and a dashboard never shows a gap for a
// result that has not happened yet; after New and AddNode the set of series
// never grows.
//
// A nil *Metrics is valid: every method does nothing, so packages run and
// test without metrics.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"bgcall/freeswitch"
)

const namespace = "bgcall"

// other is the label value recorded for any value outside a label's list.
const other = "other"

// Label values. Values outside these lists are recorded as "other".
var (
	// Sources are the entry points a session can be requested from.
	Sources = []string{"api", "cli", "feature_code", "offer", other}
	// Outcomes are the outcomes a session finishes with.
	Outcomes = []string{"completed", "caller_missed", "caller_busy", "callee_left", "cancelled", "expired", "failed", "declined", other}
	// LiveStates are the states of a session that has not finished.
	LiveStates = []string{"waiting", "dialing_callee", "confirming", "callee_hold", "bridged", other}
	// Legs are the two calls bgcall places: to B (callee) and to A (caller).
	Legs = []string{"callee", "caller", other}
	// Classes are the dial result classes: the classes of hangup causes.
	Classes = freeswitch.Classes()
	// Channels are the ways bgcall notifies a caller who missed the call.
	Channels = []string{"chat", "webhook", other}
	// NotificationResults are the results of one notification try.
	NotificationResults = []string{"sent", "failed", "retried", other}
	// ReactionSteps are the commands bgcall sends as soon as a leg answers:
	// A's originate once B answered, uuid_bridge once A answered.
	ReactionSteps = []string{"caller_originate", "bridge", other}
	// BusyWhens are the moments A is asked whether A is in a call: once B
	// answered (callee_answered), or before B is dialled (before_callee).
	BusyWhens = []string{"callee_answered", "before_callee", other}
	// BusyResults are the answers about A: free, busy, or unknown (the
	// node could not tell; A is rung or B dialled anyway).
	BusyResults = []string{"free", "busy", "unknown", other}
	// CommandKinds are the ways a command reaches FreeSWITCH.
	CommandKinds = []string{"api", "bgapi", other}
	// HTTPCodes are the classes of the API's response statuses.
	HTTPCodes = []string{"2xx", "3xx", "4xx", "5xx"}
	// PhoneConnections are what becomes of a connection from FreeSWITCH's
	// socket application: handled, or refused (no channel data, or a
	// channel the replica cannot vouch for).
	PhoneConnections = []string{"handled", "refused", other}
	// PhoneOffers are the steps of the in-call offer: made (A heard it),
	// accepted (A pressed 1), declined (another key or none).
	PhoneOffers = []string{"made", "accepted", "declined", other}
	// RefusalReasons are why a request for a session was refused: the
	// callee opted out of background calls (from every caller or from
	// this one), or the caller or the callee has as many live sessions as
	// the limits allow.
	RefusalReasons = []string{"opted_out", "limit", other}
	// Confirmations are what became of asking B to confirm (press 1):
	// confirmed (1), declined (2), no_digit (no key in time: a voicemail,
	// or nobody), machine (mod_avmd heard a voicemail's beep), hung_up (B
	// hung up first).
	Confirmations = []string{"confirmed", "declined", "no_digit", "machine", "hung_up", other}
	// RedisOps are the store operations a Redis error is counted against,
	// named after the store calls the session engine makes; "quarantine"
	// counts the session records the store set aside because they could
	// not be decoded, "data_loss" the times a replica found that Redis had
	// lost its data.
	RedisOps = []string{"create", "apply", "cancel", "get", "timeline", "list", "claim",
		"heartbeat", "takeover", "release", "owned", "lookup", "live_counts", "subscribe", "quarantine", "data_loss", "optout", "outbox", "sending", other}
	// WebhookResults are the results of one try to deliver a lifecycle
	// event: ok (2xx), retry (failed, tried again later), failed (given
	// up, or dropped before it reached the outbox).
	WebhookResults = []string{"ok", "retry", "failed", other}
)

// Histogram buckets, chosen for what each one measures.
var (
	// A background call exists because B does not answer: B may answer in
	// seconds or after hours of retries, up to the policy's total time cap.
	requestToAnswerBuckets = []float64{
		5, 15, 30, 60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60,
		3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 24 * 3600,
	}
	// Attempts per session: 0 (cancelled before the first dial) to the
	// largest caps an operator is likely to configure.
	attemptBuckets = []float64{0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50}
	// Conversation length once A and B are bridged.
	bridgeDurationBuckets = []float64{5, 10, 30, 60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600}
	// How late the scheduler starts a due attempt: milliseconds when
	// healthy, seconds when Redis or the replica is struggling.
	schedulerLagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	// From an answer event read to the command it calls for written: a
	// fraction of a millisecond when the replica keeps up; A and B hear the
	// tail as silence.
	reactionBuckets = []float64{.00025, .0005, .001, .002, .003, .005, .0075, .01, .025, .05, .1, .25, .5, 1}
	// ESL command round trip: sub-millisecond on a LAN, up to the command
	// timeout when a node hangs.
	commandBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// One webhook try: milliseconds for a healthy endpoint, up to the
	// try's timeout (webhooks.timeout) for one that hangs.
	webhookBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// BuildInfo identifies the running binary in bgcall_build_info.
type BuildInfo struct {
	Version, Revision, GoVersion string
}

// Metrics holds bgcall's metrics. It is a prometheus.Collector; New
// registers it. Its methods are safe for concurrent use and for a nil
// receiver.
type Metrics struct {
	sessionsCreated  *prometheus.CounterVec
	sessionsFinished *prometheus.CounterVec
	sessionsRefused  *prometheus.CounterVec
	sessionDuration  *prometheus.HistogramVec
	sessionAttempts  prometheus.Histogram
	dialAttempts     *prometheus.CounterVec
	retries          prometheus.Counter
	calleeAnswer     prometheus.Histogram
	bridge           prometheus.Histogram
	bridgeDuration   prometheus.Histogram
	notifications    *prometheus.CounterVec
	schedulerLag     prometheus.Histogram
	reaction         *prometheus.HistogramVec
	redisErrors      *prometheus.CounterVec
	eslConnected     *prometheus.GaugeVec
	eslReconnects    *prometheus.CounterVec
	eslCommand       *prometheus.HistogramVec
	eslCommandErrors *prometheus.CounterVec
	buildInfo        *prometheus.GaugeVec
	httpRequests     *prometheus.CounterVec
	phoneConns       *prometheus.CounterVec
	phoneOffers      *prometheus.CounterVec
	webhooks         *prometheus.CounterVec
	webhookLatency   prometheus.Histogram
	webhookBacklog   prometheus.Gauge
	busyChecks       *prometheus.CounterVec
	confirmations    *prometheus.CounterVec
	live             *liveCollector

	collectors []prometheus.Collector

	mu     sync.Mutex
	nodes  map[string]bool
	routes map[string]bool
}

// New creates bgcall's metrics with every series at zero and registers them
// on reg. reg is the daemon's own registry (see NewRegistry), never the
// global default one. With a nil reg the metrics are kept but exported
// nowhere. Registering twice on one registry panics.
func New(reg prometheus.Registerer, build BuildInfo) *Metrics {
	m := &Metrics{
		sessionsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sessions_created_total",
			Help: "Background-call sessions created, by the entry point that requested them.",
		}, []string{"source"}),
		sessionsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sessions_refused_total",
			Help: "Requests for a background-call session refused, by the entry point that made them and why: opted_out (B refuses background calls), limit (live session limits).",
		}, []string{"source", "reason"}),
		sessionsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sessions_finished_total",
			Help: "Background-call sessions finished, by outcome.",
		}, []string{"outcome"}),
		sessionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "session_duration_seconds",
			Help:    "Time from a session's request to its end, by outcome.",
			Buckets: requestToAnswerBuckets,
		}, []string{"outcome"}),
		sessionAttempts: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "session_attempts",
			Help:    "Callee (B) dial attempts a session made before it finished.",
			Buckets: attemptBuckets,
		}),
		dialAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "dial_attempts_total",
			Help: "Finished dial attempts, by leg (callee is B, caller is A) and result class of the FreeSWITCH hangup cause.",
		}, []string{"leg", "class"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "retries_total",
			Help: "Callee (B) attempts scheduled again after an unanswered attempt.",
		}),
		calleeAnswer: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "callee_answer_seconds",
			Help:    "Time from a session's request to B answering the callee leg.",
			Buckets: requestToAnswerBuckets,
		}),
		bridge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "bridge_seconds",
			Help:    "Time from a session's request to A and B being bridged.",
			Buckets: requestToAnswerBuckets,
		}),
		bridgeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "bridge_duration_seconds",
			Help:    "Length of the bridged conversation between A and B.",
			Buckets: bridgeDurationBuckets,
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "notifications_total",
			Help: "Missed-call notifications to the caller (A), by channel and result of each try.",
		}, []string{"channel", "result"}),
		schedulerLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "scheduler_lag_seconds",
			Help:    "How late the scheduler claimed a due attempt, measured from its due time.",
			Buckets: schedulerLagBuckets,
		}),
		reaction: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "reaction_seconds",
			Help: "From an answer event read off FreeSWITCH's socket to the command it calls for written to it: " +
				"B's answer to A's originate (caller_originate), A's answer to uuid_bridge (bridge).",
			Buckets: reactionBuckets,
		}, []string{"step"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "redis_errors_total",
			Help: "Failed Redis operations of the session store, by operation.",
		}, []string{"op"}),
		eslConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "esl_connected",
			Help: "1 when this replica's event-socket connection to the FreeSWITCH node is up, 0 when not.",
		}, []string{"node"}),
		eslReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "esl_reconnects_total",
			Help: "Event-socket connections to the FreeSWITCH node re-established after a loss.",
		}, []string{"node"}),
		eslCommand: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "esl_command_duration_seconds",
			Help:    "Round trip of event-socket commands to the FreeSWITCH node, failed ones included.",
			Buckets: commandBuckets,
		}, []string{"node", "kind"}),
		eslCommandErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "esl_command_errors_total",
			Help: "Event-socket commands that failed: transport errors, timeouts and -ERR replies, except \"No such channel\" for a leg already gone.",
		}, []string{"node", "kind"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; labels identify the running bgcall build.",
		}, []string{"version", "revision", "goversion"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP API requests answered, by route (method and path pattern) and status class.",
		}, []string{"route", "code"}),
		phoneConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "phone_connections_total",
			Help: "Connections from FreeSWITCH's socket application to the phone listener, handled or refused.",
		}, []string{"result"}),
		phoneOffers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "phone_offers_total",
			Help: "In-call offers of background calling to A: made (A heard it), accepted (A pressed 1), declined.",
		}, []string{"result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_deliveries_total",
			Help: "Tries to deliver a lifecycle event to a webhook, by result: ok (2xx), retry (failed, tried again later), failed (given up or dropped).",
		}, []string{"result"}),
		webhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "webhook_delivery_seconds",
			Help:    "Round trip of one webhook try, failed ones included.",
			Buckets: webhookBuckets,
		}),
		webhookBacklog: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "webhook_outbox_events",
			Help: "Lifecycle events in the outbox, not yet delivered or given up; the same on every replica, so take max.",
		}),
		busyChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "caller_busy_checks_total",
			Help: "Answers to whether A is in a call, asked before A is rung (callee_answered) or before B is dialled (before_callee): free, busy, unknown.",
		}, []string{"when", "result"}),
		confirmations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "confirmations_total",
			Help: "B's answers asked to confirm (press 1) before A is called, by result: confirmed, declined, no_digit (a voicemail, or nobody), machine (a voicemail's beep heard), hung_up.",
		}, []string{"result"}),
		live:   newLiveCollector(),
		nodes:  make(map[string]bool),
		routes: make(map[string]bool),
	}
	m.collectors = []prometheus.Collector{
		m.sessionsCreated, m.sessionsRefused, m.sessionsFinished, m.sessionDuration, m.sessionAttempts,
		m.dialAttempts, m.retries, m.calleeAnswer, m.bridge, m.bridgeDuration,
		m.notifications, m.schedulerLag, m.reaction, m.redisErrors, m.eslConnected,
		m.eslReconnects, m.eslCommand, m.eslCommandErrors, m.buildInfo, m.httpRequests,
		m.phoneConns, m.phoneOffers, m.webhooks, m.webhookLatency, m.webhookBacklog, m.busyChecks, m.confirmations, m.live,
	}

	for _, v := range Sources {
		m.sessionsCreated.WithLabelValues(v)
		for _, r := range RefusalReasons {
			m.sessionsRefused.WithLabelValues(v, r)
		}
	}
	for _, v := range Outcomes {
		m.sessionsFinished.WithLabelValues(v)
		m.sessionDuration.WithLabelValues(v)
	}
	for _, leg := range Legs {
		for _, class := range Classes {
			m.dialAttempts.WithLabelValues(leg, string(class))
		}
	}
	for _, ch := range Channels {
		for _, r := range NotificationResults {
			m.notifications.WithLabelValues(ch, r)
		}
	}
	for _, s := range ReactionSteps {
		m.reaction.WithLabelValues(s)
	}
	for _, op := range RedisOps {
		m.redisErrors.WithLabelValues(op)
	}
	for _, r := range PhoneConnections {
		m.phoneConns.WithLabelValues(r)
	}
	for _, r := range PhoneOffers {
		m.phoneOffers.WithLabelValues(r)
	}
	for _, r := range WebhookResults {
		m.webhooks.WithLabelValues(r)
	}
	for _, w := range BusyWhens {
		for _, r := range BusyResults {
			m.busyChecks.WithLabelValues(w, r)
		}
	}
	for _, r := range Confirmations {
		m.confirmations.WithLabelValues(r)
	}
	m.addRoute(other)
	m.buildInfo.WithLabelValues(orUnknown(build.Version), orUnknown(build.Revision), orUnknown(build.GoVersion)).Set(1)

	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// NewRegistry returns a registry for the daemon's /metrics endpoint, with
// the Go runtime and process collectors already on it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
}

// AddNode creates the series of one FreeSWITCH node at zero. The esl hooks
// add a node on first sight too; calling AddNode for every configured node
// at start-up makes them visible before the first connection attempt.
func (m *Metrics) AddNode(node string) {
	if m == nil {
		return
	}
	m.addNode(node)
}

func (m *Metrics) addNode(node string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes[node] {
		return
	}
	m.nodes[node] = true
	m.eslConnected.WithLabelValues(node)
	m.eslReconnects.WithLabelValues(node)
	for _, kind := range CommandKinds {
		m.eslCommand.WithLabelValues(node, kind)
		m.eslCommandErrors.WithLabelValues(node, kind)
	}
}

// AddRoutes creates the HTTP series of the API's routes at zero; a route
// not added is counted as "other".
func (m *Metrics) AddRoutes(routes ...string) {
	if m == nil {
		return
	}
	for _, r := range routes {
		m.addRoute(r)
	}
}

func (m *Metrics) addRoute(route string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes[route] = true
	for _, code := range HTTPCodes {
		m.httpRequests.WithLabelValues(route, code)
	}
}

// bounded returns v when it is one of known, else "other".
func bounded(v string, known []string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return other
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// seconds converts d for observation; a negative duration (clock steps
// between replicas) counts as zero rather than falling below every bucket.
func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return d.Seconds()
}
