// Package cli is the bgcall command: the daemon (serve), the client
// subcommands that talk to a daemon's HTTP API, the FreeSWITCH simulator
// (sim) and the demo.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"bgcall/api"
	"bgcall/config"
)

// Exit codes.
const (
	ExitOK      = 0 // done; for call --wait: the session completed
	ExitError   = 1 // the command failed
	ExitUsage   = 2 // the command line is wrong
	ExitOutcome = 3 // call --wait: the session finished without a bridge
)

// Env is the process's view of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Environ        []string // for serve: BGCALL_* settings
	// Terminal says Stdout is a terminal: commands that follow a session
	// keep a live line there, redrawn in place; otherwise they print
	// plain lines.
	Terminal bool
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env Env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"serve", "[flags]", "run the daemon (see bgcall serve -h for every setting)", runServe},
		{"call", "[--wait] [--dry-run] CALLER CALLEE", "request a background call from CALLER (A) to CALLEE (B)", runCall},
		{"cancel", "[--end-bridged] ID | --caller N | --callee N | --node NAME [--yes]", "switch a background call off, or every live one of a caller, callee or node", runCancel},
		{"dial-now", "ID", "dial B now for a waiting session", runDialNow},
		{"status", "[--json] ID", "show a session and its timeline, with each attempt's leg UUIDs", runStatus},
		{"find", "[--json] UUID", "show the session of a leg UUID (from fs_cli or a FreeSWITCH log)", runFind},
		{"list", "[--caller N] [--callee N] [--node NAME] [--state S] [--json]", "list sessions, newest first", runList},
		{"watch", "[--session ID] [--caller N] [--callee N] [--node NAME] [--json]", "follow session changes live", runWatch},
		{"optout", optoutUsage, "opt a callee out of background calls (every caller or one), or in again; list the opt-outs", runOptout},
		{"pause", "NODE", "stop new calls on a FreeSWITCH node, for maintenance (every replica)", runPause},
		{"resume", "NODE", "let new calls go to a paused FreeSWITCH node again", runResume},
		{"top", "[--json] [--interval D]", "the whole system on one screen: sessions, nodes, due, quiet hours, replicas", runTop},
		{"sim", "[--listen ADDR] [--scenario FILE]", "run the FreeSWITCH simulator", runSim},
		{"demo", "", "run scripted background calls on the simulator and the embedded store", runDemo},
		{"bench", "[--short]", "measure throughput, Redis cost, memory and lateness on the simulator", runBench},
		{"version", "[--json]", "print the version", runVersion},
	}
}

// Main runs the bgcall command line and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var exit exitError
		switch {
		case err == nil:
			return ExitOK
		case errors.Is(err, flag.ErrHelp):
			return ExitOK
		case errors.As(err, &exit):
			if exit.msg != "" {
				fmt.Fprintf(env.Stderr, "bgcall %s: %s\n", c.name, exit.msg)
			}
			return exit.code
		}
		fmt.Fprintf(env.Stderr, "bgcall %s: %v\n", c.name, err)
		return ExitError
	}
	fmt.Fprintf(env.Stderr, "bgcall: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "bgcall: background calls for FreeSWITCH\n\nUsage: bgcall COMMAND [flags] [args]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nClient commands reach the daemon at --api (env BGCALL_API_LISTEN, default %s)\nwith --token (env BGCALL_API_TOKEN), the daemon's own settings, or read both from\nthe daemon's file with --config (env BGCALL_CONFIG). Run bgcall COMMAND -h for its flags.\n", defaultAPI)
}

// exitError ends a command with a given exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
}

const defaultAPI = "127.0.0.1:8080"

// clientFlags are the flags every client command takes.
type clientFlags struct {
	api, token, config string
	getenv             func(string) string
	timeout            time.Duration
	json               bool
}

func newFlagSet(env Env, name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("bgcall "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: bgcall %s %s\n\n%s.\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// register adds the client flags. Their defaults come from the same
// environment variables the daemon reads (BGCALL_API_LISTEN,
// BGCALL_API_TOKEN), or from the daemon's configuration file; they are
// resolved in client, so that -h never prints a token.
func (cf *clientFlags) register(fs *flag.FlagSet, env Env, withJSON bool) {
	cf.getenv = env.Getenv
	fs.StringVar(&cf.api, "api", "", "the daemon's API, as host:port (its api.listen) or a URL (default: env BGCALL_API_LISTEN, else api.listen in --config, else "+defaultAPI+")")
	fs.StringVar(&cf.token, "token", "", "API bearer token (default: env BGCALL_API_TOKEN, else api.token in --config)")
	fs.StringVar(&cf.config, "config", "", "the daemon's configuration `file`, read for api.listen and api.token (env BGCALL_CONFIG)")
	fs.DurationVar(&cf.timeout, "timeout", 10*time.Second, "bound on each API request")
	if withJSON {
		fs.BoolVar(&cf.json, "json", false, "print JSON instead of text")
	}
}

// client returns the API client the flags, the environment and the
// configuration file name, in that order. BGCALL_API and BGCALL_TOKEN, the
// names the client used to read, still work.
func (cf *clientFlags) client() (*api.Client, error) {
	first := func(vs ...string) string {
		for _, v := range vs {
			if v != "" {
				return v
			}
		}
		return ""
	}
	addr := first(cf.api, cf.getenv("BGCALL_API_LISTEN"), cf.getenv("BGCALL_API"))
	token := first(cf.token, cf.getenv("BGCALL_API_TOKEN"), cf.getenv("BGCALL_TOKEN"))
	if file := first(cf.config, cf.getenv("BGCALL_CONFIG")); file != "" && (addr == "" || token == "") {
		listen, fileToken, err := readAPISettings(file)
		if err != nil {
			return nil, err
		}
		if token == "" && fileToken == config.Redacted {
			return nil, usageError("%s: api.token is the placeholder %s that serve --print-config writes; pass --token or set BGCALL_API_TOKEN", file, config.Redacted)
		}
		addr, token = first(addr, listen), first(token, fileToken)
	}
	base, err := baseURL(first(addr, defaultAPI))
	if err != nil {
		return nil, err
	}
	cf.api = base
	name := "cli"
	if user := cf.getenv("USER"); user != "" {
		name += ":" + user
	}
	return &api.Client{Base: base, Token: token, Name: name}, nil
}

// readAPISettings reads api.listen and api.token from a daemon
// configuration file.
func readAPISettings(file string) (listen, token string, err error) {
	kvs, err := config.ReadFile(file)
	if err != nil {
		return "", "", usageError("--config: %v", err)
	}
	for _, kv := range kvs {
		switch kv.Key {
		case "api.listen":
			listen = kv.Value
		case "api.token":
			token = kv.Value
		}
	}
	return listen, token, nil
}

// baseURL turns the daemon's address, as its api.listen (host:port; an
// empty or unspecified host means this machine) or as a URL, into the
// API's base URL.
func baseURL(addr string) (string, error) {
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", usageError("--api %q: want host:port (e.g. 127.0.0.1:8080, the daemon's api.listen) or an http(s) URL", addr)
		}
		return strings.TrimRight(addr, "/"), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || strings.ContainsAny(addr, " /") {
		return "", usageError("--api %q: want host:port (e.g. 127.0.0.1:8080, the daemon's api.listen) or an http(s) URL", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// parse parses args with fs and checks the number of positional arguments.
// A bad flag value is one line naming the flag and the fix; only -h prints
// the usage.
func parse(fs *flag.FlagSet, args []string, want int, names string) ([]string, error) {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	fs.VisitAll(func(f *flag.Flag) { f.Value = plainValue{f.Value} })
	err := fs.Parse(interleave(fs, args))
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return nil, err
	case err != nil:
		return nil, usageError("%s; see %s -h", flagProblem(err), fs.Name())
	}
	if fs.NArg() != want {
		if want == 0 {
			return nil, usageError("takes no arguments, got %q", strings.Join(fs.Args(), " "))
		}
		return nil, usageError("want %s, got %d argument(s); see %s -h", names, fs.NArg(), fs.Name())
	}
	return fs.Args(), nil
}

var invalidFlag = regexp.MustCompile(`^invalid value "(.*)" for flag -(\S+): (.*)$`)

// flagProblem rewrites the flag package's error in the command line's
// words: `--ring-time "90": needs a unit: write 90s (or 2m, 1h)`.
func flagProblem(err error) string {
	m := invalidFlag.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	return fmt.Sprintf("--%s %q: %s", m[2], m[1], m[3])
}

// plainValue is a flag value whose errors say what a value should look
// like, instead of the flag package's "parse error".
type plainValue struct{ flag.Value }

func (v plainValue) Set(s string) error {
	err := v.Value.Set(s)
	if err == nil {
		return nil
	}
	getter, ok := v.Value.(flag.Getter)
	if !ok {
		return err
	}
	switch getter.Get().(type) {
	case time.Duration:
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return fmt.Errorf("a duration needs its unit: write %ss (or 2m, 1h)", s)
		}
		return errors.New("not a duration; write e.g. 30s, 2m or 1h")
	case int, int64, uint, uint64:
		return errors.New("not a whole number")
	case float64:
		return errors.New("not a number")
	}
	return err
}

func (v plainValue) IsBoolFlag() bool { return isBool(&flag.Flag{Value: v.Value}) }

// String prints the value; the flag package also calls it on a zero
// plainValue, to tell a default worth printing.
func (v plainValue) String() string {
	if v.Value == nil {
		return ""
	}
	return v.Value.String()
}

// sessionArg checks a session id given on the command line.
func sessionArg(id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", usageError("the session id is empty; give the id bgcall call printed (bgcall list shows them)")
	}
	return id, nil
}

// interleave moves flags after positional arguments to the front, so that
// `bgcall status ID --json` works as well as `bgcall status --json ID`.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(flags, pos...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
