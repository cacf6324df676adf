package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/internal/redistest"
)

// TestEveryScriptOnCluster runs every script on a Redis Cluster (one node
// owning all 16384 slots) through a cluster client. Redis refuses a script
// whose declared keys hash to different slots (CROSSSLOT), so this proves the
// hash tag covers every key passed in KEYS. Keys a script builds from the
// prefix would only be refused by a node that does not own their slot, which
// one node cannot show; they all start with the prefix, which carries the tag.
func TestEveryScriptOnCluster(t *testing.T) {
	addr := startClusterNode(t)
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}, IsClusterMode: true})
	t.Cleanup(func() { c.Close() })
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", c)
	}
	st := New(c, Options{LeaseTTL: time.Second, Retention: 24 * time.Hour})
	exerciseEveryScript(t, st)
	// The List paths that merge a party's live hash with its history.
	if _, _, err := st.List(context.Background(), Filter{Callee: "1002", State: Finished}); err != nil {
		t.Fatal(err)
	}
}

// startClusterNode starts a cluster-enabled redis-server that owns every slot.
func startClusterNode(t *testing.T) string {
	t.Helper()
	srv := redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	node := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer node.Close()
	ctx := context.Background()
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("assign slots: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !clusterOK(node.ClusterInfo(ctx).Val()) {
		if time.Now().After(deadline) {
			t.Fatalf("cluster state not ok: %s", node.ClusterInfo(ctx).Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return srv.Addr
}

func clusterOK(info string) bool { return strings.Contains(info, "cluster_state:ok") }
