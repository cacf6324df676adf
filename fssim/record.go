package fssim

import (
	"sort"
	"strings"
	"time"
)

// OriginateRecord is one originate the node received and what became of it.
type OriginateRecord struct {
	Node       string            // the node's address
	Command    string            // the originate arguments as sent
	DialString string            // endpoint after the variables
	Number     string            // subscriber number it reached
	UUID       string            // the leg's Unique-ID ("" when no channel was made)
	Vars       map[string]string // {} and [] variables
	VarOrder   []string          // variable names in the order sent
	App        string            // application (&park() → "park"), or the extension
	Behavior   Behavior          // what the far end was scripted to do
	Result     string            // originate's reply, e.g. "+OK <uuid>" or "-ERR NO_ANSWER"
	Cause      string            // failure cause or final hangup cause
	Start      time.Time
	Returned   time.Time // when originate replied
	Answered   time.Time
	Ended      time.Time
}

// Bridge is one uuid_bridge that took effect.
type Bridge struct {
	A, B string
	At   time.Time
}

// Prompt is one file played to a leg.
type Prompt struct {
	UUID, Path string
	At         time.Time
}

// ChatMessage is one chat command.
type ChatMessage struct {
	Proto, From, To, Body, Result string
	At                            time.Time
}

// ChannelInfo is a live channel as the record sees it.
type ChannelInfo struct {
	UUID, Name, Number, State, CallState, AnswerState string
	Bridged                                           string // partner's UUID
	Vars                                              map[string]string
}

// keep appends v to a record list of at most limit entries (the oldest go
// first); a negative limit keeps nothing.
func keep[T any](list []T, limit int, v T) []T {
	if limit < 0 {
		return nil
	}
	if len(list) >= limit {
		// Drop the older half at once so appends stay amortized O(1).
		list = append(list[:0:0], list[len(list)-limit/2:]...)
	}
	return append(list, v)
}

type record struct {
	limit      int
	commands   []string
	originates []*OriginateRecord
	bridges    []Bridge
	prompts    []Prompt
	chats      []ChatMessage
	byNumber   map[string]*numberCount
}

// numberCount is how many channels to one number are up, and the most
// that ever were.
type numberCount struct {
	live, max int
}

func (r *record) channelUp(ch *channel) {
	if r.byNumber == nil {
		r.byNumber = make(map[string]*numberCount)
	}
	k := r.byNumber[ch.number]
	if k == nil {
		k = new(numberCount)
		r.byNumber[ch.number] = k
	}
	k.live++
	k.max = max(k.max, k.live)
}

func (r *record) channelGone(ch *channel, at time.Time) {
	if k := r.byNumber[ch.number]; k != nil && k.live > 0 {
		k.live--
	}
	if ch.record != nil && ch.record.Ended.IsZero() {
		ch.record.Ended = at
		if ch.record.Cause == "" {
			ch.record.Cause = ch.cause
		}
	}
}

func (n *Node) recordCommand(line string) {
	n.mu.Lock()
	n.rec.commands = keep(n.rec.commands, n.rec.limit, line)
	n.mu.Unlock()
}

// Commands returns every command line received, in order (auth included).
func (n *Node) Commands() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.rec.commands...)
}

// Originates returns a copy of every originate received, in order.
func (n *Node) Originates() []OriginateRecord {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]OriginateRecord, len(n.rec.originates))
	for i, o := range n.rec.originates {
		out[i] = *o
		out[i].Vars = make(map[string]string, len(o.Vars))
		for k, v := range o.Vars {
			out[i].Vars[k] = v
		}
		out[i].VarOrder = append([]string(nil), o.VarOrder...)
	}
	return out
}

// Bridges returns every bridge that took effect.
func (n *Node) Bridges() []Bridge {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Bridge(nil), n.rec.bridges...)
}

// Prompts returns every file played, in order.
func (n *Node) Prompts() []Prompt {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Prompt(nil), n.rec.prompts...)
}

// Chats returns every chat message sent through the node.
func (n *Node) Chats() []ChatMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]ChatMessage(nil), n.rec.chats...)
}

// MaxConcurrent is the most channels ever up at once to number.
func (n *Node) MaxConcurrent(number string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if k := n.rec.byNumber[number]; k != nil {
		return k.max
	}
	return 0
}

// Attempts is how many originates reached number.
func (n *Node) Attempts(number string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, o := range n.rec.originates {
		if o.Number == number {
			k++
		}
	}
	return k
}

// Channels returns the live channels (not yet hanging up), oldest first.
func (n *Node) Channels() []ChannelInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []ChannelInfo
	for _, ch := range n.sortedChannels() {
		if ch.gone {
			continue
		}
		ci := ChannelInfo{UUID: ch.uuid, Name: ch.name, Number: ch.number, State: ch.running,
			CallState: ch.callState, AnswerState: ch.answerState, Vars: make(map[string]string)}
		if ch.partner != nil {
			ci.Bridged = ch.partner.uuid
		}
		for _, v := range ch.vars {
			ci.Vars[strings.TrimPrefix(v.name, "variable_")] = v.value
		}
		out = append(out, ci)
	}
	return out
}

// Channel returns one live channel.
func (n *Node) Channel(uuid string) (ChannelInfo, bool) {
	for _, c := range n.Channels() {
		if c.UUID == uuid {
			return c, true
		}
	}
	return ChannelInfo{}, false
}

func (n *Node) sortedChannels() []*channel {
	out := make([]*channel, 0, len(n.channels))
	for _, ch := range n.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].created.Equal(out[j].created) {
			return out[i].sessionID < out[j].sessionID
		}
		return out[i].created.Before(out[j].created)
	})
	return out
}
