package metrics

import (
	"slices"
	"time"

	"bgcall/freeswitch"
)

// SessionCreated counts a new session. source is one of Sources.
func (m *Metrics) SessionCreated(source string) {
	if m == nil {
		return
	}
	m.sessionsCreated.WithLabelValues(bounded(source, Sources)).Inc()
}

// SessionRefused counts a request for a session that was refused: source
// is one of Sources, reason one of RefusalReasons.
func (m *Metrics) SessionRefused(source, reason string) {
	if m == nil {
		return
	}
	m.sessionsRefused.WithLabelValues(bounded(source, Sources), bounded(reason, RefusalReasons)).Inc()
}

// SessionFinished counts a finished session with its outcome (one of
// Outcomes), the callee attempts it made and its age.
func (m *Metrics) SessionFinished(outcome string, attempts int, sinceCreate time.Duration) {
	if m == nil {
		return
	}
	outcome = bounded(outcome, Outcomes)
	m.sessionsFinished.WithLabelValues(outcome).Inc()
	m.sessionDuration.WithLabelValues(outcome).Observe(seconds(sinceCreate))
	m.sessionAttempts.Observe(float64(max(attempts, 0)))
}

// DialAttempt counts one finished dial attempt. leg is "callee" or
// "caller"; class is the class of the attempt's hangup cause (a value
// outside Classes is counted as "error").
func (m *Metrics) DialAttempt(leg string, class freeswitch.Class) {
	if m == nil {
		return
	}
	if !slices.Contains(Classes, class) {
		class = freeswitch.ClassError
	}
	m.dialAttempts.WithLabelValues(bounded(leg, Legs), string(class)).Inc()
}

// CallerBusyCheck counts one answer to whether A is in a call: when is one
// of BusyWhens, result one of BusyResults.
func (m *Metrics) CallerBusyCheck(when, result string) {
	if m == nil {
		return
	}
	m.busyChecks.WithLabelValues(bounded(when, BusyWhens), bounded(result, BusyResults)).Inc()
}

// Retry counts a callee attempt scheduled again after an unanswered one.
func (m *Metrics) Retry() {
	if m == nil {
		return
	}
	m.retries.Inc()
}

// CalleeAnswered records the time from the request to B's answer.
func (m *Metrics) CalleeAnswered(sinceCreate time.Duration) {
	if m == nil {
		return
	}
	m.calleeAnswer.Observe(seconds(sinceCreate))
}

// Bridged records the time from the request to A and B being bridged.
func (m *Metrics) Bridged(sinceCreate time.Duration) {
	if m == nil {
		return
	}
	m.bridge.Observe(seconds(sinceCreate))
}

// BridgeEnded records the length of a bridged conversation.
func (m *Metrics) BridgeEnded(d time.Duration) {
	if m == nil {
		return
	}
	m.bridgeDuration.Observe(seconds(d))
}

// Notification counts one try to notify a caller: channel is one of
// Channels, result one of NotificationResults.
func (m *Metrics) Notification(channel, result string) {
	if m == nil {
		return
	}
	m.notifications.WithLabelValues(bounded(channel, Channels), bounded(result, NotificationResults)).Inc()
}

// SchedulerLag records how late a due attempt was claimed.
func (m *Metrics) SchedulerLag(d time.Duration) {
	if m == nil {
		return
	}
	m.schedulerLag.Observe(seconds(d))
}

// Reaction records how long step, one of ReactionSteps, took from the
// answer event read to its command written.
func (m *Metrics) Reaction(step string, d time.Duration) {
	if m == nil {
		return
	}
	m.reaction.WithLabelValues(bounded(step, ReactionSteps)).Observe(seconds(d))
}

// RedisError counts a failed store operation; op is one of RedisOps.
func (m *Metrics) RedisError(op string) {
	if m == nil {
		return
	}
	m.redisErrors.WithLabelValues(bounded(op, RedisOps)).Inc()
}

// SetLiveFunc sets the source of bgcall_sessions_live. f runs on every
// scrape, on the scrape's goroutine, so it must bound its time (a short
// timeout or a cached value). Its keys are session states; "finished" and
// a missing state count as zero. A nil map means the counts are unknown
// right now (the store failed): the gauge is then left out of that scrape
// rather than reported as zero. Every replica exports the same
// cluster-wide numbers, so queries take max by (state), not sum.
func (m *Metrics) SetLiveFunc(f func() map[string]int64) {
	if m == nil {
		return
	}
	m.live.setFunc(f)
}

// CommandDone records one event-socket command to node; kind is "api" or
// "bgapi". It implements part of esl.Observer. FreeSWITCH's "-ERR No such
// channel!" is not counted as an error: bgcall hangs up legs that may have
// gone by themselves, and a healthy system answers that on most calls.
func (m *Metrics) CommandDone(node, kind string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.addNode(node)
	kind = bounded(kind, CommandKinds)
	m.eslCommand.WithLabelValues(node, kind).Observe(seconds(d))
	if err != nil && !freeswitch.NoSuchChannel(err) {
		m.eslCommandErrors.WithLabelValues(node, kind).Inc()
	}
}

// Connected records whether the connection to node is up. It implements
// part of esl.Observer.
func (m *Metrics) Connected(node string, up bool) {
	if m == nil {
		return
	}
	m.addNode(node)
	v := 0.0
	if up {
		v = 1
	}
	m.eslConnected.WithLabelValues(node).Set(v)
}

// Reconnected counts a connection to node re-established after a loss. It
// implements part of esl.Observer.
func (m *Metrics) Reconnected(node string) {
	if m == nil {
		return
	}
	m.addNode(node)
	m.eslReconnects.WithLabelValues(node).Inc()
}

// HTTPRequest counts one API request answered with status; route is the
// pattern that served it ("GET /v1/sessions/{id}"), one added by
// AddRoutes or counted as "other".
func (m *Metrics) HTTPRequest(route string, status int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	known := m.routes[route]
	m.mu.Unlock()
	if !known {
		route = other
	}
	code := "5xx"
	switch {
	case status < 300:
		code = "2xx"
	case status < 400:
		code = "3xx"
	case status < 500:
		code = "4xx"
	}
	m.httpRequests.WithLabelValues(route, code).Inc()
}

// PhoneConnection counts a connection to the phone listener; result is
// one of PhoneConnections.
func (m *Metrics) PhoneConnection(result string) {
	if m == nil {
		return
	}
	m.phoneConns.WithLabelValues(bounded(result, PhoneConnections)).Inc()
}

// PhoneOffer counts a step of the in-call offer; result is one of
// PhoneOffers.
func (m *Metrics) PhoneOffer(result string) {
	if m == nil {
		return
	}
	m.phoneOffers.WithLabelValues(bounded(result, PhoneOffers)).Inc()
}

// WebhookDelivery counts one try to deliver a lifecycle event, result one
// of WebhookResults, and records how long it took (d 0: none was made, the
// event was dropped).
func (m *Metrics) WebhookDelivery(result string, d time.Duration) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(bounded(result, WebhookResults)).Inc()
	if d > 0 {
		m.webhookLatency.Observe(seconds(d))
	}
}

// WebhookBacklog sets the number of events in the webhook outbox.
func (m *Metrics) WebhookBacklog(n int64) {
	if m == nil {
		return
	}
	m.webhookBacklog.Set(float64(n))
}

// Confirmation counts what became of asking B to confirm; result is one of
// Confirmations.
func (m *Metrics) Confirmation(result string) {
	if m == nil {
		return
	}
	m.confirmations.WithLabelValues(bounded(result, Confirmations)).Inc()
}
