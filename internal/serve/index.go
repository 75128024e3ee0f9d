package serve

import (
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Entry is one line of a directory listing.
type Entry struct {
	Name  string    `json:"name"`
	Type  string    `json:"type"` // "file" or "dir"
	Size  int64     `json:"size"`
	MTime time.Time `json:"mtime"`
}

// Listing is a directory index, the JSON form tools read (version 1).
type Listing struct {
	Version int     `json:"version"`
	Node    string  `json:"node"`
	Project string  `json:"project"`
	Path    string  `json:"path"`
	Entries []Entry `json:"entries"`
}

// listDir reads a directory of a tree. Symlinks are shown as what they
// point to, and left out when they point outside the tree or nowhere; sync
// machinery and special files are left out too.
func listDir(t *tree, rel string, dir *os.File) ([]Entry, error) {
	des, err := dir.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if Hidden(name) {
			continue
		}
		var fi os.FileInfo
		if de.Type()&os.ModeSymlink != 0 {
			fi, err = t.root.Stat(path.Join(rel, name))
		} else {
			fi, err = de.Info()
		}
		if err != nil {
			continue
		}
		switch {
		case fi.IsDir():
			out = append(out, Entry{Name: name, Type: "dir", MTime: fi.ModTime().UTC()})
		case fi.Mode().IsRegular():
			out = append(out, Entry{Name: name, Type: "file", Size: fi.Size(), MTime: fi.ModTime().UTC()})
		}
	}
	return out, nil
}

// sortEntries orders folders first, then by the key the query asks for
// (?sort=name|size|time, ?order=asc|desc), names ascending by default.
func sortEntries(es []Entry, key, order string) {
	less := func(a, b Entry) bool { return a.Name < b.Name }
	switch key {
	case "size":
		less = func(a, b Entry) bool {
			if a.Size != b.Size {
				return a.Size < b.Size
			}
			return a.Name < b.Name
		}
	case "time":
		less = func(a, b Entry) bool {
			if !a.MTime.Equal(b.MTime) {
				return a.MTime.Before(b.MTime)
			}
			return a.Name < b.Name
		}
	}
	desc := order == "desc"
	sort.SliceStable(es, func(i, j int) bool {
		if (es[i].Type == "dir") != (es[j].Type == "dir") {
			return es[i].Type == "dir"
		}
		if desc {
			return less(es[j], es[i])
		}
		return less(es[i], es[j])
	})
}

func (h *Handler) indexPage(w http.ResponseWriter, r *http.Request, t *tree, rel string, dir *os.File) {
	q := r.URL.Query()
	v := variantOf(wantsJSON(r), q.Get("sort"), q.Get("order"))
	body, err := h.listings.get(listingKey{tree: t, rel: rel, variant: v}, dir, func() ([]byte, error) {
		return h.renderListing(t, rel, dir, v)
	})
	if err != nil {
		h.log.Warn("list directory", "project", t.Name, "path", rel, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError)
		return
	}
	if v.json {
		serveBody(w, r, http.StatusOK, jsonType, body)
		return
	}
	servePage(w, r, http.StatusOK, body)
}

// renderListing reads a directory and renders its listing.
func (h *Handler) renderListing(t *tree, rel string, dir *os.File, v listingVariant) ([]byte, error) {
	entries, err := listDir(t, rel, dir)
	if err != nil {
		return nil, err
	}
	order := ""
	if v.desc {
		order = "desc"
	}
	sortEntries(entries, v.sort, order)
	urlPath := "/" + t.Path + "/"
	if rel != "." {
		urlPath += rel + "/"
	}
	if v.json {
		return marshalJSON(Listing{Version: 1, Node: h.site.Name, Project: t.Name, Path: urlPath, Entries: entries})
	}
	return renderPage("index", indexData{
		pageData:   h.page(urlPath),
		Crumbs:     crumbs(urlPath),
		Entries:    entries,
		Sort:       v.sort,
		Order:      order,
		HasParent:  true,
		FileCount:  countType(entries, "file"),
		TotalBytes: sumSizes(entries),
	})
}

// wantsJSON: ?format=json, or an Accept header asking for JSON and not HTML.
func wantsJSON(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "json"
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// Crumb is one link of the breadcrumb.
type Crumb struct {
	Name, Href string
}

// crumbs links every folder above a listing; each segment is escaped, so
// a folder named "a?b" or "a#b" links to itself, not to a query or an
// anchor.
func crumbs(urlPath string) []Crumb {
	out := []Crumb{{Name: "/", Href: "/"}}
	href := "/"
	for _, seg := range strings.Split(strings.Trim(urlPath, "/"), "/") {
		if seg == "" {
			continue
		}
		href += url.PathEscape(seg) + "/"
		out = append(out, Crumb{Name: seg, Href: href})
	}
	return out
}

func countType(es []Entry, typ string) int {
	n := 0
	for _, e := range es {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func sumSizes(es []Entry) int64 {
	var n int64
	for _, e := range es {
		n += e.Size
	}
	return n
}
