package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/session"
)

var redisAddr string

func TestMain(m *testing.M) {
	os.Exit(redistest.Main(m, func(s *redistest.Server) { redisAddr = s.Addr }))
}

const token = "web-test-token-0123456789"

// chromium returns the path of a Chromium or Chrome, failing the test with
// the fix when there is none: the page must not go untested.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("no Chromium found: install the Debian package chromium (make deps runs scripts/install-deps)")
	return ""
}

// daemon starts bgcall on sim and the test's redis-server and returns its
// base URL.
func daemon(t *testing.T, sim *fssim.Node) string {
	t.Helper()
	c := config.Defaults()
	c.ReplicaID, c.Namespace = "web-test", "web-test"
	c.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: sim.Addr(), Password: sim.Password()}}
	c.Redis.Addrs = []string{redisAddr}
	c.API.Listen = "127.0.0.1:0"
	c.API.Token = token
	c.Retry.RingTime = 60 * time.Second
	c.Retry.CallerRing = 3 * time.Second
	c.Retry.QuietStart, c.Retry.QuietEnd = -1, -1
	c.Drain = 0
	ctx, cancel := context.WithCancel(context.Background())
	d, err := app.Start(ctx, app.Options{Config: c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engine: func(o *session.Options) { o.ParkTimeout = 200 * time.Second }})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	return "http://" + d.APIAddr()
}

// TestPageInChromium loads the page in a real headless Chromium, creates
// sessions through the API and sees them appear, move on and finish on the
// page from the watch stream; then searches and cancels from the page.
func TestPageInChromium(t *testing.T) {
	path := chromium(t)
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer, Ring: 100 * time.Millisecond}},
		"1002": {{Action: fssim.Answer, Ring: 500 * time.Millisecond, Talk: 2 * time.Second}},
		"1004": {{Action: fssim.NoAnswer}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	base := daemon(t, sim)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU)...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(browser, 5*time.Second)
		page, _ := chromedp.Run(pctx, chromedp.OuterHTML(chromedp.CSS("body")))
		pcancel()
		t.Fatalf("%s: %v\npage:\n%s", what, err, page)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			fail(what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return v
	}

	// Without a token the page asks for one.
	run("load without a token", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token-form")))
	run("give the token", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#token-form button")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-watching="true"]`)))
	run("read the overview", chromedp.WaitVisible(chromedp.CSS("#nodes tbody tr")))
	nodes := text("#nodes tbody")
	if !strings.Contains(nodes, "fs1") || !strings.Contains(nodes, "up") {
		t.Errorf("nodes table %q, want fs1 up", nodes)
	}
	if got := text("#optedout"); got != "0 callee(s) refuse background calls" {
		t.Errorf("opt-outs card %q, want none", got)
	}

	client := &api.Client{Base: base, Token: token}
	s, _, err := client.Create(context.Background(), api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf(`tr[data-session=%q]`, s.ID)
	run("see the session appear", chromedp.WaitVisible(chromedp.CSS(row)), chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS("#timeline li")))
	run("see it bridged", chromedp.WaitVisible(chromedp.CSS(row+`[data-state="bridged"]`)))
	run("see it finish", chromedp.WaitVisible(chromedp.CSS(row+`[data-state="finished"]`)))
	outcome, timeline := text(row+" td.outcome"), text("#timeline")
	if outcome != "completed" {
		t.Errorf("outcome on the page %q, want completed", outcome)
	}
	for _, want := range []string{"attempt 1", "B answered", "ringing A (1001)", "bridged", "outcome: completed"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("live timeline lacks %q:\n%s", want, timeline)
		}
	}

	// Search by number, then cancel from the page.
	other, _, err := client.Create(context.Background(), api.CreateRequest{Caller: "1003", Callee: "1004"})
	if err != nil {
		t.Fatal(err)
	}
	otherRow := fmt.Sprintf(`tr[data-session=%q]`, other.ID)
	run("search by number", chromedp.SetValue(chromedp.CSS("#q"), "1004"), chromedp.Click(chromedp.CSS("#search button")),
		chromedp.WaitVisible(chromedp.CSS(otherRow)), chromedp.WaitNotPresent(chromedp.CSS(row)))
	button := otherRow + " button.cancel"
	run("cancel", chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(button+".confirm")),
		chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(otherRow+`[data-state="finished"]`)))
	got, err := client.Get(context.Background(), other.ID)
	if err != nil || got.Outcome != "cancelled" || !strings.Contains(got.Timeline[len(got.Timeline)-2].Note, "by web") {
		t.Errorf("after cancelling on the page: %+v (%v)", got, err)
	}
}

// TestPageFiles: the page and its files are served with a policy that
// keeps them to their own origin; the API's 404 answers anything else.
func TestPageFiles(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	base := daemon(t, sim)
	for path, want := range map[string]string{"/": "<title>bgcall</title>", "/ui/app.js": "watch", "/ui/style.css": "body"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: %d, CSP %q, body has %q: %v", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), want, strings.Contains(string(body), want))
		}
	}
	resp, err := http.Get(base + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /nothing-here: %d, want 404", resp.StatusCode)
	}
}
