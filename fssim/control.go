package fssim

import (
	"context"
	"fmt"
	"time"
)

// ErrNoChannel reports a uuid that names no live channel.
var ErrNoChannel = fmt.Errorf("fssim: no such channel")

// Answer makes the far end of a ringing leg answer now, whatever its script
// says.
func (n *Node) Answer(uuid string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := n.live(uuid)
	if ch == nil {
		return fmt.Errorf("answer %s: %w", uuid, ErrNoChannel)
	}
	if ch.answerState == "answered" {
		return nil
	}
	n.answer(ch)
	return nil
}

// FarEndHangup hangs a leg up from the far end with cause (default
// NORMAL_CLEARING): what a subscriber putting the phone down looks like.
func (n *Node) FarEndHangup(uuid, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := n.live(uuid)
	if ch == nil {
		return fmt.Errorf("hang up %s: %w", uuid, ErrNoChannel)
	}
	n.hangup(ch, cause)
	return nil
}

// SendDTMF sends digits from the far end of a leg, one DTMF event each.
func (n *Node) SendDTMF(uuid, digits string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := n.live(uuid)
	if ch == nil {
		return fmt.Errorf("send DTMF to %s: %w", uuid, ErrNoChannel)
	}
	n.sendDTMF(ch, digits)
	return nil
}

func (n *Node) sendDTMF(ch *channel, digits string) {
	for _, d := range digits {
		if ch.gone {
			return
		}
		n.fireCh(ch, "DTMF", true, header{"DTMF-Digit", string(d)},
			header{"DTMF-Duration", "2000"}, header{"DTMF-Source", "RTP"})
		if ch.read != nil {
			n.readDigit(ch, byte(d))
		}
	}
}

// WaitIdle waits until the node has no channels left.
func (n *Node) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if len(n.Channels()) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to be idle: %d channel(s) alive: %w", n.Addr(), len(n.Channels()), ctx.Err())
		case <-t.C:
		}
	}
}
