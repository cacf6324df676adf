package fssim

import (
	"strings"
)

// originateArgs is a parsed originate command line.
type originateArgs struct {
	vars     []header // {} then [] variables, in order
	endpoint string   // dial string after the variables
	app      string   // application of the &app(args) form, "" for an extension
	appArgs  string
	exten    string // extension of the <exten> [dialplan] [context] form
	dialplan string
	context  string
	cidName  string
	cidNum   string
	timeout  string // positional timeout_sec
}

const originateUsage = "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"

// splitArgs splits on spaces outside {}, [], () and quotes, as originate's
// arguments need.
func splitArgs(s string) []string {
	var out []string
	depth := 0
	var quote byte
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{' || c == '[' || c == '(' || c == '<':
			depth++
		case (c == '}' || c == ']' || c == ')' || c == '>') && depth > 0:
			depth--
		case c == ' ' || c == '\t':
			if depth == 0 {
				if start >= 0 {
					out = append(out, s[start:i])
					start = -1
				}
				continue
			}
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func parseOriginate(arg string) (*originateArgs, bool) {
	argv := splitArgs(arg)
	if len(argv) < 2 {
		return nil, false
	}
	o := &originateArgs{}
	url := argv[0]
	for len(url) > 0 && (url[0] == '{' || url[0] == '[' || url[0] == '<') {
		closer := byte('}')
		switch url[0] {
		case '[':
			closer = ']'
		case '<':
			closer = '>'
		}
		end := matchingClose(url, url[0], closer)
		if end < 0 {
			return nil, false
		}
		if vars := parseVars(url[1:end]); o.vars == nil {
			o.vars = vars
		} else {
			o.vars = append(o.vars, vars...)
		}
		url = url[end+1:]
	}
	// Several endpoints (",", "|", ":_:") dial together or in turn; the
	// simulator dials the first.
	if i := strings.IndexAny(url, ",|"); i >= 0 {
		url = url[:i]
	}
	o.endpoint = url
	target := argv[1]
	if strings.HasPrefix(target, "&") {
		target = target[1:]
		if i := strings.IndexByte(target, '('); i >= 0 && strings.HasSuffix(target, ")") {
			o.app, o.appArgs = target[:i], target[i+1:len(target)-1]
		} else if name, a, ok := strings.Cut(target, " "); ok {
			o.app, o.appArgs = name, a
		} else {
			o.app = target
		}
		if o.app == "" {
			return nil, false
		}
	} else {
		o.exten = target
	}
	rest := argv[2:]
	fields := []*string{&o.dialplan, &o.context, &o.cidName, &o.cidNum, &o.timeout}
	for i, v := range rest {
		if i < len(fields) && v != "undef" {
			*fields[i] = strings.Trim(v, "'\"")
		}
	}
	return o, true
}

func matchingClose(s string, open, closer byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case open:
			depth++
		case closer:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parseVars splits "a=1,b=x\,y,c='p,q'" into variables the way
// switch_event_create_brackets does: unescaped commas separate, "\," is a
// literal comma, single quotes protect commas.
func parseVars(s string) []header {
	sep := byte(',')
	if strings.HasPrefix(s, "^^") && len(s) > 2 {
		sep = s[2]
		s = s[3:]
	}
	out := make([]header, 0, strings.Count(s, string(sep))+1)
	add := func(kv string) {
		name, value, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return
		}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = value[1 : len(value)-1]
		}
		out = append(out, header{name, value})
	}
	// A variable is a slice of s unless it has escaped separators; only
	// those are copied, without their backslashes.
	start, escaped, inQuote := 0, false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && s[i+1] == sep:
			escaped = true
			i++
		case c == '\'':
			inQuote = !inQuote
		case c == sep && !inQuote:
			add(unescapeSep(s[start:i], sep, escaped))
			start, escaped = i+1, false
		}
	}
	add(unescapeSep(s[start:], sep, escaped))
	return out
}

// unescapeSep turns each "\<sep>" of a variable into sep.
func unescapeSep(s string, sep byte, escaped bool) string {
	if !escaped {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == sep {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// target is where a dial string leads.
type target struct {
	number  string // subscriber number
	name    string // Channel-Name
	source  string // Caller-Source
	context string
	kind    string // "user", "sofia", "loopback", "error"
	cause   string // for error/<cause>
}

// resolveEndpoint maps the dial-string forms a controller uses to a
// subscriber number; ok is false for an endpoint type FreeSWITCH would not
// have loaded.
func resolveEndpoint(ep, domain string) (target, bool) {
	stripHost := func(s string) string {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "sips:"), "sip:")
		if i := strings.IndexByte(s, '@'); i >= 0 {
			s = s[:i]
		}
		return s
	}
	parts := strings.Split(ep, "/")
	switch strings.ToLower(parts[0]) {
	case "user":
		if len(parts) < 2 || parts[1] == "" {
			return target{}, false
		}
		user, dom, ok := strings.Cut(parts[1], "@")
		if !ok || dom == "" {
			dom = domain
		}
		return target{number: user, name: "sofia/internal/" + user + "@" + dom, source: "mod_sofia", context: "default", kind: "user"}, true
	case "sofia":
		if len(parts) >= 4 && parts[1] == "gateway" {
			n := stripHost(strings.Join(parts[3:], "/"))
			return target{number: n, name: "sofia/gateway/" + parts[2] + "/" + n, source: "mod_sofia", context: "default", kind: "sofia"}, true
		}
		if len(parts) >= 3 {
			n := stripHost(strings.Join(parts[2:], "/"))
			return target{number: n, name: ep, source: "mod_sofia", context: "default", kind: "sofia"}, true
		}
	case "loopback":
		if len(parts) >= 2 && parts[1] != "" {
			ctx := "default"
			if len(parts) >= 3 && parts[2] != "" {
				ctx = parts[2]
			}
			return target{number: parts[1], name: "loopback/" + parts[1] + "-a", source: "mod_loopback", context: ctx, kind: "loopback"}, true
		}
	case "error":
		if len(parts) >= 2 {
			return target{number: parts[1], kind: "error", cause: strings.ToUpper(parts[1])}, true
		}
	}
	return target{}, false
}
