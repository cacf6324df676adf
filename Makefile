# bgcall: a background-call controller for FreeSWITCH.
#   make demo   build bgcall and run a demo on the simulator and the embedded store
#   make test   install what the tests need (redis-server, promtool), lint, run every test under -race
GO        ?= go
BIN       := bin/bgcall
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X bgcall/internal/buildinfo.Version=$(VERSION)
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build demo test deps lint fuzz bench clean

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

test: deps lint
	$(GO) test -race -count=1 -p 1 -timeout 30m ./...  # one package at a time: the end-to-end tests run real servers and time real calls

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime 60s ./fssim
	$(GO) test -run '^$$' -fuzz FuzzParseEvent -fuzztime 60s ./esl

bench: build
	./$(BIN) bench

clean:
	rm -rf bin
