package phone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/percipia/eslgo"

	"bgcall/esl"
)

// Server serves FreeSWITCH's outbound socket connections (feature codes and
// the offer) and watches ordinary calls for the offer.
type Server struct {
	opt Options
	log *slog.Logger
	ln  net.Listener

	events chan *esl.Event

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	ctx   context.Context // Run's; nil before Run
}

// New checks opts and binds the listener, so Addr is known before Run.
func New(opts Options) (*Server, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w (set another address, and the same in the dialplan's socket application)", err)
	}
	return &Server{
		opt:    opts,
		log:    opts.Logger.With("component", "phone"),
		ln:     ln,
		events: make(chan *esl.Event, opts.EventQueue),
		conns:  make(map[net.Conn]struct{}),
	}, nil
}

// Addr is the address the socket application must connect to.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close releases the listener of a server that will not Run, such as one
// whose daemon failed to start after New; Run releases it by itself.
func (s *Server) Close() error { return s.ln.Close() }

// Run serves until ctx ends; every goroutine it started has stopped when it
// returns. eslgo's own listener, on a private loopback port, outlives it
// (eslgo offers no way to close it) but is reachable only through this
// server's relay, which is closed, and refuses to act for channels the
// pool does not know.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()

	inner, err := s.startInner(ctx)
	if err != nil {
		s.ln.Close()
		return err
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.watch(ctx) }()
	go func() { defer wg.Done(); s.followSessions(ctx) }()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("accept", "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.relay(ctx, c, inner) }()
	}
	cancel()
	wg.Wait()
	return nil
}

// startInner starts eslgo's outbound server on a free loopback port and
// waits until it accepts.
func (s *Server) startInner(ctx context.Context) (string, error) {
	var last error
	for try := 0; try < 5; try++ {
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("phone: reserve a loopback port: %w", err)
		}
		addr := probe.Addr().String()
		probe.Close()
		opts := eslgo.OutboundOptions{
			// Not ctx: cancelling eslgo's context makes it close a
			// connection from a goroutine other than its disconnect
			// watcher, which reads the reply table unlocked (a data race).
			// On shutdown Run closes the relayed sockets instead, and eslgo
			// ends each connection on the EOF, through that watcher.
			Options:         eslgo.Options{Context: context.WithoutCancel(ctx), Logger: nil, ExitTimeout: s.opt.CommandTimeout},
			Network:         "tcp",
			ConnectTimeout:  s.opt.CommandTimeout,
			ConnectionDelay: 25 * time.Millisecond,
		}
		failed := make(chan error, 1)
		go func() { failed <- opts.ListenAndServe(addr, s.handle) }()
		for i := 0; i < 200; i++ {
			select {
			case err := <-failed:
				last = err
			case <-time.After(5 * time.Millisecond):
				if l, err := net.Listen("tcp", addr); err == nil {
					l.Close() // not bound yet
					continue
				}
				return addr, nil
			}
			break
		}
	}
	return "", fmt.Errorf("phone: start the outbound socket server: %v", last)
}

// relay copies one FreeSWITCH connection to eslgo's listener and back.
func (s *Server) relay(ctx context.Context, c net.Conn, inner string) {
	defer c.Close()
	d := net.Dialer{Timeout: s.opt.CommandTimeout}
	in, err := d.DialContext(ctx, "tcp", inner)
	if err != nil {
		s.log.Error("relay to the outbound socket server", "err", err)
		return
	}
	defer in.Close()
	s.track(c, true)
	s.track(in, true)
	defer s.track(c, false)
	defer s.track(in, false)
	done := make(chan struct{}, 2)
	go func() { io.Copy(in, c); in.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, in); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

func (s *Server) track(c net.Conn, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}
