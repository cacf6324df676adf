package fsdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// The recordings' files in fssim/testdata/freeswitch.
const (
	FramingFile = "framing.json"
	FlowsFile   = "flows.json"
)

// Recording is one file of recordings and the FreeSWITCH they came from.
type Recording struct {
	FreeSWITCH string          `json:"freeswitch"` // its "api version"
	Framing    []FramingResult `json:"framing,omitempty"`
	Flows      []FlowResult    `json:"flows,omitempty"`
}

// Load reads a recording.
func Load(path string) (*Recording, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Recording
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Save writes a recording, indented so that a change reads well in a diff.
func (r *Recording) Save(path string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
