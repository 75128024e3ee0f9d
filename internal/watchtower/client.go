package watchtower

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"micromirror/internal/certs"
)

// Client reads the watchtower's JSON API (docs/api.md), for the
// operator's fleet tools.
type Client struct {
	base  string
	token string // the operator's
	http  *http.Client
}

// maxResponse bounds what the client reads: a month of demand for a
// thousand-node fleet is about 150 MB of JSON.
const maxResponse = 1 << 30

// NewClient talks to the watchtower at base (https://host:port) with the
// operator's token; caFile, if set, is a PEM bundle to trust for its
// certificate.
func NewClient(base, caFile, token string) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := certs.LoadCAPool(caFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{base: strings.TrimRight(base, "/"), token: strings.TrimSpace(token), http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// Nodes is GET /api/v1/nodes.
func (c *Client) Nodes(ctx context.Context) ([]NodeSummary, error) {
	var resp struct {
		Nodes []NodeSummary `json:"nodes"`
	}
	err := c.get(ctx, "/api/v1/nodes", &resp)
	return resp.Nodes, err
}

// Demand is GET /api/v1/demand for [from, to).
func (c *Client) Demand(ctx context.Context, from, to time.Time) ([]DemandRow, error) {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	var resp struct {
		Days []DemandRow `json:"days"`
	}
	err := c.get(ctx, "/api/v1/demand?"+q.Encode(), &resp)
	return resp.Days, err
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("watchtower: %w", err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxResponse)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(io.LimitReader(body, 4096)).Decode(&e)
		return fmt.Errorf("watchtower %s: %s %s", path, resp.Status, e.Error)
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("watchtower %s: malformed answer: %w", path, err)
	}
	return nil
}

// MeasuredSizes is the largest tree each project has on any node, as the
// nodes last reported it.
func MeasuredSizes(nodes []NodeSummary) map[string]int64 {
	out := map[string]int64{}
	for _, n := range nodes {
		for _, p := range n.Projects {
			if p.TreeBytes > out[p.Project] {
				out[p.Project] = p.TreeBytes
			}
		}
	}
	return out
}
