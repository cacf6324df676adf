package fsdiff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"bgcall/esl"
)

// LoopbackSuffix ends the role of the inbound "-b" channel of a loopback
// call, which runs the far end's dialplan: "A.b" is A's. The simulator
// models a leg as one channel, as a SIP leg is, so Compare leaves these out.
const LoopbackSuffix = ".b"

// role names the leg a Unique-ID belongs to: a role of the flow, its
// loopback "-b" channel (which carries the "-a" channel's
// origination_uuid), or "?".
func (r *run) role(uuid string) string {
	if role := r.flowRole(uuid); role != "" {
		return role
	}
	for _, ev := range r.events {
		if ev.UniqueID == uuid && ev.Name == "CHANNEL_CREATE" {
			if origin := r.flowRole(ev.Var("origination_uuid")); origin != "" {
				return origin + LoopbackSuffix
			}
		}
	}
	return "?"
}

func (r *run) flowRole(uuid string) string {
	for role, u := range r.uuids {
		if u == uuid {
			return role
		}
	}
	return ""
}

// names replaces every UUID in s by the role it names (a job's id by
// "<job>").
func (r *run) names(s string) string {
	return uuidPattern.ReplaceAllStringFunc(s, func(u string) string {
		if _, ok := r.jobs[u]; ok {
			return "<job>"
		}
		return r.role(u)
	})
}

// label is an event's normalised form: its name, the role of its channel,
// and what tells its outcome (a hangup's cause, a job's result, a bridge's
// legs, a prompt's file and status, a message's parties).
func (r *run) label(ev esl.Event) string {
	name := ev.Name
	switch name {
	case "BACKGROUND_JOB":
		who, ok := r.jobs[ev.JobUUID]
		if !ok {
			who = "?"
		}
		return fmt.Sprintf("%s[%s](%s)", name, who, r.names(strings.TrimRight(ev.Body, "\n")))
	case "MESSAGE":
		return fmt.Sprintf("MESSAGE(%s>%s:%s)", ev.Header("from"), ev.Header("to"), ev.Body)
	}
	l := fmt.Sprintf("%s[%s]", name, r.role(ev.UniqueID))
	switch name {
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
		l += "(" + string(ev.HangupCause) + ")"
	case "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE":
		l += "(" + r.role(ev.Header("Bridge-A-Unique-ID")) + "," + r.role(ev.Header("Bridge-B-Unique-ID")) + ")"
	case "PLAYBACK_START":
		l += "(" + soundPath(ev.Header("Playback-File-Path")) + ")"
	case "PLAYBACK_STOP":
		l += "(" + soundPath(ev.Header("Playback-File-Path")) + "," + ev.Header("Playback-Status") + ")"
	}
	return l
}

// soundPath is a prompt's path as uuid_broadcast named it: FreeSWITCH
// reports a relative path below its sounds directory.
func soundPath(p string) string {
	if _, rel, ok := strings.Cut(p, "/sounds/"); ok {
		return rel
	}
	return p
}

// normalReply is a command's reply with UUIDs named; the replies bgcall
// parses for more than their first line are cut down to what it reads:
// uuid_dump to the headers that tell whether a leg is there, answered and
// bridged, show channels to the legs it lists.
func (r *run) normalReply(cmd, reply string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch word(cmd) {
	case "uuid_dump":
		if !strings.HasPrefix(reply, "-ERR") && !strings.HasPrefix(reply, "-USAGE") {
			return r.dump(reply)
		}
	case "show":
		return r.showChannels(reply)
	}
	return r.names(reply)
}

// word is the command a step runs ("uuid_dump" of "api uuid_dump {A}").
func word(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) > 1 && (f[0] == "api" || f[0] == "bgapi") {
		return f[1]
	}
	if len(f) > 0 {
		return f[0]
	}
	return ""
}

// dump keeps, of a uuid_dump, the headers bgcall reads (session/recover.go)
// and the leg's identity, in a fixed order.
func (r *run) dump(reply string) string {
	keep := []string{"Unique-ID", "Answer-State", "Other-Leg-Unique-ID", "variable_bridge_uuid", "variable_bgcall_leg", "variable_bgcall_state"}
	values := map[string]string{}
	for _, line := range strings.Split(reply, "\n") {
		name, value, ok := strings.Cut(line, ": ")
		if ok {
			if _, dup := values[name]; !dup {
				values[name] = value
			}
		}
	}
	var b strings.Builder
	b.WriteString("uuid_dump:")
	for _, k := range keep {
		if v, ok := values[k]; ok {
			b.WriteString(" " + k + "=" + r.names(v))
		}
	}
	return b.String()
}

// showChannels keeps, of "show channels as json", the row count and the
// legs listed with their state and application.
func (r *run) showChannels(reply string) string {
	var v struct {
		RowCount int `json:"row_count"`
		Rows     []struct {
			UUID        string `json:"uuid"`
			State       string `json:"state"`
			Application string `json:"application"`
			CallState   string `json:"callstate"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(reply), &v); err != nil {
		return "show: " + r.names(reply)
	}
	var rows []string
	for _, row := range v.Rows {
		rows = append(rows, fmt.Sprintf("%s:%s:%s:%s", r.role(row.UUID), row.State, row.CallState, row.Application))
	}
	sort.Strings(rows)
	return fmt.Sprintf("show: row_count=%d %s", v.RowCount, strings.Join(rows, " "))
}
