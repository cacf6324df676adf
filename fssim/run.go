package fssim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// RunOptions configures Run, the simulator as a command (`bgcall sim`).
type RunOptions struct {
	// Addr of the first node; default "127.0.0.1:8021". Further nodes take
	// the following ports.
	Addr string
	// Nodes to start; default 1.
	Nodes int
	// Password; default "ClueCon".
	Password string
	// Scenario is a JSON scenario file (see Scenario); "" means every number
	// answers after about a second.
	Scenario string
	// Second is the length of a FreeSWITCH second; default time.Second.
	Second time.Duration
	// Logger receives startup and shutdown lines; default slog.Default().
	Logger *slog.Logger
	// Ready, when set, is called with the nodes' addresses once they listen.
	Ready func(addrs []string)
}

// Run serves simulated FreeSWITCH nodes until ctx is done, then closes them.
func Run(ctx context.Context, ro RunOptions) error {
	if ro.Addr == "" {
		ro.Addr = "127.0.0.1:8021"
	}
	if ro.Nodes <= 0 {
		ro.Nodes = 1
	}
	if ro.Logger == nil {
		ro.Logger = slog.Default()
	}
	opts := Options{Password: ro.Password, Second: ro.Second, Logger: ro.Logger}
	if ro.Scenario != "" {
		sc, err := LoadScenario(ro.Scenario)
		if err != nil {
			return fmt.Errorf("simulator scenario: %w", err)
		}
		if err := sc.Apply(&opts); err != nil {
			return fmt.Errorf("simulator scenario %s: %w", ro.Scenario, err)
		}
	}
	host, portText, err := net.SplitHostPort(ro.Addr)
	if err != nil {
		return fmt.Errorf("simulator address %q: %w (want host:port, e.g. 127.0.0.1:8021)", ro.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("simulator address %q: port is not a number", ro.Addr)
	}
	var nodes []*Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	var addrs []string
	for i := 0; i < ro.Nodes; i++ {
		o := opts
		p := port
		if port != 0 {
			p = port + i
		}
		o.Addr = net.JoinHostPort(host, strconv.Itoa(p))
		if ro.Nodes > 1 {
			o.Hostname = "fssim-" + strconv.Itoa(i+1)
		}
		n, err := Start(o)
		if err != nil {
			return fmt.Errorf("start simulator node %d: %w (is a FreeSWITCH or another simulator already on %s?)", i+1, err, o.Addr)
		}
		nodes = append(nodes, n)
		addrs = append(addrs, n.Addr())
		ro.Logger.Info("FreeSWITCH simulator listening", "addr", n.Addr(), "core_uuid", n.CoreUUID(), "hostname", o.Hostname)
	}
	if ro.Ready != nil {
		ro.Ready(addrs)
	}
	<-ctx.Done()
	ro.Logger.Info("FreeSWITCH simulator stopping")
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
