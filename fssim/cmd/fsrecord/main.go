// Command fsrecord records how a real FreeSWITCH answers the simulator's
// differential scripts (package fssim/internal/fsdiff) and writes the
// recordings the simulator's tests hold it to:
//
//	go run ./fssim/cmd/fsrecord              (make record-freeswitch)
//
// It starts a private FreeSWITCH of its own (internal/fsreal: the installed
// /usr/local/freeswitch, or BGCALL_FREESWITCH_BIN) on a free port, runs
// every framing case once and every call flow several times (FreeSWITCH's
// threads race, so a flow may end in more than one order), and writes
// fssim/testdata/freeswitch/{framing,flows}.json.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"bgcall/fssim/internal/fsdiff"
	"bgcall/internal/fsreal"
)

func main() {
	out := flag.String("out", "fssim/testdata/freeswitch", "directory to write the recordings to")
	only := flag.String("only", "", "record only the scripts whose name matches this regular expression (the others are kept)")
	flag.Parse()
	if err := run(*out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "fsrecord:", err)
		os.Exit(1)
	}
}

func run(out, only string) error {
	match, err := regexp.Compile(only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a directory: run from the repository's root or set -out", out)
	}
	dir, err := os.MkdirTemp("", "fsrecord-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fs, err := fsreal.StartServer(dir, fsreal.Options{Sounds: fsdiff.Sounds})
	if err != nil {
		return err
	}
	defer fs.Stop()
	ctx := context.Background()
	version, err := fs.API(ctx, "version")
	if err != nil {
		return err
	}
	version = strings.TrimSpace(version)
	slog.Info("recording", "freeswitch", version, "addr", fs.Addr)
	if err := recordFraming(ctx, fs, version, filepath.Join(out, fsdiff.FramingFile), match); err != nil {
		return err
	}
	return recordFlows(ctx, fs, version, filepath.Join(out, fsdiff.FlowsFile), match)
}

// keep returns the recording at path to update, or a new one.
func keep(path, version string) *fsdiff.Recording {
	r, err := fsdiff.Load(path)
	if err != nil {
		r = &fsdiff.Recording{}
	}
	r.FreeSWITCH = version
	return r
}

func recordFraming(ctx context.Context, fs *fsreal.Server, version, path string, match *regexp.Regexp) error {
	rec := keep(path, version)
	old := map[string]fsdiff.FramingResult{}
	for _, r := range rec.Framing {
		old[r.Name] = r
	}
	rec.Framing = nil
	for _, c := range fsdiff.FramingCases {
		if !match.MatchString(c.Name) {
			if r, ok := old[c.Name]; ok {
				rec.Framing = append(rec.Framing, r)
			}
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		r, err := fsdiff.RunFraming(cctx, fs.Addr, fs.Password, c)
		cancel()
		if err != nil {
			return fmt.Errorf("framing %q: %w", c.Name, err)
		}
		rec.Framing = append(rec.Framing, r)
	}
	slog.Info("framing recorded", "cases", len(rec.Framing), "file", path)
	return rec.Save(path)
}

// settle is how long a run waits, once it has ended, for events that come
// late (FreeSWITCH's connection threads flush their queues every 20 ms).
const settle = 300 * time.Millisecond

func recordFlows(ctx context.Context, fs *fsreal.Server, version, path string, match *regexp.Regexp) error {
	rec := keep(path, version)
	old := map[string]fsdiff.FlowResult{}
	for _, r := range rec.Flows {
		old[r.Name] = r
	}
	rec.Flows = nil
	target := fsdiff.Target{Addr: fs.Addr, Password: fs.Password, Real: true, Settle: settle}
	for _, f := range fsdiff.Flows {
		if !match.MatchString(f.Name) {
			if r, ok := old[f.Name]; ok {
				rec.Flows = append(rec.Flows, r)
			}
			continue
		}
		r := fsdiff.FlowResult{Name: f.Name}
		for i := 0; i < fsdiff.MaxRuns && (i < f.RunsWanted() || !r.Sought(f)); i++ {
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			o, err := fsdiff.RunFlow(fctx, target, f)
			cancel()
			if err != nil {
				return fmt.Errorf("flow %q, run %d: %w", f.Name, i+1, err)
			}
			r.Add(o)
		}
		if !r.Sought(f) {
			return fmt.Errorf("flow %q: no run in %d showed %q", f.Name, r.Runs, f.Seek)
		}
		slog.Info("flow recorded", "flow", f.Name, "runs", r.Runs, "outcomes", len(r.Outcomes))
		rec.Flows = append(rec.Flows, r)
	}
	return rec.Save(path)
}
