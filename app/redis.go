package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/config"
	"bgcall/metrics"
	"bgcall/store"
)

// openRedis connects to the configured Redis, or starts the embedded store
// when none is configured. It waits briefly for Redis to answer so that a
// wrong address stops start-up with a message rather than a stream of
// errors.
func openRedis(ctx context.Context, cfg config.Config, log *slog.Logger) (redis.UniversalClient, func(), error) {
	r := cfg.Redis
	if r.Embedded() {
		log.Warn("NO REDIS CONFIGURED: using the embedded in-process store. Every session is lost when bgcall stops, " +
			"and replicas cannot share sessions. Set redis.addrs (BGCALL_REDIS_ADDRS) for production.")
		c, closeFn, err := store.NewEmbedded()
		if err != nil {
			return nil, nil, fmt.Errorf("embedded store: %w", err)
		}
		return c, closeFn, nil
	}
	opts := &redis.UniversalOptions{
		Addrs:         r.Addrs,
		MasterName:    r.Master,
		IsClusterMode: r.Cluster,
		Username:      r.Username,
		Password:      r.Password,
		DB:            r.DB,
	}
	if r.Master != "" {
		opts.SentinelPassword = r.SentinelPassword
	}
	if r.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: r.TLSInsecure}
		if r.TLSCA != "" {
			pem, err := os.ReadFile(r.TLSCA)
			if err != nil {
				return nil, nil, fmt.Errorf("redis.tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("redis.tls_ca %s holds no PEM certificate", r.TLSCA)
			}
			tc.RootCAs = pool
		}
		opts.TLSConfig = tc
	}
	c := redis.NewUniversalClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var err error
	for {
		if err = c.Ping(pctx).Err(); err == nil {
			return c, func() { c.Close() }, nil
		}
		select {
		case <-pctx.Done():
			c.Close()
			return nil, nil, fmt.Errorf("redis %s does not answer: %v (check redis.addrs, redis.password and redis.tls)", strings.Join(r.Addrs, ","), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// openStore makes the session store on rdb. Unless it is the embedded one,
// Redis's maxmemory-policy is checked first: a policy that may evict live
// sessions stops start-up with the fix; one that may evict what expires, or
// one that cannot be read, is warned of.
func openStore(ctx context.Context, rdb redis.UniversalClient, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (*store.Store, error) {
	st := store.New(rdb, store.Options{
		Namespace: cfg.Namespace, Retention: cfg.Retention, LeaseTTL: cfg.LeaseTTL,
		OnQuarantine: func(id, reason string) {
			m.RedisError("quarantine")
			log.Warn("session record set aside (quarantined): it cannot be decoded; nobody steers it, and it is forgotten after the retention",
				"session", id, "reason", reason)
		},
		OnDataLoss: func() {
			m.RedisError("data_loss")
			log.Error("REDIS LOST ITS DATA: every session, timeline, lease and due time written before is gone " +
				"(a restart without persistence, FLUSHALL, or a failover to a replica that had not synced); " +
				"see docs/reliability.md")
		},
	})
	if cfg.Redis.Embedded() {
		return st, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	warning, err := st.CheckMemoryPolicy(pctx)
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", strings.Join(cfg.Redis.Addrs, ","), err)
	}
	if warning != "" {
		log.Warn("REDIS MAY EVICT BGCALL'S KEYS: " + warning)
	}
	return st, nil
}

func storeKind(r config.Redis) string {
	switch {
	case r.Embedded():
		return "embedded"
	case r.Master != "":
		return "sentinel"
	case r.Cluster:
		return "cluster"
	}
	return "redis"
}
