package watchtower

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// The operator's views and APIs reveal what the public should not see:
// probe errors with addresses, alerts, per-node traffic, and queries heavy
// enough to load the database. They want the operator's token, as a
// bearer token (Prometheus' bearer_token_file, the fleet tools) or as the
// password of basic auth (a browser asks for it; any user name).

// operatorRealm names the basic-auth prompt.
const operatorRealm = `Basic realm="micromirror watchtower", charset="UTF-8"`

// parseOperatorHash returns the configured hash, nil when there is none
// (LoadConfig has checked the form).
func parseOperatorHash(hexSum string) []byte {
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		return nil
	}
	return b
}

// isOperator reports whether r carries the operator's token; the hashes
// compare in constant time.
func (s *Server) isOperator(r *http.Request) bool {
	if s.operatorHash == nil {
		return false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		_, tok, ok = r.BasicAuth()
	}
	if !ok || tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], s.operatorHash) == 1
}

// operatorOnly serves h to the operator alone: 401 with a prompt to
// anyone else, 403 when no operator token is configured at all.
func (s *Server) operatorOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.operatorHash == nil:
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "no operator_token_sha256 in the watchtower config: the operator's views are served to no one"})
		case !s.isOperator(r):
			w.Header().Set("WWW-Authenticate", operatorRealm)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "the operator's token is required (bearer, or the basic-auth password)"})
		default:
			w.Header().Set("Cache-Control", "private, no-store")
			h(w, r)
		}
	}
}
