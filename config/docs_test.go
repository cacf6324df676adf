package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	docRow     = regexp.MustCompile("^\\| `([a-z_.]+)`(?: / `[a-z_.]+`)? \\| ([^|]*) \\| (.*) \\|$")
	docNumbers = regexp.MustCompile("`(-?[0-9]+)`")
)

// TestPhoneDocsSettings: the settings table of docs/phone.md names real
// settings, and every number it gives for one is a value the daemon
// accepts (with the phone side on).
func TestPhoneDocsSettings(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "phone.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(data), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil || m[1] == "setting" {
			continue
		}
		key := m[1]
		s, ok := lookup(key)
		if !ok {
			if !strings.HasSuffix(key, ".*") && !strings.Contains(line, ".*") {
				t.Errorf("docs/phone.md names %s, which is no setting", key)
			}
			continue
		}
		rows++
		for _, n := range docNumbers.FindAllStringSubmatch(m[2]+" "+m[3], -1) {
			c := Defaults()
			c.Phone.Enabled = true
			if err := s.set(&c, n[1]); err != nil {
				t.Errorf("docs/phone.md gives %s = %s: %v", key, n[1], err)
				continue
			}
			if err := c.Validate(); err != nil {
				t.Errorf("docs/phone.md gives %s = %s, which does not validate: %v", key, n[1], err)
			}
		}
	}
	if rows < 5 {
		t.Fatalf("read %d settings rows from docs/phone.md; the table's layout changed", rows)
	}
}

// TestConfirmationDocsSettings: the settings table of docs/confirmation.md
// names real settings with their real defaults.
func TestConfirmationDocsSettings(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "confirmation.md"))
	if err != nil {
		t.Fatal(err)
	}
	def := Defaults()
	rows := 0
	for _, line := range strings.Split(string(data), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s, ok := lookup(m[1])
		if !ok {
			t.Errorf("docs/confirmation.md names %s, which is no setting", m[1])
			continue
		}
		rows++
		shown := strings.TrimSpace(m[2])
		if strings.HasPrefix(shown, "`") && shown != "`"+s.get(&def)+"`" {
			t.Errorf("docs/confirmation.md gives %s the default %s, the code %q", m[1], shown, s.get(&def))
		}
	}
	if rows < 6 {
		t.Fatalf("read %d settings rows from docs/confirmation.md; the table's layout changed", rows)
	}
}
