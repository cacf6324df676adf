package app

import (
	"context"
	"log/slog"
	"strings"

	"bgcall/config"
	"bgcall/esl"
	"bgcall/metrics"
	"bgcall/notify"
	"bgcall/phone"
	"bgcall/session"
)

// notifiers builds the notifiers notify.mode asks for: none, one, or both
// chat and webhook.
func notifiers(cfg config.Config, pool *esl.Pool, m *metrics.Metrics, log *slog.Logger) ([]*notify.Notifier, error) {
	var channels []string
	switch cfg.Notify.Mode {
	case "chat":
		channels = []string{notify.ChannelChat}
	case "webhook":
		channels = []string{notify.ChannelWebhook}
	case "both":
		channels = []string{notify.ChannelChat, notify.ChannelWebhook}
	}
	domain := strings.NewReplacer("{domain}", cfg.Dial.Domain)
	var out []*notify.Notifier
	for _, ch := range channels {
		n, err := notify.New(notify.Options{
			Channel:          ch,
			Pool:             pool,
			ChatProto:        cfg.Notify.ChatProto,
			ChatFrom:         domain.Replace(cfg.Notify.ChatFrom),
			ChatTo:           domain.Replace(cfg.Notify.ChatTo),
			WebhookURL:       cfg.Notify.WebhookURL,
			Template:         cfg.Notify.SMSTemplate,
			DeclinedTemplate: cfg.Notify.DeclinedTemplate,
			BusyTemplate:     cfg.Notify.BusyTemplate,
			OfferTemplate:    cfg.Notify.OfferTemplate,
			OnPrefix:         cfg.Phone.OnPrefix,
			Timeout:          cfg.Notify.Timeout,
			Retries:          cfg.Notify.Retries,
			Metrics:          m,
			Logger:           log.With("component", "notify", "channel", ch),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// fanout sends each message by every configured channel.
type fanout []*notify.Notifier

func (f fanout) Send(ctx context.Context, m session.Message) {
	for _, n := range f {
		n.Send(ctx, m)
	}
}

// SendOffer sends the automatic offer by every configured channel.
func (f fanout) SendOffer(ctx context.Context, o phone.Offer) {
	for _, n := range f {
		n.SendOffer(ctx, o)
	}
}

// offerNotifier sends the offer by message when configured, by the same
// channels as the missed-call message.
func offerNotifier(cfg config.Config, notifs []*notify.Notifier) phone.OfferNotifier {
	if !cfg.Phone.OfferByMessage || len(notifs) == 0 {
		return nil
	}
	return fanout(notifs)
}
