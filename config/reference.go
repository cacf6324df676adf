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

// Redacted stands for a secret in what Format prints. A configuration
// holding it does not validate: the daemon must not send it to FreeSWITCH
// or Redis as a password.
const Redacted = "<redacted>"

// Format prints c as a configuration file, one `key = "value"` line per
// setting. No secret is printed: one left at its default is left out (the
// file loads back to the same), any other prints as Redacted with a comment
// saying how to give it, and the file loads back with Load once it is given
// again. It shows what a daemon would run with after flags, environment and
// file are merged.
func Format(c Config) string {
	def := Defaults()
	var b strings.Builder
	for _, s := range settings {
		v := s.get(&c)
		switch {
		case s.secret && v != "" && v == s.get(&def):
			fmt.Fprintf(&b, "# %s is left at its default; not printed\n", s.key)
			continue
		case s.secret && v != "":
			fmt.Fprintf(&b, "# %s is not printed: write it here or set %s\n", s.key, s.env())
			v = Redacted
		}
		if strings.Contains(v, Redacted) && !s.secret {
			fmt.Fprintf(&b, "# %s: passwords are not printed: write them here or set %s\n", s.key, s.env())
		}
		fmt.Fprintf(&b, "%s = %s\n", s.key, strconv.Quote(v))
	}
	return b.String()
}
