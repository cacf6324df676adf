package app

import "sync"

// stack holds what the daemon acquired, each resource's release pushed as
// soon as it is acquired: a start that fails releases everything acquired
// before the failure, and a daemon that stops releases everything, in
// reverse order both times. Release runs each function once.
type stack struct {
	mu       sync.Mutex
	releases []func()
}

// push registers the release of a resource just acquired.
func (s *stack) push(release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releases = append(s.releases, release)
}

// release runs the registered releases, the last pushed first, and forgets
// them.
func (s *stack) release() {
	s.mu.Lock()
	rs := s.releases
	s.releases = nil
	s.mu.Unlock()
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i]()
	}
}
