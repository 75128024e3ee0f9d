// Package serve answers HTTP requests for the mirrored trees: files with
// ranges and conditional requests, index pages in HTML and JSON that credit
// the sponsor, and the node's own small pages. It never reaches outside the
// project trees: every file is opened through an os.Root per project.
package serve

import (
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Site is what the pages say about the node.
type Site struct {
	Name        string // public hostname
	SponsorName string
	SponsorURL  string
	Contact     string // e-mail or URL of the fleet operator
	FleetName   string
	FleetURL    string
	DonateURL   string
}

// Project is one served tree.
type Project struct {
	Name        string // catalog name
	Path        string // the first URL segment and the directory served under it
	Description string
	Dir         string // absolute directory
	// Link is the project's URL path below the site root when its tree
	// is deeper than Path (kdeftp/stable in kdeftp); default Path.
	Link string
	// Rsync is its path on the node's rsync daemon (module/sub/path);
	// default Path.
	Rsync string
}

func (p Project) link() string {
	if p.Link != "" {
		return p.Link
	}
	return p.Path
}

func (p Project) rsync() string {
	if p.Rsync != "" {
		return p.Rsync
	}
	return p.Path
}

// StatusFunc returns the last successful sync of a project (zero if never).
type StatusFunc func(project string) time.Time

// Handler serves a node's projects. It is immutable once built and safe for
// concurrent use; a config reload builds a new one.
type Handler struct {
	site     Site
	projects map[string]*tree // by URL path
	order    []*tree
	lastSync StatusFunc
	log      *slog.Logger
	cache    *fileCache // nil: off
	listings *listingCache
}

type tree struct {
	Project
	root *os.Root
	// dirfd is the tree's directory (O_PATH), for the file cache's checks.
	dirfd int
}

// Options tune a Handler.
type Options struct {
	// CacheBytes is the memory for small, often requested files (0: no
	// cache); CacheMaxFile the largest file held.
	CacheBytes, CacheMaxFile int64
}

// New opens each project's tree (creating missing directories, which the
// sync fills) and returns the handler.
func New(site Site, projects []Project, lastSync StatusFunc, opts Options, log *slog.Logger) (*Handler, error) {
	h := &Handler{site: site, projects: map[string]*tree{}, lastSync: lastSync, log: log,
		cache: newFileCache(opts.CacheBytes, opts.CacheMaxFile), listings: newListingCache()}
	if h.lastSync == nil {
		h.lastSync = func(string) time.Time { return time.Time{} }
	}
	for _, p := range projects {
		if err := os.MkdirAll(p.Dir, 0o755); err != nil {
			h.Close()
			return nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
		root, err := os.OpenRoot(p.Dir)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
		dirfd, err := unix.Open(p.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			root.Close()
			h.Close()
			return nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
		t := &tree{Project: p, root: root, dirfd: dirfd}
		h.projects[p.Path] = t
		h.order = append(h.order, t)
	}
	sort.Slice(h.order, func(i, j int) bool { return h.order[i].Path < h.order[j].Path })
	return h, nil
}

// Close releases the trees' directory handles. Files already open by
// in-flight requests stay valid.
func (h *Handler) Close() {
	h.cache.close()
	for _, t := range h.projects {
		t.root.Close()
		unix.Close(t.dirfd)
	}
}

// CacheStats reports the file cache's counters (zero without a cache).
func (h *Handler) CacheStats() CacheStats { return h.cache.stats() }

// ProjectOf returns the project a request path belongs to, "" if none; the
// traffic counters use it.
func (h *Handler) ProjectOf(urlPath string) string {
	t, _, err := resolve(urlPath)
	if err != nil {
		return ""
	}
	if p, ok := h.projects[t.project]; ok {
		return p.Name
	}
	return ""
}

// ProjectNoter is implemented by response writers that want to know the
// project a response belongs to (the node's traffic counters), so they
// need not resolve the path again.
type ProjectNoter interface {
	NoteProject(name string)
}

func noteProject(w http.ResponseWriter, name string) {
	if pn, ok := w.(ProjectNoter); ok {
		pn.NoteProject(name)
	}
}

const allowed = "GET, HEAD, OPTIONS"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", allowed)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", allowed)
		h.errorPage(w, r, http.StatusMethodNotAllowed)
		return
	}
	if h.cache != nil {
		if e := h.cache.get(r.URL.Path); e != nil {
			noteProject(w, e.tree.Name)
			e.serve(w, r)
			e.release()
			return
		}
	}
	t, hidden, err := resolve(r.URL.Path)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest)
		return
	}
	if hidden {
		h.errorPage(w, r, http.StatusNotFound)
		return
	}
	switch {
	case t.project == "":
		h.rootPage(w, r)
		return
	case t.project == "robots.txt" && t.rel == ".":
		serveStatic(w, r, "text/plain; charset=utf-8", robotsTxt)
		return
	case t.project == "favicon.ico" && t.rel == ".":
		serveStatic(w, r, "image/png", favicon())
		return
	}
	p, ok := h.projects[t.project]
	if !ok {
		h.errorPage(w, r, http.StatusNotFound)
		return
	}
	h.serveTree(w, r, p, t)
}

func (h *Handler) serveTree(w http.ResponseWriter, r *http.Request, p *tree, t target) {
	noteProject(w, p.Name)
	// O_NONBLOCK: opening a FIFO someone left in the tree must not hang
	// the request; regular files ignore the flag.
	f, err := p.root.OpenFile(t.rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		h.errorPage(w, r, statusOf(err))
		return
	}
	keep := false // the file cache took it
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		h.errorPage(w, r, statusOf(err))
		return
	}
	switch {
	case fi.IsDir():
		if !t.slash {
			redirectSlash(w, r, t)
			return
		}
		h.indexPage(w, r, p, t.rel, f)
	case fi.Mode().IsRegular():
		if t.slash {
			h.errorPage(w, r, http.StatusNotFound)
			return
		}
		// Only a file's canonical path is cached: "/p//f" and "/p/./f"
		// name it too, and a client could otherwise fill the cache with
		// one file under endless names.
		if h.cache != nil && r.Method == http.MethodGet && r.URL.Path == t.canonical() && h.cache.admit(r.URL.Path, fi.Size()) {
			var e *cached
			if e, keep = h.cache.load(r.URL.Path, p, t.rel, f, fi); e != nil {
				e.serve(w, r)
				e.release()
				return
			}
		}
		head := headOf(fi)
		serveFile(w, r, &head, f, nil)
	default: // devices, sockets, fifos: never served
		h.errorPage(w, r, http.StatusNotFound)
	}
}

// statusOf maps a file-system error to the status a client sees; the
// error itself (which may name server paths) is never shown.
func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission),
		// A path through a file, a symlink loop, a name longer than the
		// file system takes: no file is there.
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENAMETOOLONG):
		return http.StatusNotFound
	case isEscape(err):
		// A symlink leading out of the tree: for the client it is not there.
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

func isEscape(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err != nil && pe.Err.Error() == "path escapes from parent"
	}
	return false
}

// redirectSlash sends a directory request without its trailing slash to the
// canonical URL. The target is rebuilt from the resolved segments, each
// escaped, so a request like "//host/x" can never turn into a redirect
// off-site and a name with "?", "#" or "<" stays one path segment. HEAD
// is told the length GET gets.
func redirectSlash(w http.ResponseWriter, r *http.Request, t target) {
	loc := "/" + url.PathEscape(t.project) + "/"
	if t.rel != "." {
		for _, seg := range strings.Split(t.rel, "/") {
			loc += url.PathEscape(seg) + "/"
		}
	}
	if r.URL.RawQuery != "" {
		loc += "?" + escapeQuery(r.URL.RawQuery)
	}
	body := "<a href=\"" + html.EscapeString(loc) + "\">Moved Permanently</a>.\n"
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusMovedPermanently)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

// escapeQuery percent-encodes the bytes a query may not hold as they are
// (RFC 3986 3.4), keeping what was already encoded.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if queryByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// queryByte: unreserved, sub-delims, ':', '@', '/', '?' and '%' (kept
// escapes).
func queryByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0
}
