package api_test

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"bgcall/api"
)

// documented reads api/openapi.yaml's paths: for each "METHOD /path", the
// response statuses it lists. The file is kept in a plain block layout
// (two-space indents), which this reader relies on.
func documented(t testing.TB) map[string][]string {
	t.Helper()
	doc, err := readDoc()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func readDoc() (map[string][]string, error) {
	f, err := os.Open("openapi.yaml")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]string{}
	inPaths, inResponses := false, false
	path, op := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 0:
			inPaths = trimmed == "paths:"
		case !inPaths:
		case indent == 2 && strings.HasPrefix(trimmed, "/"):
			path, op, inResponses = strings.TrimSuffix(trimmed, ":"), "", false
		case indent == 4:
			op, inResponses = "", false
			switch m := strings.TrimSuffix(trimmed, ":"); m {
			case "get", "post", "put", "patch", "delete":
				op = strings.ToUpper(m) + " " + path
				out[op] = nil
			}
		case indent == 6 && op != "":
			inResponses = trimmed == "responses:"
		case indent == 8 && inResponses:
			code, _, _ := strings.Cut(trimmed, ":")
			out[op] = append(out[op], strings.Trim(code, `"`))
		}
	}
	return out, sc.Err()
}

// TestOpenAPIRoutesMatchHandlers: every documented operation is served, and
// every served route is documented.
func TestOpenAPIRoutesMatchHandlers(t *testing.T) {
	doc := documented(t)
	served := map[string]bool{}
	for _, r := range api.Routes {
		key := r.Method + " " + r.Pattern
		served[key] = true
		if _, ok := doc[key]; !ok {
			t.Errorf("%s is served but not in openapi.yaml", key)
		}
	}
	for op, statuses := range doc {
		if !served[op] {
			t.Errorf("openapi.yaml documents %s, which is not served", op)
		}
		if len(statuses) == 0 {
			t.Errorf("openapi.yaml lists no responses for %s", op)
		}
	}
}

// observed collects, across every test in this package, the statuses each
// route answered. TestMain compares them with the documentation once all
// tests have run, so every documented status is proven reachable and every
// status the handlers produced is documented.
var observed = struct {
	sync.Mutex
	m map[string]map[string]bool
}{m: map[string]map[string]bool{}}

func observe(pattern string, status int) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return // the catch-all 405 and 404 routes
	}
	observed.Lock()
	defer observed.Unlock()
	key := method + " " + path
	if observed.m[key] == nil {
		observed.m[key] = map[string]bool{}
	}
	observed.m[key][fmt.Sprint(status)] = true
}

// checkObserved returns the differences between documented and observed
// statuses; it is meaningful only after the whole package ran.
func checkObserved() []string {
	var problems []string
	doc, err := readDoc()
	if err != nil {
		return []string{err.Error()}
	}
	observed.Lock()
	defer observed.Unlock()
	for op, statuses := range doc {
		for _, s := range statuses {
			if !observed.m[op][s] {
				problems = append(problems, fmt.Sprintf("%s %s is documented but no test saw it", op, s))
			}
		}
	}
	for op, seen := range observed.m {
		for s := range seen {
			found := false
			for _, d := range doc[op] {
				found = found || d == s
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s answered %s, which openapi.yaml does not document", op, s))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// TestOpenAPISessionFields: the Session schema lists exactly the fields the
// API writes.
func TestOpenAPISessionFields(t *testing.T) {
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n    Session:\n")
	if i < 0 {
		t.Fatal("no Session schema")
	}
	block := text[i+1:]
	start := strings.Index(block, "      properties:\n")
	block = block[start+len("      properties:\n"):]
	documentedFields := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "        ") {
			break
		}
		if !strings.HasPrefix(line, "         ") {
			name, _, _ := strings.Cut(strings.TrimSpace(line), ":")
			documentedFields[name] = true
		}
	}
	typ := reflect.TypeOf(api.Session{})
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if !documentedFields[name] {
			t.Errorf("api.Session field %q is not in the openapi.yaml Session schema", name)
		}
		delete(documentedFields, name)
	}
	for name := range documentedFields {
		t.Errorf("openapi.yaml's Session schema has %q, which api.Session lacks", name)
	}
}
