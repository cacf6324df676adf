// Package fsreal starts a private, real FreeSWITCH for a test.
//
// Each Start runs /usr/local/freeswitch/bin/freeswitch (BGCALL_FREESWITCH_BIN
// overrides it) with the project's own minimal configuration, embedded here
// (conf/: event socket, loopback endpoint, XML dialplan, chat), on a free
// loopback port with a password of its own, and every file it writes under a
// temporary directory. Several can run side by side.
//
// There is no SIP: calls are placed with the loopback endpoint,
// loopback/<number>/default (DialTemplate), into the test dialplan of
// conf/dialplan/default/00_bgcall.xml plus whatever a test adds through
// Options.Dialplan. Its numbers are digits, as bgcall accepts them, and say
// what the far end does; AnswerAfter, NoAnswer, EarlyMedia, Busy, Reject and
// AnswerThenHangup build them. A loopback call is two channels: the
// outbound "-a" leg, whose Unique-ID is the origination_uuid, and an inbound
// "-b" leg that runs the dialplan and stands for the far end's phone. The
// loopback endpoint copies the caller's channel variables to the "-b" leg
// (bgcall_session included: judge legs by Unique-ID, or by Call-Direction
// outbound); the dialplan drops park_timeout from it, as a phone has none.
//
// The same configuration runs by hand with `make freeswitch` (./run), on
// bgcall's default event socket, 127.0.0.1:8021 with password ClueCon.
//
// # Which tests need FreeSWITCH
//
// A test that needs the real FreeSWITCH has "RealFreeSWITCH" in its
// top-level name (TestOriginateRealFreeSWITCH; a scenario table run on both
// backends has TestScenariosSimulator and TestScenariosRealFreeSWITCH), and
// starts with Require or Start. So:
//
//	go test -run RealFreeSWITCH ./...        only the real-FreeSWITCH tests
//	go test -list RealFreeSWITCH ./...       which they are
//
// Without FreeSWITCH they skip, naming how to install it; with
// BGCALL_REQUIRE_FREESWITCH=1 (set by `make test-freeswitch` and by CI) they
// fail instead, so a machine that should run them can never skip them
// quietly.
package fsreal

import (
	"bufio"
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bgcall/internal/callrec"
)

//go:embed conf
var conf embed.FS

// DefaultBin is where ../shared/freeswitch/install (and a default source
// build) puts FreeSWITCH.
const DefaultBin = "/usr/local/freeswitch/bin/freeswitch"

// Environment variables that steer these tests.
const (
	EnvBin     = "BGCALL_FREESWITCH_BIN"     // the freeswitch binary, if not DefaultBin
	EnvRequire = "BGCALL_REQUIRE_FREESWITCH" // "1": a missing FreeSWITCH fails the test instead of skipping it
)

// HowToInstall is what a skipped or failed test prints.
const HowToInstall = "install it with `sudo ../shared/freeswitch/install` (or set " + EnvBin +
	"), then run `make test-freeswitch`"

// ErrNotInstalled is StartServer's error when there is no FreeSWITCH binary.
var ErrNotInstalled = errors.New("not installed")

// Installed returns the FreeSWITCH binary and whether it is there.
func Installed() (bin string, ok bool) {
	bin = DefaultBin
	if b := os.Getenv(EnvBin); b != "" {
		bin = b
	}
	return bin, executable(bin)
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Require returns the FreeSWITCH binary, or skips the test when there is
// none; with BGCALL_REQUIRE_FREESWITCH=1 it fails the test instead.
func Require(t testing.TB) string {
	t.Helper()
	bin, ok := Installed()
	if ok {
		return bin
	}
	msg := fmt.Sprintf("real FreeSWITCH: not installed (%s not found): %s", bin, HowToInstall)
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s (%s=1: required here)", msg, EnvRequire)
	}
	t.Skip(msg)
	return ""
}

// Options shape one FreeSWITCH.
type Options struct {
	// Dialplan adds files to the context "default" (dialplan/default/50_<name>.xml),
	// after the test dialplan and in name order. Each is an <include> of
	// <extension> elements; the first extension that matches a number runs.
	Dialplan map[string]string
	// Chatplan adds files to the chatplan (chatplan/50_<name>.xml), each an
	// <include> of <context> elements.
	Chatplan map[string]string
	// Sounds are files to play, by path relative to the sounds directory
	// (e.g. "ivr/ivr-hold_connect_call.wav", as uuid_broadcast names them),
	// each a WAV of silence that lasts the given time. This FreeSWITCH has
	// no stock sounds; tone_stream:// and silence_stream:// need no file.
	Sounds map[string]time.Duration
	// Addr is the event socket's, 127.0.0.1:port; default a free port.
	Addr string
	// Password is the event socket's; default a random one.
	Password string
	// Bin is the freeswitch binary StartServer runs; default the one
	// Installed finds. Start always runs that one.
	Bin string
}

// Server is one running FreeSWITCH.
type Server struct {
	Addr     string // the event socket, 127.0.0.1:port
	Password string

	bin     string
	confDir string
	runDir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has been waited for
	api  *callrec.Conn // cached connection for API
}

// startTimeout bounds FreeSWITCH's start-up (about 3 s when the machine is
// quiet).
const startTimeout = 30 * time.Second

// stopGrace is how long Stop lets FreeSWITCH shut down before SIGKILL. A
// clean exit takes about 6 s, most of it pauses while modules unload; calls
// are hung up (and their events sent) well within this.
const stopGrace = 1500 * time.Millisecond

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Start starts a FreeSWITCH for t (skipping t as Require does when there is
// none) and stops it when t ends. When t fails, the tail of FreeSWITCH's
// log is printed.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	bin := Require(t)
	s, err := newServer(bin, t.TempDir(), opt)
	if err != nil {
		t.Fatalf("real FreeSWITCH: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("real FreeSWITCH %s: last lines of %s:\n%s", s.Addr, s.Log(), s.LogTail(60))
		}
		s.Stop()
	})
	if err := s.start(); err != nil {
		t.Fatalf("real FreeSWITCH: %v", err)
	}
	return s
}

// StartServer starts a FreeSWITCH that belongs to no one test, for the tests
// of a package to share (started from TestMain, or once on first use): its
// files go under dir, and whoever starts it stops it with Stop. The tests
// that use it still begin with Require, so that they skip or fail as the
// others do when FreeSWITCH is missing.
func StartServer(dir string, opt Options) (*Server, error) {
	bin, ok := Installed()
	if opt.Bin != "" {
		bin, ok = opt.Bin, executable(opt.Bin)
	}
	if !ok {
		return nil, fmt.Errorf("real FreeSWITCH: %w (%s not found): %s", ErrNotInstalled, bin, HowToInstall)
	}
	s, err := newServer(bin, dir, opt)
	if err != nil {
		return nil, fmt.Errorf("real FreeSWITCH: %w", err)
	}
	if err := s.start(); err != nil {
		return nil, fmt.Errorf("real FreeSWITCH: %w", err)
	}
	return s, nil
}

// newServer writes the configuration under dir; start runs it.
func newServer(bin, dir string, opt Options) (*Server, error) {
	pw := opt.Password
	if pw == "" {
		var b [12]byte
		rand.Read(b[:])
		pw = hex.EncodeToString(b[:])
	}
	if !namePattern.MatchString(pw) {
		return nil, fmt.Errorf("password %q: use letters, digits, '.', '_' or '-'", pw)
	}
	if opt.Addr != "" {
		if host, _, err := net.SplitHostPort(opt.Addr); err != nil || host != "127.0.0.1" {
			return nil, fmt.Errorf("address %q: want 127.0.0.1:port (the event socket listens on loopback only)", opt.Addr)
		}
	}
	s := &Server{Addr: opt.Addr, Password: pw, bin: bin, confDir: filepath.Join(dir, "conf"), runDir: filepath.Join(dir, "run")}
	if err := writeConf(s.confDir, opt); err != nil {
		return nil, err
	}
	if err := writeSounds(filepath.Join(s.runDir, "sounds"), opt.Sounds); err != nil {
		return nil, err
	}
	return s, nil
}

// writeConf copies the embedded configuration to dir and adds the
// options' files.
func writeConf(dir string, opt Options) error {
	sub, err := fs.Sub(conf, "conf")
	if err != nil {
		return err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	for _, add := range []struct {
		dir   string
		files map[string]string
	}{{"dialplan/default", opt.Dialplan}, {"chatplan", opt.Chatplan}} {
		for name, text := range add.files {
			if !namePattern.MatchString(name) || strings.HasPrefix(name, ".") {
				return fmt.Errorf("%s file name %q: use letters, digits, '.', '_' or '-'", add.dir, name)
			}
			// After the embedded files, which start with "00_".
			path := filepath.Join(dir, add.dir, "50_"+name+".xml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				return fmt.Errorf("write configuration: %w", err)
			}
		}
	}
	return nil
}

// writeSounds writes each sound as a WAV of silence under dir.
func writeSounds(dir string, sounds map[string]time.Duration) error {
	for name, d := range sounds {
		if !filepath.IsLocal(name) || !strings.HasSuffix(name, ".wav") {
			return fmt.Errorf("sound %q: want a relative path ending in .wav", name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write sounds: %w", err)
		}
		if err := os.WriteFile(path, silence(d), 0o644); err != nil {
			return fmt.Errorf("write sounds: %w", err)
		}
	}
	return nil
}

// silence is a WAV file (PCM, 8 kHz, 16 bits, mono) of d of silence.
func silence(d time.Duration) []byte {
	const rate = 8000
	n := int(d.Seconds()*rate) * 2
	b := make([]byte, 0, 44+n)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+n))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)     // fmt chunk size
	b = binary.LittleEndian.AppendUint16(b, 1)      // PCM
	b = binary.LittleEndian.AppendUint16(b, 1)      // mono
	b = binary.LittleEndian.AppendUint32(b, rate)   // samples per second
	b = binary.LittleEndian.AppendUint32(b, rate*2) // bytes per second
	b = binary.LittleEndian.AppendUint16(b, 2)      // bytes per frame
	b = binary.LittleEndian.AppendUint16(b, 16)     // bits per sample
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, make([]byte, n)...)
}

// eventSocketConf is the event socket's configuration file, whose port
// and password each run sets.
const eventSocketConf = "autoload_configs/event_socket.conf.xml"

// writeEventSocket sets the event socket's port and password for the next run.
func (s *Server) writeEventSocket(port int) error {
	text, err := fs.ReadFile(conf, "conf/"+eventSocketConf)
	if err != nil {
		return err
	}
	out := string(text)
	for _, p := range []struct{ from, to string }{
		{`name="listen-port" value="8021"`, fmt.Sprintf(`name="listen-port" value="%d"`, port)},
		{`name="password" value="ClueCon"`, fmt.Sprintf(`name="password" value="%s"`, s.Password)},
	} {
		if !strings.Contains(out, p.from) {
			return fmt.Errorf("%s: no %s to replace", eventSocketConf, p.from)
		}
		out = strings.Replace(out, p.from, p.to, 1)
	}
	return os.WriteFile(filepath.Join(s.confDir, eventSocketConf), []byte(out), 0o644)
}

// start runs FreeSWITCH on a free port (on s.Addr's when set) and waits
// until it is up. A port taken between choosing and binding makes
// FreeSWITCH exit (stop-on-bind-error), and another port is tried.
func (s *Server) start() error {
	var err error
	for range 3 {
		addr := s.Addr
		if addr == "" {
			if addr, err = freeAddr(); err != nil {
				return err
			}
		}
		if err = s.run(addr); err == nil {
			s.Addr = addr
			return nil
		}
		if s.Addr != "" || !errors.Is(err, errExited) {
			return err
		}
	}
	return err
}

var errExited = errors.New("FreeSWITCH exited during start-up")

func (s *Server) run(addr string) error {
	_, portText, _ := net.SplitHostPort(addr)
	var port int
	fmt.Sscan(portText, &port)
	// A FreeSWITCH already there would answer the status checks below in
	// place of the one started here.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("event socket %s is already in use: %w", addr, err)
	}
	l.Close()
	if err := s.writeEventSocket(port); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	r := s.runDir
	for _, d := range []string{"log", "db", "run", "tmp", "storage", "cache", "recordings", "sounds", "scripts", "htdocs", "grammar", "certs"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			return err
		}
	}
	console, err := os.OpenFile(filepath.Join(r, "log", "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	// -nc -nf: no console, and no fork, so that this process owns it and
	// the kernel kills it should the test binary die first.
	cmd := exec.Command(s.bin, "-nc", "-nf", "-nonat", "-base", r,
		"-conf", s.confDir, "-mod", filepath.Join(filepath.Dir(filepath.Dir(s.bin)), "lib", "freeswitch", "mod"),
		"-log", filepath.Join(r, "log"), "-db", filepath.Join(r, "db"), "-run", filepath.Join(r, "run"),
		"-temp", filepath.Join(r, "tmp"), "-storage", filepath.Join(r, "storage"), "-cache", filepath.Join(r, "cache"),
		"-recordings", filepath.Join(r, "recordings"), "-sounds", filepath.Join(r, "sounds"),
		"-scripts", filepath.Join(r, "scripts"), "-htdocs", filepath.Join(r, "htdocs"),
		"-grammar", filepath.Join(r, "grammar"), "-certs", filepath.Join(r, "certs"))
	cmd.Dir = r
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	s.mu.Lock()
	s.cmd, s.exit = cmd, exit
	s.mu.Unlock()
	if err := s.waitUp(addr, exit); err != nil {
		s.Stop()
		return fmt.Errorf("%w\n%s", err, s.LogTail(30))
	}
	return nil
}

// waitUp polls "api status" until FreeSWITCH says UP.
func (s *Server) waitUp(addr string, exit <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		status, err := s.status(ctx, addr)
		cancel()
		if err == nil && strings.HasPrefix(status, "UP") {
			return nil
		}
		if errors.Is(err, callrec.ErrPassword) {
			return err
		}
		select {
		case <-exit:
			return fmt.Errorf("%w (event socket %s, log %s)", errExited, addr, s.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not up on %s within %v: %v", addr, startTimeout, err)
		}
	}
}

func (s *Server) status(ctx context.Context, addr string) (string, error) {
	c, err := callrec.Dial(ctx, addr, s.Password)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.API(ctx, "status")
}

// Stop stops FreeSWITCH: SIGTERM (FreeSWITCH hangs every call up, and
// sends those events), then SIGKILL after a short grace. Safe to call
// twice, or when it already exited.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exit, api := s.cmd, s.exit, s.api
	s.cmd, s.api = nil, nil
	s.mu.Unlock()
	if api != nil {
		api.Close()
	}
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
		return
	case <-time.After(stopGrace):
	}
	cmd.Process.Kill()
	<-exit
}

// Restart stops FreeSWITCH and starts it again on the same port, with the
// same configuration and password: a new process, so a new Core-UUID and
// no calls.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("real FreeSWITCH: restart: %v", err)
	}
}

// Crash kills FreeSWITCH at once (SIGKILL: calls vanish without a hangup
// or any event, as in a crash) and starts it again as Restart does.
func (s *Server) Crash(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		<-exit
	}
	s.Restart(t)
}

// API runs one api command (e.g. "status", "uuid_dump <uuid>") and returns
// FreeSWITCH's reply as it is, "-ERR ..." included: only a failure to get a
// reply is an error. It uses one cached connection, dialled again after
// a Restart or a failure.
func (s *Server) API(ctx context.Context, cmd string) (string, error) {
	c, err := s.apiConn(ctx)
	if err != nil {
		return "", err
	}
	reply, err := c.API(ctx, cmd)
	if err != nil {
		s.mu.Lock()
		if s.api == c {
			s.api = nil
		}
		s.mu.Unlock()
		c.Close()
	}
	return reply, err
}

func (s *Server) apiConn(ctx context.Context) (*callrec.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api != nil && s.api.Err() == nil {
		return s.api, nil
	}
	c, err := callrec.Dial(ctx, s.Addr, s.Password)
	if err != nil {
		return nil, err
	}
	s.api = c
	return c, nil
}

// PID is the FreeSWITCH process's id, or 0 once stopped: for
// reading its CPU time and memory from /proc.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Log is the path of freeswitch.log.
func (s *Server) Log() string { return filepath.Join(s.runDir, "log", "freeswitch.log") }

// LogTail returns the last n lines of freeswitch.log and of the console
// output (where start-up errors go).
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, path := range []string{s.Log(), filepath.Join(s.runDir, "log", "console.log")} {
		lines := tail(path, n)
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", path, strings.Join(lines, "\n"))
	}
	return b.String()
}

func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = slices.Clone(lines[len(lines)-n:])
		}
	}
	return lines[max(0, len(lines)-n):]
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
