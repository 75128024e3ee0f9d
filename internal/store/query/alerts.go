package query

import (
	"encoding/json"
	"time"

	"micromirror/internal/telemetry"
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
// more than a week before this one.
func RecordDelivery(d watchtower.Delivery, dollar bool) []Statement {
	a := &Args{Dollar: dollar}
	up := `UPDATE webhook_deliveries SET state = ` + a.Add(d.State) + `, attempts = ` + a.Add(int64(d.Attempts)) +
		`, next_unix = ` + a.Add(Unix(d.NextAttempt)) + `, last_error = ` + a.Add(d.LastError) + `, done_unix = ` + a.Add(Unix(d.Done)) +
		` WHERE id = ` + a.Add(d.ID)
	out := []Statement{{SQL: up, Args: a.List}}
	if !d.Done.IsZero() { // a week before this one was done, by the same clock
		b := &Args{Dollar: dollar}
		out = append(out, Statement{SQL: `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_unix < ` + b.Add(d.Done.Add(-deliveriesKept).Unix()), Args: b.List})
	}
	return out
}

// ScanDelivery fills d from a row of DeliveryColumns read into payload
// and the unix times.
func ScanDelivery(d *watchtower.Delivery, payload string, created, next, done int64) error {
	d.Created, d.NextAttempt, d.Done = Time(created), Time(next), Time(done)
	return json.Unmarshal([]byte(payload), &d.Payload)
}

// HealthSamples selects a node's health figures in [from, to): end_unix,
// max_temp_c, disk_temp_c, wear_percent, clock_synced, nic_errors.
func HealthSamples(a *Args, node string, from, to time.Time) string {
	return `SELECT end_unix, max_temp_c, disk_temp_c, wear_percent, clock_synced, nic_errors FROM health_samples WHERE node = ` + a.Add(node) +
		` AND end_unix >= ` + a.Add(from.Unix()) + ` AND end_unix < ` + a.Add(to.Unix()) + ` ORDER BY end_unix`
}

// HealthSample makes a sample of a row's nullable columns.
func HealthSample(end int64, maxTemp, diskTemp, wear *float64, synced, errs *int64) watchtower.HealthSample {
	s := watchtower.HealthSample{T: time.Unix(end, 0).UTC(), MaxTempC: maxTemp, DiskTempC: diskTemp, WearPercent: wear}
	if synced != nil {
		v := *synced != 0
		s.ClockSynced = &v
	}
	if errs != nil {
		v := uint64(*errs)
		s.NICErrors = &v
	}
	return s
}

// ParseHealth reads the nodes table's health column ("" none).
func ParseHealth(s string) *telemetry.Health {
	if s == "" {
		return nil
	}
	var h telemetry.Health
	if json.Unmarshal([]byte(s), &h) != nil {
		return nil
	}
	return &h
}
