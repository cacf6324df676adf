package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"bgcall/api"
)

func runTop(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "top", "[flags]", "Show the whole system on one screen: sessions by state and outcome, FreeSWITCH nodes, what is due, quiet hours, replicas and notifications; refreshed on a terminal, printed once otherwise")
	var cf clientFlags
	cf.register(fs, env, true)
	interval := fs.Duration("interval", 2*time.Second, "how often a terminal is refreshed")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	if *interval < 100*time.Millisecond {
		return usageError("--interval %s is too short; 1s or more is usual", *interval)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	read := func() (api.Overview, error) {
		rctx, cancel := context.WithTimeout(ctx, cf.timeout)
		defer cancel()
		return c.Overview(rctx)
	}
	if cf.json || !env.Terminal {
		o, err := read()
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(env.Stdout, o)
		}
		printOverview(env.Stdout, o, time.Now())
		return nil
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		o, err := read()
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprint(env.Stdout, "\x1b[H\x1b[2J") // top of a cleared screen
		if err != nil {
			fmt.Fprintf(env.Stdout, "bgcall top: %v\n(trying again every %s; interrupt to stop)\n", err, *interval)
		} else {
			printOverview(env.Stdout, o, time.Now())
			fmt.Fprintf(env.Stdout, "\nrefreshed every %s; interrupt to stop\n", *interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// printOverview writes the overview as one screen of text.
func printOverview(w io.Writer, o api.Overview, now time.Time) {
	fmt.Fprintf(w, "bgcall top   %s   replica %s\n\n", o.At.Local().Format("2006-01-02 15:04:05 MST"), o.Replica)

	var live []string
	total := int64(0)
	for _, st := range []string{"waiting", "dialing_callee", "confirming", "callee_hold", "bridged"} {
		live = append(live, fmt.Sprintf("%s %d", st, o.Live[st]))
		total += o.Live[st]
	}
	fmt.Fprintf(w, "sessions   %d live: %s\n", total, strings.Join(live, ", "))
	for _, f := range o.Finished {
		line := fmt.Sprintf("finished   last %-4s %d", f.Window, f.Total)
		if f.Total > 0 {
			line += " (" + outcomes(f.ByOutcome)
			if int64(f.Counted) < f.Total {
				line += fmt.Sprintf("; of the latest %d", f.Counted)
			}
			line += ")"
		}
		fmt.Fprintln(w, line)
	}

	fmt.Fprintf(w, "due        %d in the next %s", o.DueSoon.Count, o.DueSoon.Within)
	for i, s := range o.DueSoon.Next {
		if i == 0 {
			fmt.Fprint(w, ":")
		}
		if s.DueAt != nil {
			fmt.Fprintf(w, "\n             %s  %s→%s  attempt %d  %s", clock(*s.DueAt), s.Caller, s.Callee, s.Attempts+1, s.ID)
			if s.DueAt.Before(now) {
				fmt.Fprintf(w, "  (late %s)", now.Sub(*s.DueAt).Round(time.Millisecond))
			}
		}
	}
	fmt.Fprintln(w)
	switch q := o.Quiet; {
	case q.Hours == "":
		fmt.Fprintln(w, "quiet      none")
	case q.Now:
		fmt.Fprintf(w, "quiet      %s, on now until %s: %d session(s) held\n", q.Hours, clock(*q.Until), q.Held)
	case q.Until != nil:
		fmt.Fprintf(w, "quiet      %s, off now; %d session(s) wait for the end of the next window (%s)\n", q.Hours, q.Held, q.Until.Local().Format("Jan 2 15:04"))
	}
	fmt.Fprintf(w, "notify     backlog %d\n", o.NotificationBacklog)
	fmt.Fprintf(w, "opted out  %d callee(s) refuse background calls (bgcall optout list CALLEE)\n", o.OptedOut)

	fmt.Fprintf(w, "\nFreeSWITCH nodes (as replica %s sees them)\n", o.Replica)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tADDRESS\tESL\tCHANNELS\tCMD CONNS\tHEARTBEAT\tRECONNECTS\tLAST ERROR")
	for _, n := range o.Nodes {
		state := "down"
		if n.Connected {
			state = "up"
		}
		if n.Paused {
			state += ", paused"
			if n.PausedBy != "" {
				state += " by " + n.PausedBy
			}
		}
		beat := "-"
		if n.LastHeartbeat != nil {
			beat = now.Sub(*n.LastHeartbeat).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\n", n.Name, n.Addr, state, n.Channels, n.CommandConns, beat, n.Reconnects, orDash(n.LastError))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nreplicas")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  REPLICA\tLEASE\tSESSIONS")
	for _, r := range o.Replicas {
		lease := "holds it, " + r.LeaseUntil.Sub(now).Round(time.Second).String() + " left"
		if r.Lost {
			lease = "lost " + now.Sub(r.LeaseUntil).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", r.ID, lease, r.Owned)
	}
	tw.Flush()
}

// outcomes reads "completed 30, expired 5", most frequent first.
func outcomes(by map[string]int) string {
	names := make([]string, 0, len(by))
	for name := range by {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if by[names[i]] != by[names[j]] {
			return by[names[i]] > by[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %d", name, by[name])
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
