package serve

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// fileHead is what a file's responses say of it. The file cache keeps one
// per file, shared by every response and never modified.
type fileHead struct {
	name string
	mod  time.Time
	size int64

	ctype, etag, lastMod, length []string
}

func headOf(fi os.FileInfo) fileHead {
	return fileHead{name: fi.Name(), mod: fi.ModTime(), size: fi.Size(),
		ctype: []string{contentType(fi.Name())}, etag: []string{etag(fi)},
		lastMod: []string{fi.ModTime().UTC().Format(http.TimeFormat)}, length: []string{strconv.FormatInt(fi.Size(), 10)}}
}

// serveFile answers GET and HEAD for a regular file, open as f or whole
// in memory as body (then not nil): exact size and modification time as
// synced, a strong ETag, single and multiple byte ranges, If-Range, and
// conditional requests. A plain GET or HEAD (most requests) is answered
// directly, a file's body handed to sendfile(2) on plain HTTP by offset,
// so responses can share one descriptor; anything with ranges or
// conditions goes through http.ServeContent.
func serveFile(w http.ResponseWriter, r *http.Request, h *fileHead, f *os.File, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = h.ctype
	hdr["Etag"] = h.etag
	hdr["X-Content-Type-Options"] = noSniff
	if conditional(r) {
		planRange(r, h.size)
		var content io.ReadSeeker = io.NewSectionReader(f, 0, h.size)
		if body != nil {
			content = bytes.NewReader(body)
		}
		http.ServeContent(w, r, h.name, h.mod, content)
		return
	}
	hdr["Last-Modified"] = h.lastMod
	hdr["Accept-Ranges"] = acceptRanges
	hdr["Content-Length"] = h.length
	w.WriteHeader(http.StatusOK)
	switch {
	case r.Method == http.MethodHead:
	case body != nil:
		w.Write(body)
	default:
		io.Copy(w, io.NewSectionReader(f, 0, h.size))
	}
}

// conditional reports whether a request asks for ranges or states
// conditions, which http.ServeContent answers by the book.
func conditional(r *http.Request) bool {
	h := r.Header
	return h["Range"] != nil || h["If-Range"] != nil || h["If-Match"] != nil || h["If-None-Match"] != nil ||
		h["If-Modified-Since"] != nil || h["If-Unmodified-Since"] != nil
}

// etag is strong, of the modification time (to the nanosecond) and the
// size, as nginx's is of mtime and size: rsync gives a file the upstream's
// mtime, so the same file has the same ETag on every node of the fleet and
// a client moving between them revalidates with a 304. (The inode would
// differ on each node and at each rsync rename, for nothing.)
func etag(fi os.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
}

// serveStatic answers with a small in-memory body, HEAD without it.
func serveStatic(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
