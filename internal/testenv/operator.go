package testenv

import (
	"net/http"
	"strings"
)

// OperatorToken is the watchtower operator's token in tests; a test's
// watchtower is configured with its hash.
const OperatorToken = "operator-token-for-tests"

// OperatorGet is GET url with the operator's token as a bearer token.
func OperatorGet(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+OperatorToken)
	return http.DefaultClient.Do(req)
}

// OperatorURL puts the operator's token in url as a basic-auth password,
// for a browser.
func OperatorURL(url string) string {
	scheme, rest, _ := strings.Cut(url, "://")
	return scheme + "://operator:" + OperatorToken + "@" + rest
}
