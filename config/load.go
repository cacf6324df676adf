package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Load builds the configuration from, lowest precedence first: the defaults,
// the file named by --config or BGCALL_CONFIG, BGCALL_* environment variables
// in environ, and the flags in args. It validates the result. It returns
// flag.ErrHelp when args ask for help (usage was written to usage).
func Load(args, environ []string, usage io.Writer) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("bgcall serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	var file string
	fs.StringVar(&file, "config", "", "`file` of settings: key = value lines or JSON [BGCALL_CONFIG]")
	flags := map[string]string{}
	for _, s := range settings {
		fs.Var(&flagValue{s: s, into: flags}, s.flag(), s.help)
	}
	fs.Usage = func() { printUsage(usage) }
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: serve takes only flags", fs.Arg(0))
	}

	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BGCALL_") {
			env[k] = v
		}
	}
	if file == "" {
		file = env["BGCALL_CONFIG"]
	}
	if file != "" {
		values, err := ReadFile(file)
		if err != nil {
			return c, err
		}
		for _, kv := range values {
			s, _ := lookup(kv.Key)
			if err := s.set(&c, kv.Value); err != nil {
				return c, fmt.Errorf("%s line %d: %s: %v", file, kv.Line, kv.Key, err)
			}
		}
	}
	for _, s := range settings {
		if v, ok := env[s.env()]; ok {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("environment %s: %v", s.env(), err)
			}
		}
	}
	for _, s := range settings {
		if v, ok := flags[s.key]; ok {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("flag --%s: %v", s.flag(), err)
			}
		}
	}
	if c.ReplicaID == "" {
		// The host name is unique among hosts; two replicas on one host must set replica.id.
		c.ReplicaID, _ = os.Hostname()
	}
	return c, c.Validate()
}

// printUsage writes -h: every setting's flag, in reference order, with its
// kind of value, meaning, default and environment variable.
func printUsage(w io.Writer) {
	def := Defaults()
	fmt.Fprintf(w, "Usage: bgcall serve [flags]\n\nRuns the daemon. Each flag can also be set by its environment variable or,\nas its key, in the --config file (docs/operations.md has the reference).\n\n")
	fmt.Fprintf(w, "  --config file\n      settings file: key = value lines or JSON [BGCALL_CONFIG]\n")
	fmt.Fprintf(w, "  --print-config\n      print the merged configuration (secrets redacted) and exit\n")
	for _, s := range settings {
		head := "  --" + s.flag()
		if s.kind != "" {
			head += " " + s.kind
		}
		line := strings.ReplaceAll(s.help, "`", "")
		if d := s.get(&def); d != "" && !s.secret && d != "false" {
			line += " (default " + d + ")"
		}
		fmt.Fprintf(w, "%s\n      %s [%s]\n", head, line, s.env())
	}
}

// flagValue records a flag's text; Load applies it after the file and the
// environment so that flags win whatever order things are parsed in.
type flagValue struct {
	s    setting
	into map[string]string
}

func (v *flagValue) String() string {
	if v == nil || v.into == nil {
		return ""
	}
	return v.into[v.s.key]
}

func (v *flagValue) Set(text string) error {
	// Check now so that the error names the flag where the user typed it.
	probe := Defaults()
	if err := v.s.set(&probe, text); err != nil {
		return err
	}
	v.into[v.s.key] = text
	return nil
}

func (v *flagValue) IsBoolFlag() bool { return v.s.bool }

// KeyValue is one setting read from a file.
type KeyValue struct {
	Key, Value string
	Line       int
}

// ReadFile reads a configuration file: JSON when it starts with '{',
// otherwise `key = value` lines with optional `[section]` headers that prefix
// the keys below them, `#` comments, and values that may be double-quoted or
// arrays of strings (`["a", "b"]`, read as a comma-separated list).
func ReadFile(path string) ([]KeyValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration file: %w", err)
	}
	var kvs []KeyValue
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		kvs, err = parseJSON(trimmed)
	} else {
		kvs, err = parseLines(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, kv := range kvs {
		if _, ok := lookup(kv.Key); !ok {
			where := path
			if kv.Line > 0 {
				where = fmt.Sprintf("%s line %d", path, kv.Line)
			}
			return nil, fmt.Errorf("%s: unknown setting %q; the settings are listed in docs/operations.md (or run bgcall serve -h)", where, kv.Key)
		}
	}
	return kvs, nil
}

func parseLines(data []byte) ([]KeyValue, error) {
	var out []KeyValue
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want `key = value`, got %q", n, line)
		}
		key = strings.TrimSpace(key)
		if section != "" {
			key = section + "." + key
		}
		value, err := parseValue(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %v", n, key, err)
		}
		out = append(out, KeyValue{Key: key, Value: value, Line: n})
	}
	return out, sc.Err()
}

// stripComment drops a # comment that is not inside a quoted string.
func stripComment(line string) string {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case '#':
			if !inQuote {
				return line[:i]
			}
		}
	}
	return line
}

func parseValue(raw string) (string, error) {
	switch {
	case strings.HasPrefix(raw, `"`):
		v, err := strconv.Unquote(raw)
		if err != nil {
			return "", fmt.Errorf("bad quoted string %s", raw)
		}
		return v, nil
	case strings.HasPrefix(raw, "["):
		var items []string
		if err := json.Unmarshal([]byte(raw), &items); err != nil {
			return "", fmt.Errorf(`want an array of quoted strings such as ["a", "b"], got %s`, raw)
		}
		return strings.Join(items, ","), nil
	}
	return raw, nil
}

func parseJSON(data []byte) ([]KeyValue, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	var out []KeyValue
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			switch v := m[k].(type) {
			case map[string]any:
				if err := walk(key, v); err != nil {
					return err
				}
			case []any:
				var items []string
				for _, it := range v {
					items = append(items, fmt.Sprint(it))
				}
				out = append(out, KeyValue{Key: key, Value: strings.Join(items, ",")})
			case nil:
				out = append(out, KeyValue{Key: key})
			default:
				out = append(out, KeyValue{Key: key, Value: fmt.Sprint(v)})
			}
		}
		return nil
	}
	return out, walk("", root)
}

// ErrHelp is returned by Load when the flags asked for help.
var ErrHelp = flag.ErrHelp
