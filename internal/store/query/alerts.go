package query

import (
	"encoding/json"
	"time"

	"micromirror/internal/watchtower"
)

// OpenAlerts reads the open alerts: key, kind, node, project, message,
// since_unix.
const OpenAlerts = `SELECT key, kind, node, project, message, since_unix FROM alerts ORDER BY since_unix, key`

// AlertTransition returns the statements that record a transition
// (watchtower.DiffAlerts): next as the open alerts, resolved deleted, and
// with queue each change queued for the webhook.
func AlertTransition(next, fired, resolved []watchtower.Alert, now time.Time, queue, dollar bool) []Statement {
	var out []Statement
	for _, al := range next {
		a := &Args{Dollar: dollar}
		sql := `INSERT INTO alerts (key, kind, node, project, message, since_unix) VALUES ` +
			a.Values(1, func(int) []any { return []any{al.Key, al.Kind, al.Node, al.Project, al.Message, al.Since.Unix()} }) +
			` ON CONFLICT (key) DO UPDATE SET message = excluded.message`
		out = append(out, Statement{SQL: sql, Args: a.List})
	}
	for _, al := range resolved {
		a := &Args{Dollar: dollar}
		out = append(out, Statement{SQL: `DELETE FROM alerts WHERE key = ` + a.Add(al.Key), Args: a.List})
	}
	if queue {
		for _, p := range watchtower.Payloads(fired, resolved) {
			body, _ := json.Marshal(p)
			a := &Args{Dollar: dollar}
			out = append(out, Statement{SQL: `INSERT INTO webhook_deliveries (payload, created_unix, next_unix) VALUES ` +
				a.Values(1, func(int) []any { return []any{string(body), now.Unix(), now.Unix()} }), Args: a.List})
		}
	}
	return out
}

// The webhook deliveries, their columns as DeliveryColumns names them.
const (
	DeliveryColumns = `id, payload, created_unix, state, attempts, next_unix, last_error, done_unix`
	// deliveriesKept is how long a delivered or given-up delivery stays
	// for the operator to see.
	deliveriesKept = 7 * 24 * time.Hour
)

// PendingDeliveries selects the pending deliveries, oldest first.
func PendingDeliveries(a *Args, limit int) string {
	return `SELECT ` + DeliveryColumns + ` FROM webhook_deliveries WHERE state = 'pending' ORDER BY id LIMIT ` + a.Add(int64(limit))
}

// RecentDeliveries selects the newest deliveries.
func RecentDeliveries(a *Args, limit int) string {
	return `SELECT ` + DeliveryColumns + ` FROM webhook_deliveries ORDER BY id DESC LIMIT ` + a.Add(int64(limit))
}

// RecordDelivery stores an attempt's outcome, and forgets deliveries done
// more than a week before.
func RecordDelivery(d watchtower.Delivery, dollar bool) []Statement {
	a := &Args{Dollar: dollar}
	up := `UPDATE webhook_deliveries SET state = ` + a.Add(d.State) + `, attempts = ` + a.Add(int64(d.Attempts)) +
		`, next_unix = ` + a.Add(Unix(d.NextAttempt)) + `, last_error = ` + a.Add(d.LastError) + `, done_unix = ` + a.Add(Unix(d.Done)) +
		` WHERE id = ` + a.Add(d.ID)
	b := &Args{Dollar: dollar}
	old := `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_unix < ` + b.Add(time.Now().Add(-deliveriesKept).Unix())
	return []Statement{{SQL: up, Args: a.List}, {SQL: old, Args: b.List}}
}

// ScanDelivery fills d from a row of DeliveryColumns read into payload
// and the unix times.
func ScanDelivery(d *watchtower.Delivery, payload string, created, next, done int64) error {
	d.Created, d.NextAttempt, d.Done = Time(created), Time(next), Time(done)
	return json.Unmarshal([]byte(payload), &d.Payload)
}
