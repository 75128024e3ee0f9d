package serve

import (
	"fmt"
	"net/http"
	"os"
	"syscall"
)

// serveFile answers GET and HEAD for a regular file: exact size and
// modification time as synced, a strong ETag, single and multiple byte
// ranges, If-Range, and conditional requests, all through
// http.ServeContent, which also hands the body to sendfile(2) on plain HTTP.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi os.FileInfo) {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(fi.Name()))
	hdr.Set("ETag", etag(fi))
	hdr.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// etag is strong: it changes whenever the bytes can have changed, because
// rsync replaces files by rename (new inode) and sets size and mtime.
func etag(fi os.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf(`"%x-%x-%x"`, fi.Size(), fi.ModTime().UnixNano(), ino)
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
