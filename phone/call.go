package phone

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command/call"

	"bgcall/freeswitch"
	"bgcall/internal/uuid"
)

// errHungUp: the caller put the phone down; nothing more can be played.
var errHungUp = errors.New("the caller hung up")

// rawCommand is a command line eslgo has no builder for.
type rawCommand string

func (c rawCommand) BuildMessage() string { return string(c) }

// channel is the caller's leg, controlled over one outbound connection.
type channel struct {
	s    *Server
	conn *eslgo.Conn
	data *eslgo.RawResponse // the connect reply: the channel's data

	uuid, core     string
	caller, dialed string

	events chan *eslgo.Event
	done   chan struct{}
	gone   bool
}

func newChannel(s *Server, conn *eslgo.Conn, data *eslgo.RawResponse) *channel {
	c := &channel{s: s, conn: conn, data: data, events: make(chan *eslgo.Event, 256), done: make(chan struct{})}
	c.uuid = c.header("Unique-ID")
	c.core = c.header("Core-UUID")
	c.caller = c.header("Caller-Caller-ID-Number")
	c.dialed = c.header("Caller-Destination-Number")
	return c
}

// header reads the connect reply; eslgo URL-decodes values.
func (c *channel) header(name string) string { return c.data.GetHeader(name) }

func (c *channel) variable(name string) string { return c.header("variable_" + name) }

// listen subscribes to the channel's own events. eslgo runs each listener
// call on its own goroutine, so nothing below depends on their order.
func (c *channel) listen(ctx context.Context) error {
	c.conn.RegisterEventListener(eslgo.EventListenAll, func(e *eslgo.Event) {
		select {
		case c.events <- e:
		case <-c.done:
		}
	})
	return c.command(ctx, rawCommand("myevents plain"))
}

func (c *channel) close() { close(c.done) }

// command sends one command and checks its reply. A command that timed
// out leaves its reply behind in eslgo's shared reply channel, where the
// next command would take it: the caller then drops the connection.
func (c *channel) command(ctx context.Context, cmd interface{ BuildMessage() string }) error {
	cctx, cancel := context.WithTimeout(ctx, c.s.opt.CommandTimeout)
	defer cancel()
	resp, err := c.conn.SendCommand(cctx, cmd)
	if err != nil {
		return fmt.Errorf("command on channel %s: %w", c.uuid, err)
	}
	if !resp.IsOk() {
		return fmt.Errorf("command on channel %s: %s", c.uuid, resp.GetReply())
	}
	return nil
}

// execute runs a dialplan application on the channel and waits until it
// completes; the completion event carries the channel's variables.
func (c *channel) execute(ctx context.Context, app, arg string) (*eslgo.Event, error) {
	if c.gone {
		return nil, errHungUp
	}
	id := uuid.New()
	if err := c.command(ctx, &call.Execute{UUID: c.uuid, AppName: app, AppArgs: arg, AppUUID: id}); err != nil {
		return nil, fmt.Errorf("execute %s: %w", app, err)
	}
	for {
		select {
		case e := <-c.events:
			switch e.GetName() {
			case freeswitch.EventChannelExecuteDone:
				if e.GetHeader("Application-UUID") == id {
					return e, nil
				}
			case freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete:
				c.gone = true
				return nil, errHungUp
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("execute %s: %w", app, ctx.Err())
		}
	}
}

func (c *channel) answer(ctx context.Context) error {
	_, err := c.execute(ctx, "answer", "")
	return err
}

func (c *channel) play(ctx context.Context, file string) error {
	_, err := c.execute(ctx, "playback", file)
	return err
}

// readDigit plays prompt once and returns the key pressed within timeout,
// "" when none.
func (c *channel) readDigit(ctx context.Context, prompt string, timeout time.Duration) (string, error) {
	const v = "bgcall_offer_digit"
	ms := strconv.FormatInt(timeout.Milliseconds(), 10)
	arg := strings.Join([]string{"1", "1", "1", ms, "#", prompt, "silence_stream://250", v, `\d`, ms}, " ")
	e, err := c.execute(ctx, "play_and_get_digits", arg)
	if err != nil {
		return "", err
	}
	return e.GetHeader("variable_" + v), nil
}

// hangup ends the call with cause; a caller already gone is no error.
func (c *channel) hangup(ctx context.Context, cause freeswitch.Cause) {
	if c.gone {
		return
	}
	if cause == "" || !cause.Known() {
		cause = freeswitch.NormalClearing
	}
	if err := c.command(ctx, call.Hangup{UUID: c.uuid, Cause: string(cause)}); err != nil {
		c.s.log.Debug("hang up", "uuid", c.uuid, "err", err)
	}
	c.gone = true
}
