// Package api is bgcall's HTTP API: JSON over net/http, bearer-token
// authentication, one error shape. openapi.yaml in this directory documents
// it, and a test holds the two together.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"bgcall/session"
	"bgcall/store"
)

// Engine is what the API needs of the session engine.
type Engine interface {
	Create(ctx context.Context, r session.Request) (store.Session, bool, error)
	CancelBy(ctx context.Context, id string, endBridged bool, by string) (store.Session, error)
	DialNow(ctx context.Context, id, by string) (store.Session, error)
	Get(ctx context.Context, id string) (store.Session, []store.Entry, error)
	List(ctx context.Context, f store.Filter) ([]store.Session, string, error)
	Watch(ctx context.Context) (<-chan store.Change, func())
	DryRun(r session.Request) ([]string, error)
	QuietHours(s store.Session) session.QuietHours
	// RingWarning says when s rings B long enough for B's voicemail to
	// answer for B, unconfirmed; "" otherwise.
	RingWarning(s store.Session) string
	DefaultQuietHours() session.QuietHours
	OptOuts
}

// Options configure a Handler.
type Options struct {
	Engine Engine
	// Token is the bearer token every route but /livez, /readyz and
	// /metrics requires. Empty disables authentication (the configuration
	// allows that only on a loopback listener).
	Token string
	// Ready reports why the daemon cannot serve yet (nil: ready).
	Ready func(ctx context.Context) error
	// Nodes reports the FreeSWITCH nodes as this replica sees them; nil
	// leaves them out.
	Nodes func() []NodeStatus
	// Stats serves the overview (GET /v1/overview); nil: no overview.
	Stats Stats
	// Replica names this replica in the overview.
	Replica string
	// NotificationBacklog reports the messages to callers this replica
	// has yet to deliver; nil: none are sent.
	NotificationBacklog func() int
	// Clock is the overview's time; nil: time.Now.
	Clock func() time.Time
	// Requests counts every request answered, by route and status; nil
	// counts nothing.
	Requests RequestObserver
	// PauseNode pauses (or resumes) new calls on a FreeSWITCH node for
	// every replica; ErrUnknownNode for a node not configured. nil: the
	// routes answer 404.
	PauseNode func(ctx context.Context, node string, pause bool, by string) error
	// Page serves the operator's web page at / and its files under /ui/;
	// nil leaves them out.
	Page http.Handler
	// Metrics serves /metrics; nil leaves the route out.
	Metrics http.Handler
	// MaxAttempts is the configured retry.max_attempts, shown for sessions
	// that do not override it (0: until B answers).
	MaxAttempts int
	// MaxBody bounds request bodies, bytes; default 64 KiB.
	MaxBody int64
	// KeepAlive is the interval of the empty lines that keep a watch
	// stream open through idle proxies; default 15s.
	KeepAlive time.Duration
	Logger    *slog.Logger
}

// RequestObserver counts the requests the API answers; the metrics
// package implements it. route is the pattern that served the request
// (one of RouteNames, or another the API answers for itself).
type RequestObserver interface {
	HTTPRequest(route string, status int)
}

// RouteNames returns the routes as RequestObserver names them,
// "GET /v1/sessions/{id}".
func RouteNames() []string {
	out := make([]string, len(Routes))
	for i, r := range Routes {
		out[i] = r.Method + " " + r.Pattern
	}
	return out
}

// Handler serves the API.
type Handler struct {
	opt   Options
	token [32]byte
	mux   *http.ServeMux
}

// Route is one method and path pattern the API serves, for documentation
// tests and for the 405 answers.
type Route struct {
	Method, Pattern string
	Auth            bool
}

// Routes lists every route, in documentation order.
var Routes = []Route{
	{"POST", "/v1/sessions", true},
	{"GET", "/v1/sessions", true},
	{"GET", "/v1/sessions/{id}", true},
	{"POST", "/v1/sessions/{id}/cancel", true},
	{"POST", "/v1/sessions/{id}/dial-now", true},
	{"POST", "/v1/cancel", true},
	{"POST", "/v1/nodes/{node}/pause", true},
	{"POST", "/v1/nodes/{node}/resume", true},
	{"GET", "/v1/optouts/{callee}", true},
	{"POST", "/v1/optouts/{callee}", true},
	{"POST", "/v1/optouts/{callee}/remove", true},
	{"POST", "/v1/dry-run", true},
	{"GET", "/v1/watch", true},
	{"GET", "/v1/overview", true},
	{"GET", "/v1/legs/{uuid}", true},
	{"GET", "/livez", false},
	{"GET", "/readyz", false},
	{"GET", "/metrics", false},
}

// New returns the API handler.
func New(opt Options) *Handler {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 64 << 10
	}
	if opt.KeepAlive <= 0 {
		opt.KeepAlive = 15 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	h := &Handler{opt: opt, mux: http.NewServeMux(), token: sha256.Sum256([]byte(opt.Token))}
	handlers := map[string]http.HandlerFunc{
		"POST /v1/sessions":                h.create,
		"GET /v1/sessions":                 h.list,
		"GET /v1/sessions/{id}":            h.get,
		"POST /v1/sessions/{id}/cancel":    h.cancel,
		"POST /v1/sessions/{id}/dial-now":  h.dialNow,
		"POST /v1/cancel":                  h.bulkCancel,
		"POST /v1/nodes/{node}/pause":      h.pauseNode(true),
		"POST /v1/nodes/{node}/resume":     h.pauseNode(false),
		"GET /v1/optouts/{callee}":         h.listOptOuts,
		"POST /v1/optouts/{callee}":        h.addOptOut,
		"POST /v1/optouts/{callee}/remove": h.removeOptOut,
		"POST /v1/dry-run":                 h.dryRun,
		"GET /v1/watch":                    h.watch,
		"GET /v1/overview":                 h.overview,
		"GET /v1/legs/{uuid}":              h.leg,
		"GET /livez":                       h.livez,
		"GET /readyz":                      h.readyz,
		"GET /metrics":                     h.metrics,
	}
	allowed := map[string][]string{}
	for _, rt := range Routes {
		f := handlers[rt.Method+" "+rt.Pattern]
		if rt.Auth {
			f = h.authed(f)
		}
		h.mux.Handle(rt.Method+" "+rt.Pattern, f)
		allowed[rt.Pattern] = append(allowed[rt.Pattern], rt.Method)
	}
	// Other methods on a known path get a 405 in the API's error shape
	// (the mux's own answer is plain text).
	for pattern, methods := range allowed {
		allow := strings.Join(append(methods, "HEAD"), ", ")
		if !contains(methods, "GET") {
			allow = strings.Join(methods, ", ")
		}
		h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+allow, nil)
		})
	}
	if opt.Page != nil {
		// The page's files hold no data: what it shows comes from the
		// routes above, with their token.
		h.mux.Handle("GET /{$}", opt.Page)
		h.mux.Handle("GET /ui/", opt.Page)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.URL.Path, nil)
	})
	return h
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.opt.Requests == nil {
		h.mux.ServeHTTP(w, r)
		return
	}
	rec := &statusWriter{ResponseWriter: w}
	h.mux.ServeHTTP(rec, r)
	h.opt.Requests.HTTPRequest(r.Pattern, rec.status)
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets the watch stream through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// authed requires the bearer token. The comparison is of fixed-length
// digests in constant time, so neither the token nor its length leaks
// through timing.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	if h.opt.Token == "" {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], h.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bgcall"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token; send `Authorization: Bearer <api.token>`", nil)
			return
		}
		next(w, r)
	}
}

func (h *Handler) livez(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.opt.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := h.opt.Ready(ctx); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error(), nil)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	if h.opt.Metrics == nil {
		writeError(w, http.StatusNotFound, "not_found", "metrics are off (metrics.enabled = false)", nil)
		return
	}
	h.opt.Metrics.ServeHTTP(w, r)
}
