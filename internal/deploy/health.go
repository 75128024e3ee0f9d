package deploy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"micromirror/internal/inventory"
	"micromirror/internal/nodeconfig"
)

// healthy checks a node from the operator's side until it passes or the
// timeout ends, and then that it stays healthy for the settle time (what
// the new config does wrong may show a moment after it is applied: a
// sync from a source that is not there fails once the engine restarts).
// Healthy: over HTTP (HTTPS without a plain listener) at the inventory's
// address, the node answers as its own hostname, names its sponsor and
// lists every project of the new config; and its admin status, read over
// SSH, answers with exactly those projects, none of them failed since
// the config was applied.
func (r *roller) healthy(ctx context.Context, n *inventory.Node, cfg nodeconfig.Config, h Host, d inventory.Deploy, before []projectState) error {
	check := func() error {
		if err := r.checkPage(ctx, n, cfg); err != nil {
			return err
		}
		now, err := adminStatus(ctx, h, d)
		if err != nil {
			return err
		}
		return checkAdmin(cfg, before, now)
	}
	deadline := time.Now().Add(r.o.HealthTimeout)
	var up time.Time // when it first passed
	for {
		err := check()
		var failed *syncFailed
		switch {
		case errors.As(err, &failed):
			return err
		case err != nil && !up.IsZero():
			return fmt.Errorf("healthy at first, then: %w", err)
		case err != nil && time.Now().After(deadline):
			return fmt.Errorf("not healthy after %v: %w", r.o.HealthTimeout, err)
		case err == nil && up.IsZero():
			up = time.Now()
		}
		if !up.IsZero() && time.Since(up) >= r.o.Settle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkPage fetches the node's root page by its address and hostname.
func (r *roller) checkPage(ctx context.Context, n *inventory.Node, cfg nodeconfig.Config) error {
	scheme, listen := "http", cfg.Listen.HTTP
	if len(listen) == 0 {
		scheme, listen = "https", cfg.Listen.HTTPS
	}
	if len(listen) == 0 {
		return nil // serves rsync alone: the admin check tells
	}
	_, port, err := net.SplitHostPort(listen[0])
	if err != nil {
		return err
	}
	host := n.IPv4
	if host == "" {
		host = n.IPv6
	}
	if host == "" {
		host = n.Name
	}
	url := scheme + "://" + net.JoinHostPort(host, port) + "/"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Host = cfg.Name
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: cfg.Name,
		InsecureSkipVerify: cfg.TLS.SelfSigned}}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s as %s: %w", url, cfg.Name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s as %s: %s", url, cfg.Name, resp.Status)
	}
	page := string(body)
	for _, want := range []string{html.EscapeString(cfg.Name), html.EscapeString(cfg.Sponsor.Name)} {
		if !strings.Contains(page, want) {
			return fmt.Errorf("%s as %s: the page does not name %q", url, cfg.Name, want)
		}
	}
	for _, p := range cfg.Projects {
		if !strings.Contains(page, `href="/`+html.EscapeString(p.URLPath())+`/"`) {
			return fmt.Errorf("%s as %s: project %s not listed", url, cfg.Name, p.Name)
		}
	}
	return nil
}

// projectState is what the health check reads of a project in the
// node's admin status.
type projectState struct {
	Name        string    `json:"name"`
	State       string    `json:"state"`
	LastAttempt time.Time `json:"last_attempt"`
	LastError   string    `json:"last_error"`
}

// adminStatus reads `micromirror node status -json` on the node.
func adminStatus(ctx context.Context, h Host, d inventory.Deploy) ([]projectState, error) {
	out, err := h.Run(ctx, d.Micromirror+" node status -json -config "+q(path.Join(d.ConfigDir, "node.yaml")), nil)
	if err != nil {
		return nil, fmt.Errorf("admin status: %w", err)
	}
	var st []projectState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("admin status: %v", err)
	}
	return st, nil
}

// checkAdmin: the node's admin status lists exactly the config's
// projects, and none has failed or been refused since the config was
// applied (before is the status read then; a failure from earlier is
// not the new config's doing). Attempts are told apart by the node's
// own clock, so the operator's does not matter.
func checkAdmin(cfg nodeconfig.Config, before, now []projectState) error {
	var got, want []string
	for _, p := range now {
		got = append(got, p.Name)
	}
	for _, p := range cfg.Projects {
		want = append(want, p.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("admin status lists %v, the config %v", got, want)
	}
	for _, p := range now {
		if p.State != "failed" && p.State != "refused" && p.State != "unknown" {
			continue
		}
		i := slices.IndexFunc(before, func(b projectState) bool { return b.Name == p.Name })
		if i >= 0 && before[i].LastAttempt.Equal(p.LastAttempt) && before[i].State == p.State {
			continue
		}
		return &syncFailed{fmt.Sprintf("admin status: %s %s: %s", p.Name, p.State, p.LastError)}
	}
	return nil
}

// syncFailed is a project's run that failed under the new config: a
// verdict, not a node still starting, so the check ends at once.
type syncFailed struct{ msg string }

func (e *syncFailed) Error() string { return e.msg }

// getOK fetches a URL until it answers 200 or the timeout ends.
func getOK(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
