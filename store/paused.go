package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PausedNode says who paused new calls on a FreeSWITCH node, and when.
type PausedNode struct {
	By    string
	Since time.Time
}

func (s *Store) pausedKey() string { return s.p + "paused" }

// PauseNode records that no replica should start new calls on node, until
// ResumeNode: every replica reads it (PausedNodes) and leaves the node out.
func (s *Store) PauseNode(ctx context.Context, node, by string, now time.Time) error {
	if err := checkName("node", node, true); err != nil {
		return fmt.Errorf("pause node: %w", err)
	}
	if err := s.rdb.HSet(ctx, s.pausedKey(), node, strconv.FormatInt(ms(now), 10)+"|"+by).Err(); err != nil {
		return fmt.Errorf("pause node %s: %w", node, err)
	}
	return nil
}

// ResumeNode lets replicas start new calls on node again.
func (s *Store) ResumeNode(ctx context.Context, node string) error {
	if err := s.rdb.HDel(ctx, s.pausedKey(), node).Err(); err != nil {
		return fmt.Errorf("resume node %s: %w", node, err)
	}
	return nil
}

// PausedNodes returns the nodes paused now.
func (s *Store) PausedNodes(ctx context.Context) (map[string]PausedNode, error) {
	h, err := s.rdb.HGetAll(ctx, s.pausedKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("paused nodes: %w", err)
	}
	out := make(map[string]PausedNode, len(h))
	for node, v := range h {
		at, by, _ := strings.Cut(v, "|")
		n, _ := strconv.ParseInt(at, 10, 64)
		out[node] = PausedNode{By: by, Since: time.UnixMilli(n).UTC()}
	}
	return out, nil
}
