package watchtower

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"
)

// Delivery is one webhook POST of an alert's firing or resolve, kept until
// the webhook took it (or the watchtower gave up).
type Delivery struct {
	ID          int64          `json:"id"`
	Payload     WebhookPayload `json:"payload"`
	Created     time.Time      `json:"created"`
	State       string         `json:"state"` // pending, delivered, failed
	Attempts    int            `json:"attempts"`
	NextAttempt time.Time      `json:"next_attempt,omitzero"`
	LastError   string         `json:"last_error,omitempty"`
	Done        time.Time      `json:"done,omitzero"`
}

// The retry schedule: 30 s after the first failure, doubling to an hour;
// given up after two days of trying.
const (
	retryFirst  = 30 * time.Second
	retryMax    = time.Hour
	retryGiveUp = 48 * time.Hour
)

// nextAttempt is when a delivery that failed attempts times is tried again.
func nextAttempt(attempts int, now time.Time) time.Time {
	d := retryFirst
	for i := 1; i < attempts && d < retryMax; i++ {
		d *= 2
	}
	return now.Add(min(d, retryMax))
}

// DiffAlerts is the transition from the open alerts to those found at now:
// next are the open alerts after it (a continuing alert keeps its since
// and takes the new message), fired those new, resolved those gone. The
// stores run it inside their transaction.
func DiffAlerts(open, found []Alert, now time.Time) (next, fired, resolved []Alert) {
	was := map[string]Alert{}
	for _, a := range open {
		was[a.Key] = a
	}
	seen := map[string]bool{}
	for _, a := range found {
		if seen[a.Key] {
			continue
		}
		seen[a.Key] = true
		if prev, ok := was[a.Key]; ok {
			a.Since = prev.Since
		} else {
			a.Since = now
			fired = append(fired, a)
		}
		next = append(next, a)
	}
	for _, a := range open {
		if !seen[a.Key] {
			resolved = append(resolved, a)
		}
	}
	sort.Slice(resolved, func(i, j int) bool { return resolved[i].Key < resolved[j].Key })
	return next, fired, resolved
}

// Payloads are the webhook bodies of a transition, firings first.
func Payloads(fired, resolved []Alert) []WebhookPayload {
	var out []WebhookPayload
	for _, a := range fired {
		out = append(out, WebhookPayload{Version: 1, Status: "firing", Alert: a})
	}
	for _, a := range resolved {
		out = append(out, WebhookPayload{Version: 1, Status: "resolved", Alert: a})
	}
	return out
}

// deliver sends the pending deliveries in order, stopping at the first
// not yet due again or failing: a resolve never reaches the webhook
// before its firing.
func (a *Alerter) deliver(ctx context.Context, now time.Time) {
	if a.cfg.Webhook == "" {
		return
	}
	pending, err := a.store.PendingDeliveries(ctx, 100)
	if err != nil {
		a.log.Error("webhook deliveries", "err", err)
		return
	}
	for _, d := range pending {
		if d.NextAttempt.After(now) {
			return
		}
		d.Attempts++
		err := a.post(ctx, d.Payload)
		switch {
		case err == nil:
			d.State, d.Done, d.LastError = "delivered", now, ""
		case now.Sub(d.Created) > retryGiveUp:
			d.State, d.Done, d.LastError = "failed", now, err.Error()
			a.log.Error("webhook: gave up", "alert", d.Payload.Alert.Key, "status", d.Payload.Status, "attempts", d.Attempts, "err", err)
		default:
			d.NextAttempt, d.LastError = nextAttempt(d.Attempts, now), err.Error()
			a.log.Warn("webhook: will retry", "alert", d.Payload.Alert.Key, "status", d.Payload.Status, "attempts", d.Attempts, "next", d.NextAttempt, "err", err)
		}
		if err := a.store.RecordDelivery(ctx, d); err != nil {
			a.log.Error("webhook deliveries", "err", err)
			return
		}
		if d.State == "pending" {
			return
		}
	}
}

func (a *Alerter) post(ctx context.Context, p WebhookPayload) error {
	body, _ := json.Marshal(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
