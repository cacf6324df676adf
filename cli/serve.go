package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"bgcall/app"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/internal/buildinfo"
)

func runServe(ctx context.Context, env Env, args []string) error {
	var rest []string
	printConfig := false
	for _, a := range args {
		if a == "--print-config" || a == "-print-config" {
			printConfig = true
			continue
		}
		rest = append(rest, a)
	}
	c, err := config.Load(rest, env.Environ, env.Stderr)
	if err != nil {
		if errors.Is(err, config.ErrHelp) {
			return err
		}
		return exitError{code: ExitUsage, msg: err.Error()}
	}
	if printConfig {
		fmt.Fprint(env.Stdout, config.Format(c))
		return nil
	}
	return app.Run(ctx, app.Options{Config: c, LogOutput: env.Stderr})
}

func runVersion(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "version", "[--json]", "Print the version")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	v := struct {
		Version   string `json:"version"`
		Revision  string `json:"revision"`
		GoVersion string `json:"go_version"`
	}{buildinfo.Version, buildinfo.Revision(), runtime.Version()}
	if *asJSON {
		return printJSON(env.Stdout, v)
	}
	fmt.Fprintf(env.Stdout, "bgcall %s (revision %s, %s)\n", v.Version, v.Revision, v.GoVersion)
	return nil
}

func runSim(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "sim", "[flags]", "Run simulated FreeSWITCH event sockets with scripted far ends, for trying bgcall without FreeSWITCH")
	listen := fs.String("listen", "127.0.0.1:8021", "event socket address of the first node; further nodes take the following ports")
	nodes := fs.Int("nodes", 1, "how many FreeSWITCH nodes to simulate")
	password := fs.String("password", "ClueCon", "event socket password")
	scenario := fs.String("scenario", "", "JSON file scripting far ends by number (see docs/operations.md); overrides --ring and --talk")
	second := fs.Duration("second", time.Second, "length of one simulated FreeSWITCH second (shorter runs calls faster)")
	ring := fs.Duration("ring", 2*time.Second, "without a scenario: far ends ring this long, then answer")
	talk := fs.Duration("talk", 30*time.Second, "without a scenario: ... and hang up this long after answering (0: stay until hung up)")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	if *scenario == "" {
		// The default far end is a one-line scenario.
		f, err := os.CreateTemp("", "bgcall-sim-*.json")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		sc := fssim.Scenario{Default: &fssim.Behavior{Action: fssim.Answer, Ring: *ring, Talk: *talk}}
		if err := json.NewEncoder(f).Encode(sc); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		*scenario = f.Name()
	}
	return fssim.Run(ctx, fssim.RunOptions{
		Addr: *listen, Nodes: *nodes, Password: *password, Scenario: *scenario, Second: *second,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, nil)),
		Ready: func(addrs []string) {
			fmt.Fprintf(env.Stdout, "FreeSWITCH simulator listening on %s (password %s); interrupt to stop\n", strings.Join(addrs, ", "), *password)
		},
	})
}
