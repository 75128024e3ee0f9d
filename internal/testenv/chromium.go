package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromiumArgs keep headless Chromium off the network: no background
// services, no component updates, nothing but the page asked for.
var chromiumArgs = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
	"--disable-default-apps", "--mute-audio", "--hide-scrollbars"}

func chromium(tb testing.TB, args ...string) []byte {
	tb.Helper()
	bin := RequireBinary(tb, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append(append([]string{}, chromiumArgs...), "--user-data-dir="+tb.TempDir())
	cmd := exec.CommandContext(ctx, bin, append(full, args...)...)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

// BrowserDOM loads a page in headless Chromium and returns the DOM after
// rendering.
func BrowserDOM(tb testing.TB, url string) string {
	tb.Helper()
	return string(chromium(tb, "--dump-dom", url))
}

// Screenshot renders a page in headless Chromium to a PNG file and
// returns its path.
func Screenshot(tb testing.TB, url string, width, height int) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "page.png")
	chromium(tb, "--screenshot="+out, "--window-size="+itoa(width)+","+itoa(height), url)
	if _, err := os.Stat(out); err != nil {
		tb.Fatalf("no screenshot: %v", err)
	}
	return out
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	if len(b) == 0 {
		return "0"
	}
	return string(b)
}
