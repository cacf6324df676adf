// Package buildinfo holds the version stamped into the binary at link time.
package buildinfo

import "runtime/debug"

// Version is set by the Makefile with -ldflags -X.
var Version = "dev"

// Revision returns the VCS revision the binary was built from, when known.
func Revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
