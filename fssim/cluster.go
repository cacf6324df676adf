package fssim

import "fmt"

// StartCluster starts count nodes, each on its own port with its own
// Core-UUID; hostnames are "<opts.Hostname or fssim>-<i>" (from 1).
func StartCluster(count int, opts Options) ([]*Node, error) {
	base := opts.Hostname
	if base == "" {
		base = "fssim"
	}
	nodes := make([]*Node, 0, count)
	for i := 1; i <= count; i++ {
		o := opts
		o.Hostname = fmt.Sprintf("%s-%d", base, i)
		n, err := Start(o)
		if err != nil {
			for _, m := range nodes {
				m.Close()
			}
			return nil, fmt.Errorf("fssim: start node %d of %d: %w", i, count, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
