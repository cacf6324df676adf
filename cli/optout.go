package cli

import (
	"context"
	"fmt"
	"strings"

	"bgcall/api"
	"bgcall/store"
)

// optoutUsage names the subcommands of optout.
const optoutUsage = "add|remove|list [--caller N] CALLEE"

// runOptout maintains a callee's opt-outs of background calls: add, remove
// or list them.
func runOptout(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		return usageError("want a subcommand: bgcall optout %s", optoutUsage)
	}
	sub, rest := args[0], args[1:]
	var summary string
	switch sub {
	case "add":
		summary = "Opt CALLEE (B) out of background calls: from every caller, or from --caller alone. Requests to B are refused from then on and B's live sessions it covers are cancelled"
	case "remove":
		summary = "Opt CALLEE (B) in to background calls again: remove B's opt-out from --caller, or every opt-out of B"
	case "list":
		summary = "List CALLEE's (B's) opt-outs of background calls"
	case "-h", "--help":
		fmt.Fprintf(env.Stderr, "Usage: bgcall optout %s\n\n  add     opt B out: from every caller, or from --caller alone\n  remove  opt B in again: --caller's opt-out, or every one of B's\n  list    B's opt-outs\n\nRun bgcall optout SUBCOMMAND -h for its flags.\n", optoutUsage)
		return nil
	default:
		return usageError("unknown subcommand %q: want bgcall optout %s", sub, optoutUsage)
	}
	fs := newFlagSet(env, "optout "+sub, "[flags] CALLEE", summary)
	var cf clientFlags
	cf.register(fs, env, true)
	caller := new(string)
	if sub != "list" {
		caller = fs.String("caller", "", "only the opt-out from this caller (A)")
	}
	pos, err := parse(fs, rest, 1, "CALLEE")
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	callee := pos[0]
	switch sub {
	case "add":
		res, err := c.OptOut(rctx, callee, *caller)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(env.Stdout, res)
		}
		printOptOutAdded(env, res)
	case "remove":
		n, err := c.OptIn(rctx, callee, *caller)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(env.Stdout, api.OptInResponse{Removed: n})
		}
		from := "every caller"
		if *caller != "" {
			from = *caller
		}
		if n == 0 {
			fmt.Fprintf(env.Stdout, "%s had no opt-out to remove (from %s); bgcall optout list %s shows what it has\n", callee, from, callee)
		} else {
			fmt.Fprintf(env.Stdout, "%s takes background calls from %s again (%d opt-out(s) removed)\n", callee, from, n)
		}
	case "list":
		list, err := c.OptOuts(rctx, callee)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(env.Stdout, api.OptOutsResponse{Callee: callee, OptOuts: list})
		}
		if len(list) == 0 {
			fmt.Fprintf(env.Stdout, "%s takes background calls from every caller\n", callee)
		}
		for _, o := range list {
			fmt.Fprintf(env.Stdout, "%s refuses background calls from %s\n", callee, optOutDescription(o))
		}
	}
	return nil
}

func printOptOutAdded(env Env, res api.OptOutResponse) {
	o := res.OptOut
	if res.Added {
		fmt.Fprintf(env.Stdout, "%s opted out of background calls from %s\n", o.Callee, optOutDescription(o))
	} else {
		fmt.Fprintf(env.Stdout, "%s had already opted out of background calls from %s\n", o.Callee, optOutDescription(o))
	}
	if len(res.Cancelled) > 0 {
		fmt.Fprintf(env.Stdout, "cancelled %d live session(s): %s\n", len(res.Cancelled), strings.Join(res.Cancelled, " "))
	}
	if len(res.Bridged) > 0 {
		fmt.Fprintf(env.Stdout, "left alone, A and B are talking: %s (bgcall cancel --end-bridged ID hangs up)\n", strings.Join(res.Bridged, " "))
	}
}

// optOutDescription says whom an opt-out refuses, since when and by whom,
// in the words the daemon uses (store.OptOut.Describe).
func optOutDescription(o api.OptOut) string {
	return store.OptOut{Callee: o.Callee, Caller: o.Caller, By: o.By, Since: o.Since}.Describe()
}
