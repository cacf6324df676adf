package phone_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"bgcall/phone"
)

// The dialplan snippets operators install (deploy/freeswitch) must route
// feature codes and failed calls to the listener phone serves by default.

type dialplanInclude struct {
	Extensions []struct {
		Name      string `xml:"name,attr"`
		Condition []struct {
			Field      string `xml:"field,attr"`
			Expression string `xml:"expression,attr"`
			Actions    []struct {
				App  string `xml:"application,attr"`
				Data string `xml:"data,attr"`
			} `xml:"action"`
		} `xml:"condition"`
	} `xml:"extension"`
}

type action struct{ app, data string }

// loadDialplan reads the snippets in the order FreeSWITCH includes them
// (file name order) and returns a router over destination numbers: the
// actions of the first extension whose conditions all match.
func loadDialplan(t *testing.T) func(dest string) (string, []action) {
	t.Helper()
	files, err := filepath.Glob("../deploy/freeswitch/dialplan/default/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dialplan snippets: %v", err)
	}
	sort.Strings(files)
	type ext struct {
		name    string
		conds   []*regexp.Regexp
		actions []action
	}
	var exts []ext
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var inc dialplanInclude
		if err := xml.Unmarshal(data, &inc); err != nil {
			t.Fatalf("%s is not valid XML: %v", f, err)
		}
		for _, e := range inc.Extensions {
			x := ext{name: e.Name}
			for _, c := range e.Condition {
				if c.Field != "destination_number" {
					t.Fatalf("%s: extension %s tests %q; this test knows destination_number only", f, e.Name, c.Field)
				}
				re, err := regexp.Compile(c.Expression)
				if err != nil {
					t.Fatalf("%s: extension %s: expression %q: %v", f, e.Name, c.Expression, err)
				}
				x.conds = append(x.conds, re)
				for _, a := range c.Actions {
					x.actions = append(x.actions, action{a.App, a.Data})
				}
			}
			exts = append(exts, x)
		}
	}
	return func(dest string) (string, []action) {
	next:
		for _, x := range exts {
			for _, re := range x.conds {
				if !re.MatchString(dest) {
					continue next
				}
			}
			return x.name, x.actions
		}
		return "", nil
	}
}

func TestShippedDialplanRoutesToTheListener(t *testing.T) {
	route := loadDialplan(t)
	socket := action{"socket", phone.DefaultListen + " async full"}

	for _, dest := range []string{"*881002", "*89", "*891002", "*88+4930123456", "*87", "*871001", "*86", "*861001"} {
		name, acts := route(dest)
		if len(acts) != 1 || acts[0] != socket {
			t.Errorf("%s goes to extension %q with %v, want only %v", dest, name, acts, socket)
		}
	}
	for _, dest := range []string{"*85", "*851001", "*88", "*881", "*88abc", "*871"} {
		if name, acts := route(dest); len(acts) == 1 && acts[0] == socket {
			t.Errorf("%s reaches bgcall's socket through %q; it is no feature code", dest, name)
		}
	}

	// An ordinary local call: bridged with continue_on_fail and
	// hangup_after_bridge set before the bridge, and the socket after it.
	name, acts := route("1002")
	idx := func(app, data string) int {
		for i, a := range acts {
			if a.app == app && (data == "" || a.data == data) {
				return i
			}
		}
		return -1
	}
	bridge := idx("bridge", "")
	if bridge < 0 {
		t.Fatalf("1002 goes to extension %q without a bridge: %v", name, acts)
	}
	for _, set := range []string{"continue_on_fail=true", "hangup_after_bridge=true"} {
		if i := idx("set", set); i < 0 || i > bridge {
			t.Errorf("extension %q does not set %s before the bridge: %v", name, set, acts)
		}
	}
	if i := idx("socket", ""); i != bridge+1 || acts[i] != socket {
		t.Errorf("extension %q does not hand a failed bridge to %v right after it: %v", name, socket, acts)
	}
	if !strings.HasPrefix(acts[bridge].data, "user/") {
		t.Errorf("bridge %q does not dial a local user", acts[bridge].data)
	}
}

func TestShippedEventSocketConfig(t *testing.T) {
	data, err := os.ReadFile("../deploy/freeswitch/autoload_configs/event_socket.conf.xml")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"settings>param"`
	}
	if err := xml.Unmarshal(data, &conf); err != nil {
		t.Fatalf("event_socket.conf.xml is not valid XML: %v", err)
	}
	params := map[string]string{}
	for _, p := range conf.Params {
		params[p.Name] = p.Value
	}
	if conf.Name != "event_socket.conf" || params["listen-port"] == "" || params["password"] == "" || params["listen-ip"] == "" {
		t.Errorf("event socket settings incomplete: %s %v", conf.Name, params)
	}
}
