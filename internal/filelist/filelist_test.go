package filelist

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const head = "[Version]\n3\n\n[Files]\n"

func list(lines ...string) string {
	return head + strings.Join(lines, "\n") + "\n\n[Checksums SHA1]\nabc\tlinux/x\n[End]\n"
}

func writeList(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "fullfiletimelist-fedora")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiff(t *testing.T) {
	old := writeList(t, list(
		"100\td\t4096\tlinux",
		"100\tf\t10\tlinux/same",
		"100\tf\t10\tlinux/changed",
		"100\tf\t10\tlinux/chmodded",
		"100\tf\t10\tlinux/gone",
		"100\tl\t7\tlinux/link"))
	fresh := writeList(t, list(
		"100\td\t4096\tlinux",
		"100\tf\t10\tlinux/same",
		"100\tf\t11\tlinux/changed",
		"200\tf\t10\tlinux/chmodded",
		"100\tf\t5\tlinux/new",
		"100\tf\t5\tlinux/new",
		"100\tf\t7\tlinux/link"))
	got, err := Diff(old, fresh, 100)
	want := []string{"linux/changed", "linux/chmodded", "linux/gone", "linux/link", "linux/new"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %q, %v; want %q", got, err, want)
	}
	if got, err := Diff(fresh, fresh, 100); err != nil || len(got) != 0 {
		t.Errorf("a list against itself: %q, %v", got, err)
	}
	if _, err := Diff(old, fresh, 4); !errors.Is(err, ErrTooMany) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestReadRefuses(t *testing.T) {
	good := list("100\tf\t10\tlinux/a", "100\tf\t10\tlinux/b")
	for name, src := range map[string]string{
		"empty":           "",
		"cut in [Files]":  good[:strings.Index(good, "linux/b")],
		"no blank ending": head + "100\tf\t10\tlinux/a\n",
		"other version":   strings.Replace(good, "3\n", "9\n", 1),
		"no [Files]":      strings.Replace(good, "[Files]", "[Filez]", 1),
		"three fields":    strings.Replace(good, "100\tf\t10\tlinux/a", "100\tf\tlinux/a", 1),
		"bad time":        strings.Replace(good, "100\tf\t10\tlinux/a", "1e3\tf\t10\tlinux/a", 1),
		"bad size":        strings.Replace(good, "100\tf\t10\tlinux/a", "100\tf\t-1\tlinux/a", 1),
		"absolute path":   strings.Replace(good, "linux/a", "/etc/passwd", 1),
		"dot-dot":         strings.Replace(good, "linux/a", "linux/../../x", 1),
		"long line":       strings.Replace(good, "linux/a", "linux/"+strings.Repeat("a", maxLine), 1),
	} {
		if err := Read(strings.NewReader(src), func(string, string) {}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	n := 0
	if err := Read(strings.NewReader(good), func(p, e string) { n++ }); err != nil || n != 2 {
		t.Errorf("a good list: %d entries, %v", n, err)
	}
}

// FuzzRead: a list is outside input; Read never panics and yields only
// clean relative paths.
func FuzzRead(f *testing.F) {
	f.Add([]byte(list("100\tf\t10\tlinux/a", "100\td\t4096\tlinux")))
	f.Add([]byte(head + "1\tf\t1\ta\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Read(strings.NewReader(string(b)), func(p, e string) {
			if strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../") || strings.Count(e, "\t") != 3 {
				t.Fatalf("yielded %q %q", p, e)
			}
		})
	})
}
