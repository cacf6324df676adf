package freeswitch

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// ShowChannelsLike lists the channels that mention number:
// "show channels like <number> as json". FreeSWITCH 1.10.12 matches the
// text anywhere in a channel's uuid, name, cid_name, cid_num, presence_data
// or accountcode (an SQL LIKE '%number%'), never in dest, callee_num or
// presence_id: a channel of "1001" is listed for "100" too, and so is a
// uuid that happens to hold the digits. ChannelRow.Names tells the real
// matches.
func ShowChannelsLike(number string) (string, error) {
	if err := ValidNumber(number); err != nil {
		return "", fmt.Errorf("show channels like: %w", err)
	}
	return "show channels like " + number + " as json", nil
}

// UUIDGetVar reads a channel variable: "uuid_getvar <uuid> <name>". FreeSWITCH
// answers the value, "_undef_" when it is not set, "-ERR No such channel!"
// for a leg that is gone.
func UUIDGetVar(uuid, name string) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("uuid_getvar: %w", err)
	}
	if err := ValidVarName(name); err != nil {
		return "", fmt.Errorf("uuid_getvar: %w", err)
	}
	return "uuid_getvar " + uuid + " " + name, nil
}

// Undefined is uuid_getvar's answer for a variable that is not set.
const Undefined = "_undef_"

// ChannelRow is one row of "show channels as json", the columns bgcall reads.
type ChannelRow struct {
	UUID      string `json:"uuid"`
	Direction string `json:"direction"`
	Name      string `json:"name"`
	CIDNum    string `json:"cid_num"`
	Dest      string `json:"dest"`
	CallState string `json:"callstate"`
}

// ParseChannels reads the reply of "show channels [like ...] as json". An
// empty table is {"row_count": 0} with no rows at all.
func ParseChannels(reply string) ([]ChannelRow, error) {
	var v struct {
		RowCount *int         `json:"row_count"`
		Rows     []ChannelRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(reply), &v); err != nil {
		return nil, fmt.Errorf("show channels: reply is not the JSON table: %w", err)
	}
	if v.RowCount == nil || *v.RowCount != len(v.Rows) {
		return nil, fmt.Errorf("show channels: reply is not the JSON table: row_count does not match its rows")
	}
	return v.Rows, nil
}

// Names reports whether the channel is number's own: its caller ID is
// number (number places the call), or its name's user part is (number's
// phone rings or talks: "sofia/internal/1001@10.0.0.1:5060",
// "loopback/1001-a"). A number merely contained in a longer one, or in the
// uuid, does not count.
func (r ChannelRow) Names(number string) bool {
	return r.CIDNum == number || nameUser(r.Name) == number
}

// nameUser is the user part of a channel name: after the last '/', before
// any '@', without the "-a" or "-b" a loopback channel's half carries.
func nameUser(name string) string {
	user := name[strings.LastIndexByte(name, '/')+1:]
	if at := strings.IndexByte(user, '@'); at >= 0 {
		user = user[:at]
	}
	if strings.HasPrefix(name, "loopback/") {
		user = strings.TrimSuffix(strings.TrimSuffix(user, "-a"), "-b")
	}
	return user
}

// CommandTemplate is an operator's own API command that tells whether a
// number is busy, e.g. "hash select/busy/{number}" or
// "limit_usage hash outbound {number}". {number} is the validated number;
// the rest is configuration, checked once by Validate.
type CommandTemplate string

// commandRefused: the template is one API command line; quotes,
// backslashes, braces other than {number}, '$' (variable expansion and
// nested API calls) and '|' have no place in it.
const commandRefused = "'\"\\$|^[]"

// Validate checks the template: a command word first, {number} somewhere,
// nothing that could run a second command or expand variables.
func (t CommandTemplate) Validate() error {
	s := string(t)
	if err := refuseControl("busy check command", s); err != nil {
		return err
	}
	if err := refuseAny("busy check command", s, commandRefused); err != nil {
		return err
	}
	if !strings.Contains(s, "{number}") {
		return fmt.Errorf("busy check command %q has no {number} placeholder", s)
	}
	rest := strings.ReplaceAll(s, "{number}", "")
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("busy check command %q: only {number} may be in braces", s)
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	if verb == "" || ValidVarName(verb) != nil {
		return fmt.Errorf("busy check command %q: want an API command word first (A-Z, a-z, 0-9 and '_')", s)
	}
	return nil
}

// Command fills the template with number.
func (t CommandTemplate) Command(number string) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	if err := ValidNumber(number); err != nil {
		return "", fmt.Errorf("busy check command: %w", err)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(t), "{number}", number)), nil
}

// DefaultBusyReply is how an operator's busy check says busy unless told
// otherwise: "true", "yes", "busy", or a count above zero.
var DefaultBusyReply = regexp.MustCompile(`^(?i:true|yes|busy|[1-9][0-9]*)$`)
