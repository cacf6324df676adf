package app

import (
	"log/slog"

	"bgcall/config"
	"bgcall/metrics"
	"bgcall/store"
	"bgcall/webhook"
)

// webhooks builds the lifecycle webhooks webhooks.* asks for, nil when
// they are off. replica names this daemon among the outbox's readers.
func webhooks(cfg config.Webhooks, st *store.Store, replica string, m *metrics.Metrics, log *slog.Logger) (*webhook.Hooks, error) {
	if !cfg.On() {
		return nil, nil
	}
	b := webhook.DefaultBackoff()
	b.First, b.Max = cfg.FirstRetry, cfg.MaxRetry
	return webhook.New(webhook.Options{
		Outbox:      st,
		Replica:     replica,
		URL:         cfg.URL,
		RequestURL:  cfg.RequestURLCheck(),
		Secret:      cfg.Secret,
		Timeout:     cfg.Timeout,
		Backoff:     b,
		MaxAttempts: cfg.MaxAttempts,
		ClaimIdle:   cfg.ClaimIdle,
		MaxBacklog:  int64(cfg.MaxBacklog),
		Metrics:     m,
		Logger:      log.With("component", "webhook"),
	})
}
