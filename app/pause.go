package app

import (
	"context"
	"sync"
	"time"

	"bgcall/api"
	"bgcall/store"
)

// pauseSync is how often a replica reads which nodes are paused: a pause
// asked of another replica reaches this one within it.
const pauseSync = 2 * time.Second

// pauses is the paused nodes as this replica last read them.
type pauses struct {
	mu     sync.Mutex
	paused map[string]store.PausedNode
}

func (p *pauses) get(node string) (store.PausedNode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.paused[node]
	return n, ok
}

// pauseNode pauses or resumes new calls on node for every replica: the
// store holds it, and this replica applies it at once.
func (d *Daemon) pauseNode(ctx context.Context, node string, pause bool, by string) error {
	known := false
	for _, n := range d.cfg.FreeSWITCH.Nodes {
		known = known || n.Name == node
	}
	if !known {
		return api.ErrUnknownNode
	}
	var err error
	if pause {
		err = d.store.PauseNode(ctx, node, by, time.Now())
	} else {
		err = d.store.ResumeNode(ctx, node)
	}
	if err != nil {
		return err
	}
	d.log.Info("node paused for new calls", "node", node, "paused", pause, "by", by)
	return d.readPauses(ctx)
}

// followPauses applies the paused nodes every replica shares until ctx ends.
func (d *Daemon) followPauses(ctx context.Context) error {
	tick := time.NewTicker(pauseSync)
	defer tick.Stop()
	for {
		if err := d.readPauses(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("read paused nodes", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (d *Daemon) readPauses(ctx context.Context) error {
	paused, err := d.store.PausedNodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range d.cfg.FreeSWITCH.Nodes {
		_, p := paused[n.Name]
		d.pool.SetPaused(n.Name, p)
	}
	d.pauses.mu.Lock()
	d.pauses.paused = paused
	d.pauses.mu.Unlock()
	return nil
}
