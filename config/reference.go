package config

import (
	"fmt"
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
