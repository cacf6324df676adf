// Package notify tells A that B called while A missed the server's call
// (claim 4): by FreeSWITCH's chat API (SIP MESSAGE to A's phone) or by an
// HTTP webhook to an SMS gateway. Delivery is asynchronous with retries, so
// a slow or failing gateway never holds up a session; every try is counted.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/metrics"
	"bgcall/phone"
	"bgcall/session"
)

// Channels a notification can go by.
const (
	ChannelChat    = "chat"
	ChannelWebhook = "webhook"
)

// DefaultTemplate is the message text; {callee}, {caller} and {time} are
// replaced.
const DefaultTemplate = "{callee} called you back at {time} and could not reach you. Call {callee} to talk."

// DefaultBusyTemplate is the message text when A was in another call all
// the while B held (outcome caller_busy); the same placeholders.
const DefaultBusyTemplate = "{callee} called you back at {time} while you were on another call. Call {callee} to talk."

// DefaultOfferTemplate is the automatic offer sent by message (claim 3,
// when the dialplan cannot make it during the call); {callee}, {caller},
// {missed}, {time} and {on_prefix} are replaced.
const DefaultOfferTemplate = "{callee} did not answer your last {missed} calls. Dial {on_prefix}{callee} and we will keep trying {callee} and call you back when they answer."

// DefaultDeclinedTemplate is the text when B declined the call back at
// the confirmation prompt.
const DefaultDeclinedTemplate = "{callee} answered your background call at {time} and declined it."

// Options configure a Notifier.
type Options struct {
	Channel    string // chat or webhook
	Pool       *esl.Pool
	ChatProto  string // chat: FreeSWITCH chat protocol, e.g. sip
	ChatFrom   string // chat: sender address, e.g. bgcall@example.com; {callee} allowed
	ChatTo     string // chat: recipient address template, e.g. {caller}@example.com
	WebhookURL string
	Client     *http.Client
	Template   string
	// BusyTemplate is the text when A was busy in another call.
	BusyTemplate string
	// DeclinedTemplate is the text when B declined (Message.Declined).
	DeclinedTemplate string
	// OfferTemplate and OnPrefix write the automatic offer (SendOffer).
	OfferTemplate string
	OnPrefix      string
	Timeout       time.Duration // one delivery try
	Retries       int           // tries after the first (none for a chat whose result was lost)
	Backoff       time.Duration // before the first retry; doubles
	Queue         int           // notifications waiting; beyond it they are dropped and counted failed
	Metrics       *metrics.Metrics
	Logger        *slog.Logger
}

// Notifier delivers messages on its own goroutines; Run owns them.
type Notifier struct {
	opt      Options
	queue    chan outgoing
	wg       sync.WaitGroup
	inFlight atomic.Int64 // messages taken from the queue, not yet sent or given up
}

// outgoing is one message to A with its text already written.
type outgoing struct {
	m    session.Message
	text string
}

// New checks opts.
func New(opts Options) (*Notifier, error) {
	switch opts.Channel {
	case ChannelChat:
		if opts.Pool == nil {
			return nil, errors.New("notify: chat needs the FreeSWITCH pool")
		}
		if opts.ChatProto == "" {
			opts.ChatProto = "sip"
		}
		if opts.ChatTo == "" {
			opts.ChatTo = "{caller}"
		}
		if opts.ChatFrom == "" {
			opts.ChatFrom = "{callee}"
		}
	case ChannelWebhook:
		if !strings.HasPrefix(opts.WebhookURL, "http://") && !strings.HasPrefix(opts.WebhookURL, "https://") {
			return nil, fmt.Errorf("notify: webhook URL %q must start with http:// or https://", opts.WebhookURL)
		}
	default:
		return nil, fmt.Errorf("notify: channel %q is not chat or webhook", opts.Channel)
	}
	if opts.Template == "" {
		opts.Template = DefaultTemplate
	}
	if opts.BusyTemplate == "" {
		opts.BusyTemplate = DefaultBusyTemplate
	}
	if opts.OfferTemplate == "" {
		opts.OfferTemplate = DefaultOfferTemplate
	}
	if opts.DeclinedTemplate == "" {
		opts.DeclinedTemplate = DefaultDeclinedTemplate
	}
	if opts.OnPrefix == "" {
		opts.OnPrefix = "*88"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Notifier{opt: opts, queue: make(chan outgoing, opts.Queue)}, nil
}

// Send queues m for delivery and returns at once.
func (n *Notifier) Send(_ context.Context, m session.Message) {
	n.enqueue(outgoing{m: m, text: n.Text(m)})
}

// SendOffer queues the automatic offer to A and returns at once.
func (n *Notifier) SendOffer(_ context.Context, o phone.Offer) {
	m := session.Message{Caller: o.Caller, Callee: o.Callee, At: o.At}
	text := strings.NewReplacer("{missed}", strconv.Itoa(o.Missed), "{on_prefix}", n.opt.OnPrefix).Replace(n.opt.OfferTemplate)
	n.enqueue(outgoing{m: m, text: fill(text, m)})
}

func (n *Notifier) enqueue(o outgoing) {
	m := o.m
	select {
	case n.queue <- o:
	default:
		n.opt.Metrics.Notification(n.opt.Channel, "failed")
		n.opt.Logger.Error("notification queue full; message dropped", "session", m.SessionID, "caller", m.Caller)
	}
}

// Run delivers queued messages until ctx is done.
func (n *Notifier) Run(ctx context.Context) error {
	const workers = 4
	for range workers {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case o := <-n.queue:
					n.inFlight.Add(1)
					n.deliver(ctx, o.m, o.text)
					n.inFlight.Add(-1)
				}
			}
		}()
	}
	n.wg.Wait()
	return nil
}

func (n *Notifier) deliver(ctx context.Context, m session.Message, text string) {
	wait := n.opt.Backoff
	for try := 0; ; try++ {
		tctx, cancel := context.WithTimeout(ctx, n.opt.Timeout)
		err := n.once(tctx, m, text)
		cancel()
		if err == nil {
			n.opt.Metrics.Notification(n.opt.Channel, "sent")
			n.opt.Logger.Info("notification sent", "session", m.SessionID, "caller", m.Caller, "channel", n.opt.Channel)
			return
		}
		if errors.Is(err, errMaybeSent) {
			n.opt.Metrics.Notification(n.opt.Channel, "failed")
			n.opt.Logger.Error("notification may not have reached A; not sent again, so that A never gets it twice",
				"session", m.SessionID, "caller", m.Caller, "tries", try+1, "err", err)
			return
		}
		if try >= n.opt.Retries || ctx.Err() != nil {
			n.opt.Metrics.Notification(n.opt.Channel, "failed")
			n.opt.Logger.Error("notification failed", "session", m.SessionID, "caller", m.Caller, "tries", try+1, "err", err)
			return
		}
		n.opt.Metrics.Notification(n.opt.Channel, "retried")
		n.opt.Logger.Warn("notification failed; retrying", "session", m.SessionID, "in", wait, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// Backlog is the number of messages queued or being tried.
func (n *Notifier) Backlog() int { return len(n.queue) + int(n.inFlight.Load()) }

// errMaybeSent marks a chat FreeSWITCH may have run: the command went out
// but its result was lost (the connection failed while it was in flight,
// or the try timed out waiting). FreeSWITCH cannot tell a second chat from
// a new message, so it is not sent again: A gets the message at most once.
var errMaybeSent = errors.New("FreeSWITCH may have sent it: its result was lost")

// Text renders the message for m.
func (n *Notifier) Text(m session.Message) string {
	if m.CallerBusy {
		return fill(n.opt.BusyTemplate, m)
	}
	if m.Declined {
		return fill(n.opt.DeclinedTemplate, m)
	}
	return fill(n.opt.Template, m)
}

func fill(tmpl string, m session.Message) string {
	return strings.NewReplacer("{callee}", m.Callee, "{caller}", m.Caller, "{time}", m.At.Format("15:04")).Replace(tmpl)
}

func (n *Notifier) once(ctx context.Context, m session.Message, text string) error {
	if n.opt.Channel == ChannelChat {
		cmd, err := freeswitch.Chat(n.opt.ChatProto, fill(n.opt.ChatFrom, m), fill(n.opt.ChatTo, m), text)
		if err != nil {
			return err
		}
		node := m.Node
		if node == "" {
			if node, err = n.opt.Pool.Pick(); err != nil {
				return err
			}
		}
		out, err := n.opt.Pool.BGAPIWait(ctx, node, cmd)
		if errors.Is(err, esl.ErrConnectionLost) || errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", errMaybeSent, err)
		}
		if err != nil {
			return fmt.Errorf("chat via %s: %w", node, err)
		}
		// chat answers "Sent", "Error! Message Not Sent" or "Invalid": no +OK.
		if !strings.HasPrefix(strings.TrimSpace(out), "Sent") {
			return fmt.Errorf("chat via %s: %s", node, strings.TrimSpace(out))
		}
		return nil
	}
	body, _ := json.Marshal(map[string]string{
		"to": m.Caller, "from": m.Callee, "text": text, "session_id": m.SessionID, "at": m.At.UTC().Format(time.RFC3339),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.opt.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.opt.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
