// Package web is the operator's page the daemon serves at /: the overview
// bgcall top shows, the sessions with their timelines updating live from
// the watch stream, search by number or leg UUID, and cancel. It is plain
// HTML and JavaScript embedded in the binary: no build step, no framework.
//
// The page and its script hold no data; everything it shows comes from the
// API, with the same bearer token (typed into the page, or given once in
// the address as #token=...), so it needs no rules of its own.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page at / and its files under /ui/.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	assets := http.StripPrefix("/ui/", http.FileServerFS(files))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.HandleFunc("GET /ui/", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		assets.ServeHTTP(w, r)
	})
	return mux
}

// setHeaders keeps the page to its own origin's scripts and out of frames.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
