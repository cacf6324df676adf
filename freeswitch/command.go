package freeswitch

import (
	"fmt"
	"strings"
	"time"
)

// Var is one channel variable for an originate {} block.
type Var struct{ Name, Value string }

// Originate describes one outbound leg. Command turns it into an originate line.
type Originate struct {
	Endpoint                     string        // destination, e.g. from DialTemplate.Endpoint; no {} or [] blocks
	UUID                         string        // origination_uuid (required): the leg's Unique-ID, fixed before dialling
	CallerIDNumber, CallerIDName string        // optional
	Timeout                      time.Duration // originate_timeout, whole seconds rounded up; 0 leaves FreeSWITCH's default
	Vars                         []Var         // more {} variables, in order
	App                          string        // application run on answer; default "park"
	AppArgs                      string        // its argument, e.g. a file for playback
}

// reservedVars are set from Originate's own fields; passing them in Vars as
// well would let a second value silently win.
var reservedVars = map[string]bool{
	VarOriginationUUID: true, VarCallerIDNumber: true, VarCallerIDName: true, VarOriginateTimeout: true,
}

// appArgsRefused: the app argument is the second blank-separated word of the
// originate line and ends at its closing parenthesis.
const appArgsRefused = " '\"\\$(){}[]|&^"

// Command returns the originate line without the "api "/"bgapi " prefix, e.g.
//
//	originate {origination_uuid=…,originate_timeout=30}user/1002@example.com &park()
func (o Originate) Command() (string, error) {
	if err := ValidUUID(o.UUID); err != nil {
		return "", fmt.Errorf("originate: %w", err)
	}
	if err := ValidEndpoint(o.Endpoint); err != nil {
		return "", fmt.Errorf("originate: %w", err)
	}
	vars := []Var{{VarOriginationUUID, o.UUID}}
	if o.CallerIDNumber != "" {
		if err := ValidNumber(o.CallerIDNumber); err != nil {
			return "", fmt.Errorf("originate: caller id %w", err)
		}
		vars = append(vars, Var{VarCallerIDNumber, o.CallerIDNumber})
	}
	if o.CallerIDName != "" {
		vars = append(vars, Var{VarCallerIDName, o.CallerIDName})
	}
	if o.Timeout < 0 {
		return "", fmt.Errorf("originate: timeout %v is negative", o.Timeout)
	}
	if o.Timeout > 0 {
		secs := (o.Timeout + time.Second - 1) / time.Second
		vars = append(vars, Var{VarOriginateTimeout, fmt.Sprint(int64(secs))})
	}
	for _, v := range o.Vars {
		if reservedVars[v.Name] {
			return "", fmt.Errorf("originate: variable %s is set from Originate's own fields; do not pass it in Vars", v.Name)
		}
		vars = append(vars, v)
	}
	block, err := VarBlock(vars)
	if err != nil {
		return "", fmt.Errorf("originate: %w", err)
	}
	app := o.App
	if app == "" {
		app = "park"
	}
	if err := ValidVarName(app); err != nil {
		return "", fmt.Errorf("originate: application %q: want one word of A-Z, a-z, 0-9 and '_'", app)
	}
	if err := refuseControl("originate: application argument", o.AppArgs); err != nil {
		return "", err
	}
	if err := refuseAny("originate: application argument", o.AppArgs, appArgsRefused); err != nil {
		return "", err
	}
	return "originate " + block + o.Endpoint + " &" + app + "(" + o.AppArgs + ")", nil
}

// VarBlock renders variables as a {} block, names checked and values escaped
// with EscapeValue. No variables give "".
func VarBlock(vars []Var) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vars {
		if err := ValidVarName(v.Name); err != nil {
			return "", err
		}
		val, err := EscapeValue(v.Value)
		if err != nil {
			return "", fmt.Errorf("variable %s: %w", v.Name, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(val)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// UUIDBridge bridges two existing legs: "uuid_bridge <a> <b>". The +OK reply only
// schedules the bridge; CHANNEL_BRIDGE is the proof.
func UUIDBridge(a, b string) (string, error) {
	if err := ValidUUID(a); err != nil {
		return "", fmt.Errorf("uuid_bridge: %w", err)
	}
	if err := ValidUUID(b); err != nil {
		return "", fmt.Errorf("uuid_bridge: %w", err)
	}
	if strings.EqualFold(a, b) {
		return "", fmt.Errorf("uuid_bridge: cannot bridge %s to itself", a)
	}
	return "uuid_bridge " + a + " " + b, nil
}

// UUIDKill hangs a leg up: "uuid_kill <uuid> [cause]". cause may be "" (FreeSWITCH
// then uses NORMAL_CLEARING); otherwise it must be a cause FreeSWITCH knows.
func UUIDKill(uuid string, cause Cause) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("uuid_kill: %w", err)
	}
	if cause == "" {
		return "uuid_kill " + uuid, nil
	}
	if !cause.Known() {
		return "", fmt.Errorf("uuid_kill: cause %q is not a FreeSWITCH hangup cause", string(cause))
	}
	return "uuid_kill " + uuid + " " + string(cause), nil
}

// broadcastRefused: the path is one blank-separated argument; quotes and
// backslashes change how FreeSWITCH splits it, braces and '$' add variables.
const broadcastRefused = " '\"\\${}[]|^"

// UUIDBroadcast plays a file or runs "app::args" on a leg:
// "uuid_broadcast <uuid> <path> <leg>", leg one of aleg, bleg, both.
func UUIDBroadcast(uuid, path string, leg string) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("uuid_broadcast: %w", err)
	}
	switch leg {
	case "aleg", "bleg", "both":
	default:
		return "", fmt.Errorf("uuid_broadcast: leg %q: want aleg, bleg or both", leg)
	}
	if path == "" {
		return "", fmt.Errorf("uuid_broadcast: path must not be empty")
	}
	if err := refuseControl("uuid_broadcast: path", path); err != nil {
		return "", err
	}
	if err := refuseAny("uuid_broadcast: path", path, broadcastRefused); err != nil {
		return "", err
	}
	return "uuid_broadcast " + uuid + " " + path + " " + leg, nil
}

// UUIDBreak stops what a leg is playing: "uuid_break <uuid> [all]".
func UUIDBreak(uuid string, all bool) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("uuid_break: %w", err)
	}
	if all {
		return "uuid_break " + uuid + " all", nil
	}
	return "uuid_break " + uuid, nil
}

// UUIDExists asks whether a leg exists: "uuid_exists <uuid>" answers true or false.
func UUIDExists(uuid string) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("uuid_exists: %w", err)
	}
	return "uuid_exists " + uuid, nil
}

// AVMD starts or stops mod_avmd's beep detection on a leg: "avmd <uuid>
// start" or "avmd <uuid> stop". A beep heard fires CUSTOM avmd::beep with
// the leg's Unique-ID.
func AVMD(uuid string, start bool) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("avmd: %w", err)
	}
	if start {
		return "avmd " + uuid + " start", nil
	}
	return "avmd " + uuid + " stop", nil
}

// ModuleExists asks whether a module is loaded: "module_exists <name>"
// answers true or false.
func ModuleExists(module string) (string, error) {
	if module == "" || strings.IndexFunc(module, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return "", fmt.Errorf("module_exists: module name %q: letters, digits and '_' only, e.g. mod_avmd", module)
	}
	return "module_exists " + module, nil
}

// setVarRefused: the value is the rest of the line after the name; FreeSWITCH
// strips quotes, interprets backslashes and expands "${...}".
const setVarRefused = "'\\"

// UUIDSetVar sets a variable on a leg: "uuid_setvar <uuid> <name> <value>". An
// empty value unsets it.
func UUIDSetVar(uuid, name, value string) (string, error) {
	if err := ValidUUID(uuid); err != nil {
		return "", fmt.Errorf("uuid_setvar: %w", err)
	}
	if err := ValidVarName(name); err != nil {
		return "", fmt.Errorf("uuid_setvar: %w", err)
	}
	if value == "" {
		return "uuid_setvar " + uuid + " " + name, nil
	}
	if err := refuseControl("uuid_setvar: value", value); err != nil {
		return "", err
	}
	if err := refuseAny("uuid_setvar: value", value, setVarRefused); err != nil {
		return "", err
	}
	if strings.Contains(value, "${") {
		return "", fmt.Errorf("uuid_setvar: value %q: \"${\" is not allowed (it would expand variables or run API commands)", value)
	}
	if strings.TrimSpace(value) != value {
		return "", fmt.Errorf("uuid_setvar: value %q: leading or trailing blanks are not allowed", value)
	}
	return "uuid_setvar " + uuid + " " + name + " " + value, nil
}

// Chat sends a message: "chat <proto>|<from>|<to>|<body>". FreeSWITCH splits the
// fields on '|' and treats quotes and backslashes specially, so '|' and '\' are
// refused in every field and a single quote in the body is escaped. proto is a
// word such as "sip"; from and to carry no blanks. Chat answers "Sent",
// "Error! Message Not Sent" or "Invalid", never +OK, and can block: send it with
// bgapi.
func Chat(proto, from, to, body string) (string, error) {
	if err := ValidVarName(proto); err != nil {
		return "", fmt.Errorf("chat: protocol %q: want one word of A-Z, a-z, 0-9 and '_'", proto)
	}
	for _, f := range []struct{ what, v string }{{"chat: from", from}, {"chat: to", to}} {
		if err := token(f.what, f.v); err != nil {
			return "", err
		}
		if err := refuseAny(f.what, f.v, "|^"); err != nil {
			return "", err
		}
	}
	if body == "" {
		return "", fmt.Errorf("chat: body must not be empty")
	}
	if err := refuseControl("chat: body", body); err != nil {
		return "", err
	}
	if err := refuseAny("chat: body", body, "|\\"); err != nil {
		return "", err
	}
	if strings.Contains(body, "${") {
		return "", fmt.Errorf("chat: body %q: \"${\" is not allowed (it would expand variables or run API commands)", body)
	}
	body = strings.ReplaceAll(body, "'", `\'`)
	return "chat " + proto + "|" + from + "|" + to + "|" + body, nil
}

// Hupall hangs up every leg whose variable varName equals varValue:
// "hupall <cause> <name> <value>". An empty name or value is refused, because
// hupall without a filter kills every call on the node.
func Hupall(cause Cause, varName, varValue string) (string, error) {
	if !cause.Known() {
		return "", fmt.Errorf("hupall: cause %q is not a FreeSWITCH hangup cause", string(cause))
	}
	if varName == "" || varValue == "" {
		return "", fmt.Errorf("hupall: a variable name and value are required; without them hupall kills every call on the node")
	}
	if err := ValidVarName(varName); err != nil {
		return "", fmt.Errorf("hupall: %w", err)
	}
	if err := token("hupall: value", varValue); err != nil {
		return "", err
	}
	return "hupall " + string(cause) + " " + varName + " " + varValue, nil
}

// DialTemplate turns a number into a destination, e.g. "user/{number}@{domain}"
// or "sofia/gateway/gw1/{number}". {number} is the validated number; any other
// {name} comes from the vars given to Endpoint. The template is configuration;
// the number is untrusted.
type DialTemplate string

// Endpoint fills the template. The number must pass ValidNumber, every other
// placeholder must have a value in vars, and the result must be one valid
// destination (see ValidEndpoint).
func (t DialTemplate) Endpoint(number string, vars map[string]string) (string, error) {
	if err := ValidNumber(number); err != nil {
		return "", err // the number's problem, not the template's
	}
	if !strings.Contains(string(t), "{number}") {
		return "", fmt.Errorf("dial template %q has no {number} placeholder", string(t))
	}
	var b strings.Builder
	rest := string(t)
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", fmt.Errorf("dial template %q: unclosed '{'", string(t))
		}
		name := rest[open+1 : open+end]
		b.WriteString(rest[:open])
		switch v, ok := vars[name]; {
		case name == "number":
			b.WriteString(number)
		case !ok:
			return "", fmt.Errorf("dial template %q: no value for {%s}", string(t), name)
		default:
			if err := ValidEndpoint(v); err != nil {
				return "", fmt.Errorf("dial template %q: {%s}: %w", string(t), name, err)
			}
			b.WriteString(v)
		}
		rest = rest[open+end+1:]
	}
	ep := b.String()
	if err := ValidEndpoint(ep); err != nil {
		return "", fmt.Errorf("dial template %q: %w", string(t), err)
	}
	return ep, nil
}
