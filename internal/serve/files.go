package serve

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"syscall"
)

// serveFile answers GET and HEAD for a regular file: exact size and
// modification time as synced, a strong ETag, single and multiple byte
// ranges, If-Range, and conditional requests. A plain GET or HEAD (most
// requests) is answered directly, the body handed to sendfile(2) on plain
// HTTP; anything with ranges or conditions goes through http.ServeContent.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi os.FileInfo) {
	hdr := w.Header()
	hdr["Content-Type"] = []string{contentType(fi.Name())}
	hdr["Etag"] = []string{etag(fi)}
	hdr["X-Content-Type-Options"] = noSniff
	if conditional(r) {
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
		return
	}
	hdr["Last-Modified"] = []string{fi.ModTime().UTC().Format(http.TimeFormat)}
	hdr["Accept-Ranges"] = acceptRanges
	hdr["Content-Length"] = []string{strconv.FormatInt(fi.Size(), 10)}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.CopyN(w, f, fi.Size()) // a fresh file is at offset 0: no seek
	}
}

// serveCached answers from the file cache, exactly as serveFile would
// from the file: from memory, or from the cached open file by offset
// (sendfile(2) on plain HTTP).
func serveCached(w http.ResponseWriter, r *http.Request, e *cached) {
	hdr := w.Header()
	hdr["Content-Type"] = e.ctype
	hdr["Etag"] = e.etag
	hdr["X-Content-Type-Options"] = noSniff
	var content io.ReadSeeker
	if e.file != nil {
		content = io.NewSectionReader(e.file, 0, e.id.size)
	} else {
		content = bytes.NewReader(e.body)
	}
	if conditional(r) {
		http.ServeContent(w, r, e.name, e.mod, content)
		return
	}
	hdr["Last-Modified"] = e.lastMod
	hdr["Accept-Ranges"] = acceptRanges
	hdr["Content-Length"] = e.length
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if e.file != nil {
		io.Copy(w, content)
	} else {
		w.Write(e.body)
	}
}

// conditional reports whether a request asks for ranges or states
// conditions, which http.ServeContent answers by the book.
func conditional(r *http.Request) bool {
	h := r.Header
	return h["Range"] != nil || h["If-Range"] != nil || h["If-Match"] != nil || h["If-None-Match"] != nil ||
		h["If-Modified-Since"] != nil || h["If-Unmodified-Since"] != nil
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
