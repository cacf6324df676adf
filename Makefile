# bgcall: a background-call controller for FreeSWITCH.
#   make demo   build bgcall and run a demo on the simulator and the embedded store
#   make test   install what the tests need (redis-server, promtool), lint, run every test under -race;
#               the real-FreeSWITCH tests run when FreeSWITCH is installed, and are reported skipped when not
#   make test-freeswitch   only the real-FreeSWITCH tests; fails when FreeSWITCH is missing
#   make freeswitch        run a real FreeSWITCH with the test configuration on 127.0.0.1:8021, to try bgcall by hand
#   make record-freeswitch re-record the real FreeSWITCH the simulator's differential tests hold it to
#   make chaos             the randomized fault run, a few minutes per seed: SEED=n (default 1) SEEDS=count (default 1)
GO        ?= go
BIN       := bin/bgcall
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X bgcall/internal/buildinfo.Version=$(VERSION)
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build demo test test-freeswitch freeswitch-summary freeswitch record-freeswitch deps lint fuzz bench chaos clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

demo: build
	./$(BIN) demo

deps:
	./scripts/install-deps

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Tests that need a real FreeSWITCH have this in their top-level name (see internal/fsreal).
REALFS_TESTS := RealFreeSWITCH
REALFS_BIN   := $(or $(BGCALL_FREESWITCH_BIN),/usr/local/freeswitch/bin/freeswitch)

# One package at a time: the end-to-end tests run real servers and time real calls.
test: deps lint
	$(GO) test -race -count=1 -p 1 -timeout 30m ./...
	@$(MAKE) --no-print-directory freeswitch-summary

# Says plainly whether the real-FreeSWITCH tests ran.
freeswitch-summary:
	@n=$$(grep -rhE --include='*_test.go' '^func Test\w*$(REALFS_TESTS)\w*\(' . | wc -l); \
	if [ -x '$(REALFS_BIN)' ]; then \
		echo "real FreeSWITCH: $(REALFS_BIN), its $$n tests ran"; \
	else \
		echo "real FreeSWITCH: not installed, $$n tests skipped; run \`make test-freeswitch\` after \`sudo ../shared/freeswitch/install\`"; \
	fi

test-freeswitch: deps
	BGCALL_REQUIRE_FREESWITCH=1 $(GO) test -race -count=1 -p 1 -timeout 20m -run '$(REALFS_TESTS)' ./...

freeswitch:
	$(GO) run ./internal/fsreal/run

# Runs fssim/internal/fsdiff's scripts on a private real FreeSWITCH and writes what it answered to
# fssim/testdata/freeswitch, which `go test ./fssim` holds the simulator to (without FreeSWITCH).
record-freeswitch:
	@test -x '$(REALFS_BIN)' || { echo "record-freeswitch: no FreeSWITCH at $(REALFS_BIN); install it with \`sudo ../shared/freeswitch/install\` or set BGCALL_FREESWITCH_BIN"; exit 1; }
	$(GO) run ./fssim/cmd/fsrecord -out fssim/testdata/freeswitch

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime 60s ./fssim
	$(GO) test -run '^$$' -fuzz FuzzParseEvent -fuzztime 60s ./esl
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime 60s ./esl

# Three bgcall replicas, two simulated nodes and a Redis behind a fault
# proxy under random kill -9, SIGSTOP, lost Redis replies, ESL cuts and node
# restarts (package chaos; `make test` runs a short version). A failing seed
# is printed with what reproduces it.
SEED  ?= 1
SEEDS ?= 1
chaos: deps
	BGCALL_CHAOS_LONG=1 $(GO) test -race -count=1 -timeout $$(( $(SEEDS) * 10 ))m -run 'TestChaos$$' -v ./chaos \
		-chaos.seed=$(SEED) -chaos.seeds=$(SEEDS)

bench: build
	./$(BIN) bench

clean:
	rm -rf bin
