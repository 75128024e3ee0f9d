package adopt

import "testing"

// The import reads files of another system: whatever they hold, it
// reports or reads, and never panics.
func FuzzHostVars(f *testing.F) {
	f.Add([]byte("hostedprojects: [gimp, tdf]\nsite_sponsor: A\ngeolocation: {country: uk, city: york}\n"))
	f.Add([]byte("hostedprojects:\n  - nosuch\ncountry: usa\n"))
	f.Add([]byte("hostedprojects: ! \n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		h, err := parseHost("a.mm.example.org", "host_vars/a.yaml", src)
		if err == nil && len(h.Projects) == 0 {
			t.Fatal("a host without projects accepted")
		}
	})
}

func FuzzTemplates(f *testing.F) {
	f.Add("{% if \"gimp\" in hostedprojects %}\nrsync \"${RSYNC_ARGS[@]}\" rsync://$UPSTREAM/gimp/ /data/mirror/gimp/ &&\\\n{% endif %}\n")
	f.Add("{% if \"x\" not in hostedprojects %}a{% else %}b{% endif %}{{ inventory_hostname }}")
	f.Add("rsync --exclude '**/a b/**' --bwlimit=1.5G x 'y")
	f.Fuzz(func(t *testing.T, src string) {
		out, err := jinja(src, "h", []string{"gimp"})
		if err != nil {
			return
		}
		tm := &Templates{Update: "UPSTREAM=\"u\"\nRSYNC_ARGS=(-a --bwlimit=25M)\n" + out, Rsyncd: out, WebRoot: "/data/mirror"}
		tm.Make("h", "gimp")
	})
}
