// Package redistest starts real redis-server processes for tests.
//
// The store is tested against the server it runs on in production, never a
// fake: each call starts a private redis-server on a free loopback port with
// persistence off, and stops it when the test ends.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one running redis-server.
type Server struct {
	Addr string
	bin  string
	port int
	args []string
	cmd  *exec.Cmd
	dir  string
}

// Start starts a redis-server for t, with any extra command-line
// arguments, and stops it in t.Cleanup.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s, err := StartServer(args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartServer starts a redis-server with any extra command-line arguments
// (relative paths are inside the server's own directory); the caller must
// Stop it. TestMain uses it to share one server between a package's tests.
// Persistence is off unless the arguments turn it on ("--appendonly",
// "yes" comes after the default "no" and wins).
func StartServer(args ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on PATH; run `make deps` (or apt-get install redis-server): %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, port: port, args: args, dir: dir}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin,
		"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Args = append(cmd.Args, s.args...)
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd = cmd
	if err := waitAnswer(s.Addr, func(c redis.UniversalClient) error { return c.Ping(context.Background()).Err() }); err != nil {
		s.Kill()
		return fmt.Errorf("redis-server on %s: %w; log: %s", s.Addr, err, s.log())
	}
	return nil
}

// waitAnswer waits up to 10 s for ask to succeed on a client for addr.
func waitAnswer(addr string, ask func(redis.UniversalClient) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := redis.NewClient(&redis.Options{Addr: addr})
		err := ask(c)
		c.Close()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer within 10s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash does, and keeps its
// directory: what it wrote to disk (with "--appendonly", "yes") survives
// for Restart.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	s.cmd = nil
}

// Restart starts a killed server again on the same address, directory and
// arguments; it loads what it had persisted, if anything.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return fmt.Errorf("restart redis-server on %s: it is running", s.Addr)
	}
	return s.start()
}

// Client returns a client for s, closed when t ends.
func (s *Server) Client(t testing.TB) redis.UniversalClient {
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{s.Addr}})
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	s.Kill()
	os.RemoveAll(s.dir)
}

func (s *Server) log() string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Main runs a package's tests against one redis-server that all of them
// share, handed to use before the first test; it returns the exit code
// for TestMain: os.Exit(redistest.Main(m, func(s *Server) { addr = s.Addr })).
func Main(m *testing.M, use func(*Server)) int {
	s, err := StartServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Stop()
	use(s)
	return m.Run()
}

// Sentinel is one running Redis Sentinel.
type Sentinel struct {
	Addr string
	cmd  *exec.Cmd
}

// StartSentinel starts a Redis Sentinel for t that watches master under
// name, alone (quorum 1), and stops it in t.Cleanup. It takes a master
// for down after downAfter without an answer and fails over to a replica
// at once. It runs redis-sentinel (Debian's redis-sentinel package), or
// redis-server in Sentinel mode.
func StartSentinel(t testing.TB, name, master string, downAfter time.Duration) *Sentinel {
	t.Helper()
	bin, args := "redis-sentinel", []string{}
	if _, err := exec.LookPath(bin); err != nil {
		bin, args = "redis-server", []string{"--sentinel"}
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("neither redis-sentinel nor redis-server on PATH; run `make deps` (or apt-get install redis-sentinel)")
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	host, mport, err := net.SplitHostPort(master)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s 3000\nsentinel parallel-syncs %s 1\n",
		port, dir, filepath.Join(dir, "sentinel.log"), name, host, mport, name, downAfter.Milliseconds(), name, name)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{conf}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s := &Sentinel{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	err = waitAnswer(s.Addr, func(redis.UniversalClient) error {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
		defer c.Close()
		return c.GetMasterAddrByName(context.Background(), name).Err()
	})
	if err != nil {
		t.Fatalf("sentinel on %s: %v", s.Addr, err)
	}
	return s
}

// Lazy is a redis-server shared by a package's tests and started by the
// first test that asks for it, so tests that need none (the session
// engine's transition table) run where redis-server is not installed.
type Lazy struct {
	once sync.Once
	s    *Server
	err  error
}

// Addr starts the server on first use and returns its address; it fails t
// if the server cannot start.
func (l *Lazy) Addr(t testing.TB) string {
	t.Helper()
	l.once.Do(func() { l.s, l.err = StartServer() })
	if l.err != nil {
		t.Fatal(l.err)
	}
	return l.s.Addr
}

// Stop stops the server if it was started; TestMain calls it after m.Run.
func (l *Lazy) Stop() {
	if l.s != nil {
		l.s.Stop()
	}
}
