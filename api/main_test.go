package api_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"bgcall/internal/redistest"
)

var redisAddr string

func TestMain(m *testing.M) {
	flag.Parse()
	srv, err := redistest.StartServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redisAddr = srv.Addr
	code := m.Run()
	srv.Stop()
	// The status check needs every route test; skip it when -run picked a few.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if problems := checkObserved(); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "openapi.yaml and the handlers disagree:")
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "  "+p)
			}
			code = 1
		}
	}
	os.Exit(code)
}
