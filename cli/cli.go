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
	"strings"
	"time"

	"bgcall/api"
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
		{"cancel", "[--end-bridged] ID", "switch a background call off", runCancel},
		{"status", "[--json] ID", "show a session and its timeline", runStatus},
		{"list", "[--caller N] [--callee N] [--state S] [--json]", "list sessions, newest first", runList},
		{"watch", "[--session ID] [--caller N] [--callee N] [--json]", "follow session changes live", runWatch},
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
	fmt.Fprintf(w, "\nClient commands reach the daemon at --api (env BGCALL_API, default %s)\nwith --token (env BGCALL_TOKEN). Run bgcall COMMAND -h for its flags.\n", defaultAPI)
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

const defaultAPI = "http://127.0.0.1:8080"

// clientFlags are the flags every client command takes.
type clientFlags struct {
	api, token string
	envToken   string
	timeout    time.Duration
	json       bool
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

func (cf *clientFlags) register(fs *flag.FlagSet, env Env, withJSON bool) {
	def := env.Getenv("BGCALL_API")
	if def == "" {
		def = defaultAPI
	}
	fs.StringVar(&cf.api, "api", def, "daemon API base URL (env BGCALL_API)")
	// The token's default stays out of the flag so that -h never prints it.
	fs.StringVar(&cf.token, "token", "", "API bearer token (default: env BGCALL_TOKEN)")
	cf.envToken = env.Getenv("BGCALL_TOKEN")
	fs.DurationVar(&cf.timeout, "timeout", 10*time.Second, "bound on each API request")
	if withJSON {
		fs.BoolVar(&cf.json, "json", false, "print JSON instead of text")
	}
}

func (cf *clientFlags) client() *api.Client {
	token := cf.token
	if token == "" {
		token = cf.envToken
	}
	return &api.Client{Base: cf.api, Token: token}
}

// parse parses args with fs and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, want int, names string) ([]string, error) {
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, exitError{code: ExitUsage}
	}
	if fs.NArg() != want {
		if want == 0 {
			return nil, usageError("takes no arguments, got %q", strings.Join(fs.Args(), " "))
		}
		return nil, usageError("want %s, got %d argument(s); see -h", names, fs.NArg())
	}
	return fs.Args(), nil
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
