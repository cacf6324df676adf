package fssim

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bgcall/fssim/internal/fsdiff"
	"bgcall/internal/fsreal"
)

// The simulator is held to recordings of a real FreeSWITCH 1.10.12 in
// testdata/freeswitch, made by `make record-freeswitch` (fssim/cmd/fsrecord)
// from the scripts of fssim/internal/fsdiff: the same bytes sent to the
// simulator must bring the same replies, and the same events in an order
// FreeSWITCH showed. These tests need no FreeSWITCH.

const recordings = "testdata/freeswitch"

func loadRecording(t *testing.T, file string) *fsdiff.Recording {
	t.Helper()
	rec, err := fsdiff.Load(filepath.Join(recordings, file))
	if err != nil {
		t.Fatalf("recording: %v (record it with `make record-freeswitch`)", err)
	}
	return rec
}

// TestFramingMatchesFreeSWITCH sends every framing case (odd line ends,
// header lines, prefixes, NUL bytes, unknown commands, before and after
// auth) and requires the very frames FreeSWITCH sent back, ids aside.
func TestFramingMatchesFreeSWITCH(t *testing.T) {
	rec := loadRecording(t, fsdiff.FramingFile)
	recorded := map[string]fsdiff.FramingResult{}
	for _, r := range rec.Framing {
		recorded[r.Name] = r
	}
	n := StartT(t, fastOptions())
	for _, c := range fsdiff.FramingCases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := recorded[c.Name]
			if !ok || want.Send != c.Send || want.Auth != c.Auth || want.Job != c.Job {
				t.Fatalf("case %q is not recorded as it stands: re-record with `make record-freeswitch`", c.Name)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := fsdiff.RunFraming(ctx, n.Addr(), n.Password(), c)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Frames, "\x00") != strings.Join(want.Frames, "\x00") {
				t.Errorf("sent %q\nsimulator:\n%s\nFreeSWITCH %s:\n%s", c.Send, frames(got.Frames), rec.FreeSWITCH, frames(want.Frames))
			}
		})
	}
}

// TestFramingRecordingRealFreeSWITCH replays the framing cases on the real
// FreeSWITCH installed and requires what the recording says, so that a
// recording gone stale (a case changed, another FreeSWITCH) is noticed
// where FreeSWITCH runs. FreeSWITCH answers them the same every time;
// call flows race, and are only re-recorded.
func TestFramingRecordingRealFreeSWITCH(t *testing.T) {
	fs := fsreal.Start(t, fsreal.Options{})
	rec := loadRecording(t, fsdiff.FramingFile)
	recorded := map[string]fsdiff.FramingResult{}
	for _, r := range rec.Framing {
		recorded[r.Name] = r
	}
	for _, c := range fsdiff.FramingCases {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := fsdiff.RunFraming(ctx, fs.Addr, fs.Password, c)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if want := recorded[c.Name]; strings.Join(got.Frames, "\x00") != strings.Join(want.Frames, "\x00") {
			t.Errorf("%s: FreeSWITCH now answers\n%srecorded:\n%s(re-record with `make record-freeswitch`)", c.Name, frames(got.Frames), frames(want.Frames))
		}
	}
}

func frames(fs []string) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + strings.ReplaceAll(f, "\n", `\n`) + "\n")
	}
	return b.String()
}

// simScale shortens the flows' far-end and prompt times on the simulator:
// only their order matters to the comparison.
const simScale = 10

// flowNode starts a node whose subscribers are the far ends of f.
func flowNode(t *testing.T, f fsdiff.Flow) *Node {
	opts := Options{Second: 100 * time.Millisecond, Heartbeat: -1, Prompts: map[string]time.Duration{}}
	for path, d := range fsdiff.Sounds {
		opts.Prompts[path] = d / simScale
	}
	n := StartT(t, opts)
	for role, far := range f.Legs {
		var b Behavior
		switch far.Kind {
		case "answer":
			b = Behavior{Action: Answer, Ring: far.Ring / simScale}
		case "noanswer":
			b = Behavior{Action: NoAnswer}
		case "early":
			b = Behavior{Action: EarlyMedia}
		case "busy":
			b = Behavior{Action: Busy}
		case "reject":
			b = Behavior{Action: Reject}
		case "hangup":
			b = Behavior{Action: Answer, Ring: far.Ring / simScale, Talk: far.Talk / simScale}
		default:
			t.Fatalf("far end %q has no behaviour here", far.Kind)
		}
		n.SetSubscriber(f.Number(role), b)
	}
	return n
}

// TestFlowsMatchFreeSWITCH runs every call flow on the simulator, with the
// bytes bgcall sends, and holds its replies and events to the runs recorded
// on FreeSWITCH (see fsdiff.Compare): where FreeSWITCH raced, the
// simulator may take any order it showed, and no other.
func TestFlowsMatchFreeSWITCH(t *testing.T) {
	rec := loadRecording(t, fsdiff.FlowsFile)
	recorded := map[string]fsdiff.FlowResult{}
	for _, r := range rec.Flows {
		recorded[r.Name] = r
	}
	for _, f := range fsdiff.Flows {
		t.Run(f.Name, func(t *testing.T) {
			want, ok := recorded[f.Name]
			if !ok {
				t.Fatalf("flow %q is not recorded: re-record with `make record-freeswitch`", f.Name)
			}
			n := flowNode(t, f)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			got, err := fsdiff.RunFlow(ctx, fsdiff.Target{Addr: n.Addr(), Password: n.Password()}, f)
			if err != nil {
				t.Fatal(err)
			}
			if err := fsdiff.Compare(want, got); err != nil {
				t.Error(err)
			}
		})
	}
}
