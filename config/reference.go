package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Reference returns the Markdown table of every setting with its
// environment variable, flag, default and meaning. docs/operations.md holds a
// copy that a test keeps equal to it.
func Reference() string {
	def := Defaults()
	var b strings.Builder
	b.WriteString("| key | environment | flag | default | meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, s := range settings {
		d := s.get(&def)
		if d == "" {
			d = "(empty)"
		} else {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | %s | %s |\n", s.key, s.env(), s.flag(), d, strings.ReplaceAll(s.help, "|", `\|`))
	}
	return b.String()
}

// Keys returns every setting's key in reference order.
func Keys() []string {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.key
	}
	return keys
}

// Format prints c as a configuration file, one `key = "value"` line per
// setting; secrets that are set print as <redacted>. It shows what a daemon
// would run with after flags, environment and file are merged.
func Format(c Config) string {
	var b strings.Builder
	for _, s := range settings {
		v := s.get(&c)
		if s.secret && v != "" {
			v = "<redacted>"
		}
		fmt.Fprintf(&b, "%s = %s\n", s.key, strconv.Quote(v))
	}
	return b.String()
}
