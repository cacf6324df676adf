package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Client talks to a bgcall daemon's API.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client // nil: http.DefaultClient
	// Name says who acts through this client, on the timeline of what it
	// cancels ("cli:alice"); empty: the daemon records "api".
	Name string
}

// Error is an error answer of the API.
type Error struct {
	Status int
	ErrorDetail
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		if !strings.Contains(e.Message, f.Problem) {
			fmt.Fprintf(&b, "; %s: %s", f.Field, f.Problem)
		}
	}
	return b.String()
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // net/http's error repeats the URL the message starts with
		}
		return nil, fmt.Errorf("bgcall daemon at %s: %w (is `bgcall serve` running? set --api or BGCALL_API_LISTEN)", c.Base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb ErrorBody
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
			return nil, &Error{Status: resp.StatusCode, ErrorDetail: ErrorDetail{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: fmt.Sprintf("%s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(data))}}
		}
		return nil, &Error{Status: resp.StatusCode, ErrorDetail: eb.Error}
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) (int, error) {
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// Create requests a background call; created is false when the daemon
// returned an existing session.
func (c *Client) Create(ctx context.Context, r CreateRequest) (s Session, created bool, err error) {
	status, err := c.do(ctx, http.MethodPost, "/v1/sessions", r, &s)
	return s, status == http.StatusCreated, err
}

// Get returns a session with its timeline.
func (c *Client) Get(ctx context.Context, id string) (Session, error) {
	var s Session
	_, err := c.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, &s)
	return s, err
}

// ListFilter selects sessions.
type ListFilter struct {
	Caller, Callee, Node, State, Cursor string
	Limit                               int
}

// List returns one page of sessions.
func (c *Client) List(ctx context.Context, f ListFilter) (ListResponse, error) {
	q := url.Values{}
	for k, v := range map[string]string{"caller": f.Caller, "callee": f.Callee, "node": f.Node, "state": f.State, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/v1/sessions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out ListResponse
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// Cancel switches a background call off.
func (c *Client) Cancel(ctx context.Context, id string, endBridged bool) (Session, error) {
	var s Session
	_, err := c.do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/cancel", CancelRequest{EndBridged: endBridged, By: c.Name}, &s)
	return s, err
}

// DialNow brings a waiting session's next attempt forward to now.
func (c *Client) DialNow(ctx context.Context, id string) (Session, error) {
	var s Session
	_, err := c.do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/dial-now", DialNowRequest{By: c.Name}, &s)
	return s, err
}

// BulkCancel cancels, or with r.DryRun counts, the live sessions r's
// filters match.
func (c *Client) BulkCancel(ctx context.Context, r BulkCancelRequest) (BulkCancelResponse, error) {
	if r.By == "" {
		r.By = c.Name
	}
	var out BulkCancelResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/cancel", r, &out)
	return out, err
}

// PauseNode pauses (pause true) or resumes new calls on a FreeSWITCH node,
// for every replica, and returns the node as the answering replica sees it.
func (c *Client) PauseNode(ctx context.Context, node string, pause bool) (NodeStatus, error) {
	verb := "resume"
	if pause {
		verb = "pause"
	}
	var n NodeStatus
	_, err := c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(node)+"/"+verb, NodeRequest{By: c.Name}, &n)
	return n, err
}

// DryRun returns the commands the daemon would send for r.
func (c *Client) DryRun(ctx context.Context, r CreateRequest) ([]string, error) {
	var out DryRunResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/dry-run", r, &out)
	return out.Commands, err
}

// FindLeg returns the session one of whose legs has uuid, with its
// timeline.
func (c *Client) FindLeg(ctx context.Context, uuid string) (Session, error) {
	var s Session
	_, err := c.do(ctx, http.MethodGet, "/v1/legs/"+url.PathEscape(uuid), nil, &s)
	return s, err
}

// Overview returns the whole system at a glance.
func (c *Client) Overview(ctx context.Context) (Overview, error) {
	var o Overview
	_, err := c.do(ctx, http.MethodGet, "/v1/overview", nil, &o)
	return o, err
}

// WatchFilter selects the changes a watch stream carries.
type WatchFilter struct {
	Session, Caller, Callee, Node string
}

// Stream is an open watch stream.
type Stream struct {
	body      io.ReadCloser
	sc        *bufio.Scanner
	closeOnce sync.Once
	done      chan struct{}
}

// Watch opens a watch stream. When it returns, the daemon is subscribed:
// every change after this moment arrives on the stream.
func (c *Client) Watch(ctx context.Context, f WatchFilter) (*Stream, error) {
	q := url.Values{}
	for k, v := range map[string]string{"session": f.Session, "caller": f.Caller, "callee": f.Callee, "node": f.Node} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/v1/watch"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	return &Stream{body: resp.Body, sc: sc, done: make(chan struct{})}, nil
}

// Next returns the next change; io.EOF when the daemon closed the stream.
func (s *Stream) Next() (Change, error) {
	for s.sc.Scan() {
		line := bytes.TrimSpace(s.sc.Bytes())
		if len(line) == 0 {
			continue // keep-alive
		}
		var c Change
		if err := json.Unmarshal(line, &c); err != nil {
			return Change{}, fmt.Errorf("watch stream: %w", err)
		}
		return c, nil
	}
	if err := s.sc.Err(); err != nil {
		return Change{}, err
	}
	return Change{}, io.EOF
}

// Close ends the stream; it may be called more than once, from any
// goroutine.
func (s *Stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.body.Close()
		close(s.done)
	})
	return err
}

// Done is closed when the stream is closed.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Ready returns nil when the daemon's /readyz says ready, else why not.
func (c *Client) Ready(ctx context.Context) error {
	var out map[string]string
	_, err := c.do(ctx, http.MethodGet, "/readyz", nil, &out)
	return err
}
