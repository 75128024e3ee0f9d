package adopt

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// What the Ansible templates make of one project on one host: the
// rsyncd.conf modules, the update script's pulls and the topics that
// start them. Each project is rendered alone (the templates' blocks are
// {% if "<project>" in hostedprojects %}), so what a rendering holds
// beyond the empty one is that project's.

// Templates are the fleet's templates, read once.
type Templates struct {
	Dir     string
	Update  string // templates/update-mirror.sh
	Rsyncd  string // templates/rsyncd.conf
	WebRoot string // nginx's root (default /data/mirror)
}

// Pull is one rsync command of the update script.
type Pull struct {
	Src, Dest string // rsync://host/path and a local path
	// BytesPerSec is --bwlimit in bytes per second (0: unpaced).
	BytesPerSec int64
	Exclude     []string
	Delete      bool
}

// Made is one project on one host as the templates make it.
type Made struct {
	Pulls   []Pull
	Topics  []string
	Modules [][2]string // name, path
}

// ReadTemplates reads the templates compare needs.
func ReadTemplates(dir string) (*Templates, error) {
	t := &Templates{Dir: dir, WebRoot: "/data/mirror"}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"templates/update-mirror.sh", &t.Update}, {"templates/rsyncd.conf", &t.Rsyncd}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("compare needs %s: %w", f.name, err)
		}
		*f.dst = string(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "templates/nginx.conf")); err == nil {
		if m := regexp.MustCompile(`(?m)^\s*root\s+(\S+?);`).FindStringSubmatch(string(b)); m != nil {
			t.WebRoot = strings.TrimRight(m[1], "/")
		}
	}
	return t, nil
}

// Make renders the templates for one project of a host.
func (t *Templates) Make(host, project string) (Made, error) {
	sh, err := jinja(t.Update, host, []string{project})
	if err != nil {
		return Made{}, fmt.Errorf("templates/update-mirror.sh: %w", err)
	}
	conf, err := jinja(t.Rsyncd, host, []string{project})
	if err != nil {
		return Made{}, fmt.Errorf("templates/rsyncd.conf: %w", err)
	}
	var m Made
	upstream := firstMatch(sh, upstreamRE)
	std := []string{}
	if a := firstMatch(sh, rsyncArgsRE); a != "" {
		std = shellWords(a)
	}
	for _, mt := range topicRE.FindAllStringSubmatch(sh, -1) {
		m.Topics = append(m.Topics, mt[1])
	}
	for _, line := range strings.Split(sh, "\n") {
		w := shellWords(line)
		if len(w) == 0 || w[0] != "rsync" {
			continue
		}
		for i, x := range w {
			if x == "&&" || x == "||" || x == ";" || x == "&" {
				w = w[:i] // the next command
				break
			}
		}
		var args []string
		for _, a := range w[1:] {
			if a == "${RSYNC_ARGS[@]}" {
				args = append(args, std...)
			} else {
				args = append(args, a)
			}
		}
		if p, ok := pullOf(args, upstream); ok {
			m.Pulls = append(m.Pulls, p)
		}
	}
	var module string
	for _, line := range strings.Split(conf, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			module = strings.TrimSpace(l[1 : len(l)-1])
		} else if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "path" && module != "" {
			m.Modules = append(m.Modules, [2]string{module, strings.TrimRight(strings.TrimSpace(v), "/")})
		}
	}
	return m, nil
}

// pullOf reads an rsync command's source, destination, pacing, excludes
// and deletion.
func pullOf(args []string, upstream string) (Pull, bool) {
	var p Pull
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--exclude" && i+1 < len(args):
			p.Exclude = append(p.Exclude, args[i+1])
			i++
		case strings.HasPrefix(a, "--exclude="):
			p.Exclude = append(p.Exclude, strings.TrimPrefix(a, "--exclude="))
		case strings.HasPrefix(a, "--bwlimit="):
			p.BytesPerSec = rsyncRate(strings.TrimPrefix(a, "--bwlimit="))
		case strings.HasPrefix(a, "--delete"):
			p.Delete = true
		case strings.HasPrefix(a, "-"):
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 || !strings.HasPrefix(pos[0], "rsync://") {
		return Pull{}, false
	}
	p.Src = strings.ReplaceAll(pos[0], "$UPSTREAM", upstream)
	p.Dest = pos[1]
	return p, true
}

// rsyncRate reads --bwlimit's value: KiB/s by default, suffixes K, M, G
// binary and KB, MB, GB decimal, as rsync does.
func rsyncRate(s string) int64 {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1024)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0
	}
	return int64(f * float64(mult))
}

// What the update script's lines look like.
var (
	upstreamRE  = regexp.MustCompile(`(?m)^UPSTREAM="?([^"\s]+)"?`)
	rsyncArgsRE = regexp.MustCompile(`(?m)^RSYNC_ARGS=\((.*)\)\s*$`)
	topicRE     = regexp.MustCompile(`\[\[ \$1 = "rsync/\$UPSTREAM/([^"]+)" \]\]`)
	hostnameVar = regexp.MustCompile(`\{\{\s*inventory_hostname\s*\}\}`)
)

var jinjaTag = regexp.MustCompile(`\{%-?\s*(.*?)\s*-?%\}`)
var jinjaIf = regexp.MustCompile(`^if\s+"([^"]+)"\s+(not\s+)?in\s+hostedprojects$`)

// jinja renders the part of Jinja the templates use: {% if "p" [not] in
// hostedprojects %}, {% else %}, {% endif %}, nested, and
// {{ inventory_hostname }}. Anything else is an error, never a guess.
func jinja(src, host string, hosted []string) (string, error) {
	var out strings.Builder
	type frame struct{ cond, parent bool }
	var stack []frame
	on := true
	rest := src
	for {
		loc := jinjaTag.FindStringSubmatchIndex(rest)
		if loc == nil {
			break
		}
		if on {
			out.WriteString(rest[:loc[0]])
		}
		tag := rest[loc[2]:loc[3]]
		rest = rest[loc[1]:]
		if strings.HasPrefix(rest, "\n") {
			rest = rest[1:] // a tag on its own line leaves no blank line
		}
		switch {
		case jinjaIf.MatchString(tag):
			m := jinjaIf.FindStringSubmatch(tag)
			in := false
			for _, h := range hosted {
				in = in || h == m[1]
			}
			cond := in != (m[2] != "")
			stack = append(stack, frame{cond, on})
			on = on && cond
		case tag == "else":
			if len(stack) == 0 {
				return "", fmt.Errorf("{%% else %%} without an if")
			}
			f := stack[len(stack)-1]
			on = f.parent && !f.cond
		case tag == "endif":
			if len(stack) == 0 {
				return "", fmt.Errorf("{%% endif %%} without an if")
			}
			on = stack[len(stack)-1].parent
			stack = stack[:len(stack)-1]
		default:
			return "", fmt.Errorf("{%% %s %%}: a template tag compare does not read", tag)
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("an if without its endif")
	}
	if on {
		out.WriteString(rest)
	}
	return hostnameVar.ReplaceAllString(out.String(), host), nil
}

// shellWords splits a line as the shell would for the simple quoting the
// scripts use ('...', "...", backslash-newline gone); a comment ends it.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range strings.TrimSpace(line) {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\':
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func firstMatch(s string, re *regexp.Regexp) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
