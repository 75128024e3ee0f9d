package serve

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"human":   humanSize,
	"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":     ago,
	"esc":     url.PathEscape,
	"escpath": escapePath,
	"mailto":  func(s string) bool { return !strings.Contains(s, "://") },
	"sortq":   sortQuery,
}).ParseFS(templateFS, "templates/*.html"))

var robotsTxt = []byte("# Mirror trees are for package managers, not for crawlers.\nUser-agent: *\nAllow: /$\nDisallow: /\n")

// pageData is what every page's header and footer need.
type pageData struct {
	Site  Site
	Title string
	Path  string
}

func (h *Handler) page(title string) pageData {
	return pageData{Site: h.site, Title: title}
}

type indexData struct {
	pageData
	Crumbs     []Crumb
	Entries    []Entry
	Sort       string
	Order      string
	HasParent  bool
	FileCount  int
	TotalBytes int64
}

type rootData struct {
	pageData
	Projects []rootProject
}

type rootProject struct {
	Name        string    `json:"name"`
	Path        string    `json:"path"`  // URL path below the root
	Rsync       string    `json:"rsync"` // module/path on the node's rsync daemon
	Description string    `json:"description"`
	LastSync    time.Time `json:"last_sync,omitzero"`
}

// escapePath escapes each segment of a slash path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

type errorData struct {
	pageData
	Status  int
	Message string
}

// render executes a template into a buffer first so a template error is a
// clean 500 and HEAD gets the exact Content-Length of GET.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	body, err := renderPage(name, data)
	if err != nil {
		h.log.Error("render page", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	servePage(w, r, status, body)
}

func renderPage(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// servePage answers with a rendered page, with the headers every page has.
func servePage(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
	serveBody(w, r, status, "text/html; charset=utf-8", body)
}

const jsonType = "application/json"

// serveBody answers with a body made whole beforehand: its exact length,
// for HEAD too, and no sniffing of its type.
func serveBody(w http.ResponseWriter, r *http.Request, status int, ctype string, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func marshalJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	serveBody(w, r, status, jsonType, b)
}

func (h *Handler) rootPage(w http.ResponseWriter, r *http.Request) {
	var ps []rootProject
	for _, t := range h.order {
		ps = append(ps, rootProject{Name: t.Name, Path: t.link(), Rsync: t.rsync(), Description: t.Description, LastSync: h.lastSync(t.Name)})
	}
	if wantsJSON(r) {
		writeJSON(w, r, http.StatusOK, struct {
			Version  int           `json:"version"`
			Node     string        `json:"node"`
			Sponsor  string        `json:"sponsor"`
			Contact  string        `json:"contact"`
			Projects []rootProject `json:"projects"`
		}{1, h.site.Name, h.site.SponsorName, h.site.Contact, ps})
		return
	}
	h.render(w, r, http.StatusOK, "root", rootData{pageData: h.page(h.site.Name), Projects: ps})
}

var statusMessages = map[int]string{
	http.StatusBadRequest:       "That request path cannot name a file here.",
	http.StatusNotFound:         "There is no such file or folder on this mirror. It may have been removed upstream, or not synced yet.",
	http.StatusMethodNotAllowed: "This mirror only answers GET, HEAD and OPTIONS.",
	http.StatusForbidden:        "Your network is blocked on this mirror. If you think this is a mistake, write to the contact below.",
	http.StatusTooManyRequests:  "Too many requests from your network. Please slow down and retry shortly.",
}

// ErrorPage answers with a friendly page for status, in JSON for tools that
// ask for it. Other packages (the rate limiter) use it so every refusal
// looks alike.
func (h *Handler) ErrorPage(w http.ResponseWriter, r *http.Request, status int) {
	h.errorPage(w, r, status)
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int) {
	msg := statusMessages[status]
	if msg == "" {
		msg = http.StatusText(status)
	}
	if wantsJSON(r) {
		writeJSON(w, r, status, struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		}{status, msg})
		return
	}
	d := errorData{pageData: h.page(fmt.Sprintf("%d %s", status, http.StatusText(status))), Status: status, Message: msg}
	d.Path = r.URL.Path
	h.render(w, r, status, "error", d)
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h ago", d.Hours())
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

// sortQuery is the link of a column header: the same key flips the order.
func sortQuery(cur, order, key string) string {
	next := "asc"
	if cur == key && order != "desc" {
		next = "desc"
	}
	return "?sort=" + key + "&order=" + next
}

// favicon is a 32x32 PNG drawn once: a ring, the mirror's "reflection".
var favicon = sync.OnceValue(func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	ink := color.NRGBA{0x1f, 0x5f, 0xa8, 0xff}
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			dx, dy := float64(x)-15.5, float64(y)-15.5
			if d := dx*dx + dy*dy; d < 15*15 && (d > 9*9 || (dx < 0 && dy < 0 && d < 6*6)) {
				img.Set(x, y, ink)
			}
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
})
