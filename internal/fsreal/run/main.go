// Command run starts a real FreeSWITCH with the project's test
// configuration for trying bgcall by hand (make freeswitch), on the event
// socket bgcall connects to by default, until interrupted.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"bgcall/internal/fsreal"
	"bgcall/session"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8021", "event socket address (loopback)")
	password := flag.String("password", "ClueCon", "event socket password")
	dir := flag.String("dir", "", "directory for its configuration, logs and sounds (default a new temporary one)")
	flag.Parse()
	if err := run(*addr, *password, *dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(addr, password, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "bgcall-freeswitch-")
		if err != nil {
			return err
		}
		dir = d
	}
	// This FreeSWITCH has no stock sounds: bgcall's default prompts are
	// silent stand-ins of a few seconds.
	p := session.DefaultPrompts()
	sounds := map[string]time.Duration{}
	for _, path := range []string{p.Hold, p.CallerUnavailable, p.Cancelled} {
		sounds[path] = 3 * time.Second
	}
	s, err := fsreal.StartServer(dir, fsreal.Options{Addr: addr, Password: password, Sounds: sounds})
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Printf("FreeSWITCH is up: event socket %s, password %s, dial template %s\n", s.Addr, s.Password, fsreal.DialTemplate)
	fmt.Printf("log: %s; Ctrl-C stops it\n", s.Log())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
