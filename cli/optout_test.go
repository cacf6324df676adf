package cli_test

import (
	"strings"
	"testing"
	"time"

	"bgcall/cli"
	"bgcall/config"
	"bgcall/fssim"
)

// TestOptout: bgcall optout add refuses B's background calls (and cancels
// B's live ones), call names the refusal, list shows it, remove allows
// calls again; a bad number and a bad subcommand name the fix.
func TestOptout(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.RingTime = 60 * time.Second
	})
	id := sessionID(t, d.run("call", "--json", "1001", "1002"))

	r := d.run("optout", "add", "1002", "--caller", "1001")
	if r.code != 0 {
		t.Fatalf("optout add: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "optout add", r.stdout, "1002 opted out of background calls from 1001", "by cli", "cancelled 1 live session(s): "+id)
	mustContain(t, "status of the cancelled session", d.run("status", id).stdout, "opt-out of 1002 from 1001")

	r = d.run("call", "1001", "1002")
	if r.code != cli.ExitError {
		t.Fatalf("call to an opted-out callee: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "refused call", r.stderr, "callee 1002 opted out of background calls from 1001", "bgcall optout remove 1002")
	if r := d.run("call", "1003", "1002"); r.code != 0 {
		t.Errorf("another caller: exit %d %s", r.code, r.stderr)
	}

	if r := d.run("optout", "add", "1002"); r.code != 0 || !strings.Contains(r.stdout, "from every caller") {
		t.Fatalf("optout add from every caller: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = d.run("optout", "list", "1002")
	mustContain(t, "optout list", r.stdout, "1002 refuses background calls from every caller", "1002 refuses background calls from 1001")

	mustContain(t, "top", d.run("top").stdout, "opted out  1 callee(s)")
	r = d.run("optout", "remove", "1002")
	mustContain(t, "optout remove", r.stdout, "1002 takes background calls from every caller again (2 opt-out(s) removed)")
	mustContain(t, "optout list after remove", d.run("optout", "list", "1002").stdout, "1002 takes background calls from every caller")
	if r := d.run("call", "1001", "1002"); r.code != 0 {
		t.Errorf("call after the opt-in: exit %d %s", r.code, r.stderr)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"optout"}, cli.ExitUsage, "want a subcommand"},
		{[]string{"optout", "drop", "1002"}, cli.ExitUsage, "unknown subcommand \"drop\""},
		{[]string{"optout", "add"}, cli.ExitUsage, "want CALLEE"},
		{[]string{"optout", "add", "12a"}, cli.ExitError, "callee"},
		{[]string{"optout", "list", "--caller", "1001", "1002"}, cli.ExitUsage, "caller"},
	} {
		r := d.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("bgcall %s: exit %d %q; want exit %d naming %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
		}
	}
}
