package syncer

import (
	"slices"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
)

func nodeCfg(name string, ps ...nodeconfig.Project) nodeconfig.Config {
	c := nodeconfig.Default()
	c.Name, c.Upstream, c.DataDir = name, "mirror.example.net", "/srv/mirror"
	c.Projects = ps
	return c
}

func TestPlansApplyOverrides(t *testing.T) {
	plans, skipped := Plans(nodeCfg("a.mm.example.net",
		nodeconfig.Project{Name: "epel-amd64", Path: "epel", Bwlimit: yamlconf.Bits(100e6), Schedule: yamlconf.Dur(6 * time.Hour)},
		nodeconfig.Project{Name: "archlinux"},
		nodeconfig.Project{Name: "fdroid"},
		nodeconfig.Project{Name: "custom", Source: "other.example.net::stuff/sub"},
	))
	if len(skipped) != 0 || len(plans) != 4 {
		t.Fatalf("plans %d, skipped %v", len(plans), skipped)
	}
	epel, arch, fdroid, custom := plans[0], plans[1], plans[2], plans[3]
	if epel.Source != "rsync://mirror.example.net/fedora-epel/" || epel.Dir != "/srv/mirror/epel" || epel.BytesPerSec != 100e6/8 || epel.Interval != 6*time.Hour {
		t.Errorf("epel plan = %+v", epel)
	}
	if !slices.Contains(epel.Triggers, "fedora") || !slices.Contains(epel.Exclude, "aarch64/") {
		t.Errorf("epel triggers/excludes = %v %v", epel.Triggers, epel.Exclude)
	}
	if arch.BytesPerSec != 80e6/8 || arch.ChangeMarker != "lastupdate" || arch.Interval != 24*time.Hour {
		t.Errorf("arch plan = %+v", arch)
	}
	if fdroid.Source != "rsync://mirror.example.net/fdroid/repo/" {
		t.Errorf("fdroid source = %s", fdroid.Source)
	}
	if custom.Source != "rsync://other.example.net/stuff/sub/" || !slices.Contains(custom.Triggers, "stuff") {
		t.Errorf("custom = %+v", custom)
	}
	if _, skipped := Plans(nodeconfig.Config{Projects: []nodeconfig.Project{{Name: "debian"}}}); len(skipped) != 1 {
		t.Errorf("project without upstream not reported")
	}
}

func TestRecipeOverrides(t *testing.T) {
	none, two := "", true
	plans, _ := Plans(nodeCfg("a.mm.example.net", nodeconfig.Project{Name: "debian", Stages: 1, ChangeMarker: &none,
		TraceDir: &none, DeleteExcluded: &two, Manifests: []string{"ls-lR.gz"}}))
	d := plans[0]
	if d.Stages != 1 || d.ChangeMarker != "" || d.TraceDir != "" || !d.DeleteExcluded || d.Manifests[0] != "ls-lR.gz" {
		t.Errorf("overrides not applied: %+v", d.Recipe)
	}
	if r, _ := Plans(nodeCfg("a.mm.example.net", nodeconfig.Project{Name: "debian"})); r[0].Stages != 2 {
		t.Errorf("catalog default lost")
	}
}

func TestScheduleSpreadsTheFleet(t *testing.T) {
	offsets := map[time.Duration]bool{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		plans, _ := Plans(nodeCfg(n+".mm.example.net", nodeconfig.Project{Name: "debian"}))
		offsets[plans[0].Offset] = true
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		next := plans[0].NextRun(now)
		if !next.After(now) || next.Sub(now) > 24*time.Hour {
			t.Errorf("next run %v from %v", next, now)
		}
		if next.Add(-plans[0].Offset).Truncate(24*time.Hour) != next.Add(-plans[0].Offset) {
			t.Errorf("next run %v off the grid", next)
		}
	}
	if len(offsets) < 7 {
		t.Errorf("8 nodes share %d run times", len(offsets))
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Minute, time.Hour
	d := time.Duration(0)
	for i := 0; i < 12; i++ {
		d = nextBackoff(d, lo, hi)
		if d < lo/2 || d > hi {
			t.Fatalf("backoff %v out of [%v, %v]", d, lo/2, hi)
		}
	}
	if d < hi/2 {
		t.Errorf("backoff did not grow: %v", d)
	}
}
