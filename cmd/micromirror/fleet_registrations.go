package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"micromirror/internal/registration"
)

const fleetRegistrationsUsage = `Usage: micromirror fleet registrations [-inventory fleet.yaml] [-project P] [-state S] [-format table|csv|json] [-lists]

Per project, what each node must be registered with in the project's
mirror list: its HTTP, HTTPS and rsync URLs, country, sponsor, port speed
and addresses, with the project's registration procedure and the state
kept in the inventory (registrations: pending, submitted or live; a
planned node cannot be registered before it serves).

-lists downloads each project's public mirror list and compares it with
the inventory: nodes listed but not marked live, marked live but not
listed, listed but unknown or not hosting the project, and retired nodes
still listed. It exits 1 when a list and the inventory disagree.

Flags:
`

func (m *Main) runFleetRegistrations(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("registrations", fleetRegistrationsUsage, stderr)
	ff.register(fs, false, false)
	project := fs.String("project", "", "only this project")
	state := fs.String("state", "", "only rows in this state: pending, submitted, live or planned")
	format := fs.String("format", "table", "table, csv or json")
	lists := fs.Bool("lists", false, "compare with the projects' public mirror lists (downloads them)")
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		fmt.Fprintf(stderr, "micromirror fleet registrations: -format %q: want table, csv or json\n", *format)
		return 2
	}
	rows, err := registration.Rows(f)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet registrations: %v\n", err)
		return 1
	}
	var kept []registration.Row
	for _, r := range rows {
		if (*project == "" || r.Project == *project) && (*state == "" || r.State == *state) {
			kept = append(kept, r)
		}
	}
	var projects []registration.Project
	for _, p := range registration.Projects(f) {
		if *project == "" || p.Name == *project {
			projects = append(projects, p)
		}
	}
	var comps []registration.Comparison
	if *lists {
		comps = registration.CompareAll(ctx, f, &http.Client{Timeout: time.Minute})
	}
	switch *format {
	case "json":
		printJSON(stdout, map[string]any{"version": 1, "projects": projects, "rows": kept, "lists": comps})
	case "csv":
		writeRegistrationsCSV(stdout, kept, projects)
	default:
		writeRegistrationsTable(stdout, kept, projects)
	}
	disagree := 0
	for _, c := range comps {
		if *project != "" && c.Project != *project {
			continue
		}
		if *format == "table" {
			printComparison(stdout, c)
		}
		if !c.Agrees() {
			disagree++
		}
	}
	if disagree > 0 {
		return 1
	}
	return 0
}

func writeRegistrationsCSV(w io.Writer, rows []registration.Row, projects []registration.Project) {
	procedure := map[string]string{}
	for _, p := range projects {
		procedure[p.Name] = p.Procedure
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"project", "node", "state", "country", "city", "sponsor", "sponsor_url", "asn", "ipv4", "ipv6",
		"bandwidth_mbit", "http", "https", "rsync", "procedure"})
	for _, r := range rows {
		cw.Write([]string{r.Project, r.Node, r.State, r.Country, r.City, r.Sponsor, r.SponsorURL, r.ASN, r.IPv4, r.IPv6,
			strconv.FormatInt(r.BandwidthMbit, 10), r.HTTP, r.HTTPS, r.Rsync, procedure[r.Project]})
	}
	cw.Flush()
}

func writeRegistrationsTable(w io.Writer, rows []registration.Row, projects []registration.Project) {
	for _, p := range projects {
		var mine []registration.Row
		for _, r := range rows {
			if r.Project == p.Name {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: register at %s", p.Name, orDash(p.Procedure))
		if p.MirrorList != "" {
			fmt.Fprintf(w, " (list: %s)", p.MirrorList)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE\tSTATE\tCOUNTRY\tSPONSOR\tBANDWIDTH\tHTTP\tHTTPS\tRSYNC")
		for _, r := range mine {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d Mbit/s\t%s\t%s\t%s\n", r.Node, r.State, r.Country, r.Sponsor,
				r.BandwidthMbit, orDash(r.HTTP), orDash(r.HTTPS), orDash(r.Rsync))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
}

func printComparison(w io.Writer, c registration.Comparison) {
	if c.Error != "" {
		fmt.Fprintf(w, "%s list: could not read it: %s\n", c.Project, c.Error)
		return
	}
	fmt.Fprintf(w, "%s list (%s): %d of the fleet's nodes listed", c.Project, c.URL, len(c.Listed))
	if c.Agrees() {
		fmt.Fprintln(w, "; agrees with the inventory")
		return
	}
	fmt.Fprintln(w)
	for _, l := range []struct {
		what  string
		nodes []string
	}{
		{"listed, mark them live in the inventory", c.MarkLive},
		{"live in the inventory but not listed", c.NotListed},
		{"listed but not hosting it by the inventory", c.Unknown},
		{"retired but still listed: ask for their removal", c.Retired},
	} {
		if len(l.nodes) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", l.what, strings.Join(l.nodes, ", "))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
