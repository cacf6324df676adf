// Package promtest runs Prometheus's own tools against bgcall's metrics in
// tests: promtool to parse PromQL and check rules, and a real Prometheus
// server (Debian package prometheus) that scrapes a target so dashboard
// queries can be run against it.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Job is the scrape job name of the target a Server scrapes.
const Job = "bgcall"

// ScrapeInterval is how often a Server scrapes its target: short, so a test
// has the two samples rate() needs within a few seconds.
const ScrapeInterval = time.Second

// Server is a Prometheus server started for one test.
type Server struct {
	URL    string // base URL of the HTTP API, e.g. http://127.0.0.1:40123
	Target string

	client *http.Client
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	logs   *lockedBuffer
}

// PrometheusBinary returns the path of the prometheus server binary. When
// it is missing the test is skipped, unless the environment variable CI is
// set: in CI the check must run, so the test fails instead.
func PrometheusBinary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "" {
		t.Skip("prometheus not installed: install the Debian package prometheus (make deps) to run this test")
	}
	t.Fatalf("prometheus not found in PATH but CI is set, and this test must run in CI: install the Debian package prometheus (make deps): %v", err)
	return ""
}

// StartPrometheus starts Prometheus on a free local port, scraping
// http://target/metrics every ScrapeInterval as job Job. It is stopped when
// the test ends.
func StartPrometheus(t testing.TB, target string) *Server {
	t.Helper()
	bin := PrometheusBinary(t)
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: %[2]s
    metrics_path: /metrics
    static_configs:
      - targets: [%[3]q]
`, ScrapeInterval, Job, target)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	// The port is free when probed but could be taken before Prometheus
	// binds it; try again with another one when that happens.
	var lastErr error
	for range 3 {
		s, err := start(bin, configFile, filepath.Join(dir, "data"), target)
		if err == nil {
			t.Cleanup(s.stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("start prometheus: %v", lastErr)
	return nil
}

func start(bin, configFile, dataDir, target string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--storage.tsdb.path="+dataDir,
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	s := &Server{
		URL:    "http://" + addr,
		Target: target,
		client: &http.Client{Timeout: 5 * time.Second},
		cmd:    cmd,
		done:   make(chan struct{}),
		logs:   logs,
	}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := s.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("prometheus exited before it was ready:\n%s", logs.String())
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("prometheus not ready after 20s:\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Logs returns what Prometheus wrote so far, for failure messages.
func (s *Server) Logs() string { return s.logs.String() }

// WaitScrapes waits until Prometheus has scraped the target successfully at
// least n times in all, so rate() over a range covering them has data.
func (s *Server) WaitScrapes(ctx context.Context, n int) error {
	query := fmt.Sprintf(`count_over_time(up{job=%q}[1h]) and on() up{job=%q} == 1`, Job, Job)
	return s.waitFor(ctx, fmt.Sprintf("%d scrapes", n), query, func(v float64) bool { return v >= float64(n) })
}

// WaitFreshScrape waits for a successful scrape that started after the call,
// so it saw every change made before it. A scrape already running when the
// call is made may have read older values and does not count.
func (s *Server) WaitFreshScrape(ctx context.Context) error {
	since := float64(time.Now().UnixMilli()) / 1000
	// timestamp() must get a plain selector: of an expression it returns
	// the evaluation time instead of the sample's.
	query := fmt.Sprintf(`timestamp(up{job=%q}) and on() up{job=%q} == 1`, Job, Job)
	return s.waitFor(ctx, "a fresh scrape", query, func(v float64) bool { return v > since })
}

// waitFor polls query until it returns one sample that satisfies ok.
func (s *Server) waitFor(ctx context.Context, what, query string, ok func(float64) bool) error {
	for {
		samples, err := s.Query(ctx, query)
		if err == nil && len(samples) == 1 && ok(samples[0].Value) {
			return nil
		}
		select {
		case <-ctx.Done():
			health, _ := s.targetHealth(context.Background())
			return fmt.Errorf("wait for %s of %s: %w (target: %s; last query: %v %v)\n%s",
				what, s.Target, ctx.Err(), health, samples, err, s.Logs())
		case <-s.done:
			return fmt.Errorf("prometheus exited:\n%s", s.Logs())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Sample is one element of a query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query through the HTTP API, at the current
// time. A scalar result comes back as one sample without labels.
func (s *Server) Query(ctx context.Context, query string) ([]Sample, error) {
	u := s.URL + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.get(ctx, u, &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	switch data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, fmt.Errorf("query %q: decode vector: %w", query, err)
		}
		out := make([]Sample, 0, len(vec))
		for _, v := range vec {
			f, err := sampleValue(v.Value)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", query, err)
			}
			out = append(out, Sample{Labels: v.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return nil, fmt.Errorf("query %q: decode scalar: %w", query, err)
		}
		f, err := sampleValue(v)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", query, err)
		}
		return []Sample{{Value: f}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %q, want vector or scalar", query, data.ResultType)
	}
}

func (s *Server) targetHealth(ctx context.Context) (string, error) {
	var data struct {
		ActiveTargets []struct {
			ScrapeURL string `json:"scrapeUrl"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := s.get(ctx, s.URL+"/api/v1/targets", &data); err != nil {
		return "", err
	}
	var parts []string
	for _, t := range data.ActiveTargets {
		parts = append(parts, fmt.Sprintf("%s %s %s", t.ScrapeURL, t.Health, t.LastError))
	}
	return strings.Join(parts, "; "), nil
}

// get fetches an API URL and decodes the data field of a success response.
func (s *Server) get(ctx context.Context, u string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("decode API response (HTTP %d): %w", resp.StatusCode, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v[1])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value: %w", err)
	}
	return f, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", errors.Join(errors.New("find a free port"), err)
	}
	return addr, nil
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CheckDashboard runs every panel query of the Grafana dashboard at path,
// with vars expanded (see Expand), and reports each query that fails or
// returns no data. A rate over a counter that did not move returns 0 and a
// quantile of an empty histogram NaN: both count as data, since they prove
// the series exist.
func (s *Server) CheckDashboard(ctx context.Context, path string, vars map[string]string) error {
	d, err := LoadDashboard(path)
	if err != nil {
		return err
	}
	if len(d.Queries) == 0 {
		return fmt.Errorf("dashboard %s has no queries", path)
	}
	var problems []string
	for _, q := range d.Queries {
		expr := Expand(q.Expr, vars)
		samples, err := s.Query(ctx, expr)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", q, err))
		case len(samples) == 0:
			problems = append(problems, fmt.Sprintf("%s returned no data: %s", q, expr))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}
