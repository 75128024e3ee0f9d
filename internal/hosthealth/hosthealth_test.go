package hosthealth

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"micromirror/internal/telemetry"
)

var reportTime = time.Unix(1796205600, 0)

func TestParseSmart(t *testing.T) {
	for _, c := range []struct {
		file          string
		device, model string
		passed        bool
		wear, temp    float64
		hours         uint64
		mediaErrors   bool // reported
		age           float64
	}{
		{"nvme0.json", "/dev/nvme0", "WD Blue SN570 2TB", true, 7, 41, 8760, true, 60},
		// ATA: wear from Wear_Leveling_Count's normalised value; failing.
		{"sda.json", "/dev/sda", "Samsung SSD 870 EVO 2TB", false, 88, 38, 21000, false, 3660},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseSmart(data, time.Time{}, reportTime.Add(time.Minute))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if d.Device != c.device || d.Model != c.model || d.Passed == nil || *d.Passed != c.passed || d.WearPercent == nil || *d.WearPercent != c.wear ||
			d.TempC == nil || *d.TempC != c.temp || d.PowerOnHours == nil || *d.PowerOnHours != c.hours || (d.MediaErrors != nil) != c.mediaErrors || d.AgeSec != c.age {
			t.Errorf("%s: %+v", c.file, d)
		}
	}
	// A drive that reports no wear has none, not 0.
	d, err := ParseSmart([]byte(`{"device":{"name":"/dev/sdb"},"ata_smart_attributes":{"table":[{"id":9,"value":99}]}}`), reportTime, reportTime)
	if err != nil || d.WearPercent != nil || d.TempC != nil || d.Passed != nil {
		t.Errorf("a report without wear: %+v %v", d, err)
	}
	for _, junk := range []string{`{"device": `, `[]`, `{"model_name":"x"}`} {
		if _, err := ParseSmart([]byte(junk), reportTime, reportTime); err == nil {
			t.Errorf("%q accepted", junk)
		}
	}
}

// fakeSys builds a sysfs tree with a CPU chip, an NVMe drive's sensor and
// a sensor that does not read.
func fakeSys(t *testing.T) string {
	root := t.TempDir()
	write := func(rel, v string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(v+"\n"), 0o644)
	}
	write("class/hwmon/hwmon0/name", "k10temp")
	write("class/hwmon/hwmon0/temp1_input", "54250")
	write("class/hwmon/hwmon0/temp1_label", "Tctl")
	write("class/hwmon/hwmon0/temp10_input", "49000")
	write("class/hwmon/hwmon0/temp2_input", "51000")
	write("class/hwmon/hwmon1/name", "nvme")
	write("class/hwmon/hwmon1/temp1_input", "41850")
	write("class/hwmon/hwmon1/temp1_label", "Composite")
	write("class/hwmon/hwmon1/temp1_crit", "84850")
	write("class/hwmon/hwmon2/name", "drivetemp")
	write("class/hwmon/hwmon2/temp1_input", "") // asleep: no reading
	return root
}

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eno1: 9000000 70000 3 17 0 0 0 12 8000000000 6000000 1 2 0 0 0 0
`

func TestRead(t *testing.T) {
	smart := t.TempDir()
	for _, f := range []string{"nvme0.json", "sda.json"} {
		b, _ := os.ReadFile(filepath.Join("testdata", f))
		os.WriteFile(filepath.Join(smart, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(smart, "junk.json"), []byte(`{"device": `), 0o644) // skipped
	nd := filepath.Join(t.TempDir(), "dev")
	os.WriteFile(nd, []byte(netDev), 0o644)
	src := Sources{Sys: fakeSys(t), NetDev: nd, SmartDir: smart,
		Clock: func() (telemetry.ClockState, error) { return clockState(0x2001, 15000), nil }}
	h := Read(src, reportTime)
	if len(h.Disks) != 2 || h.Disks[0].Device != "/dev/nvme0" || h.Disks[1].Device != "/dev/sda" {
		t.Errorf("disks = %+v", h.Disks)
	}
	var temps []string
	for _, s := range h.Temps {
		crit := ""
		if s.CritC != nil {
			crit = "!"
		}
		temps = append(temps, s.Chip+"/"+s.Label+"="+strconv.FormatFloat(s.C, 'f', -1, 64)+crit)
	}
	if got := strings.Join(temps, " "); got != "k10temp/Tctl=54.25 k10temp/temp2=51 k10temp/temp10=49 nvme/Composite=41.85!" {
		t.Errorf("temps = %s", got)
	}
	if h.Clock == nil || !h.Clock.Synced || h.Clock.MaxErrorMS != 15 {
		t.Errorf("clock = %+v", h.Clock)
	}
	if len(h.NICs) != 1 || h.NICs[0] != (telemetry.NICCounters{Name: "eno1", RxErrors: 3, RxDropped: 17, TxErrors: 1, TxDropped: 2}) {
		t.Errorf("nics = %+v", h.NICs)
	}
	if len(h.Missing) != 0 {
		t.Errorf("missing = %v", h.Missing)
	}
	// What it reads passes the watchtower's bounds.
	b := telemetry.Batch{Version: 1, Node: "n", Seq: 1, Start: reportTime.Add(-time.Minute), End: reportTime, Health: &h}
	if err := b.Plausible(reportTime); err != nil {
		t.Errorf("the health read is implausible: %v", err)
	}

	// A machine with nothing to read says so for each part.
	bare := Read(Sources{Sys: t.TempDir(), NetDev: filepath.Join(t.TempDir(), "none"), SmartDir: filepath.Join(t.TempDir(), "none"),
		Clock: func() (telemetry.ClockState, error) {
			return telemetry.ClockState{}, errors.New("adjtimex: not permitted")
		}}, reportTime)
	if len(bare.Disks)+len(bare.Temps)+len(bare.NICs) != 0 || bare.Clock != nil || len(bare.Missing) != 4 {
		t.Errorf("bare machine: %+v", bare)
	}
	for _, want := range []string{"smart: no ", "temperatures: no hwmon", "clock: adjtimex", "nics: "} {
		if !strings.Contains(strings.Join(bare.Missing, "\n"), want) {
			t.Errorf("missing lacks %q: %v", want, bare.Missing)
		}
	}
}

func TestClockState(t *testing.T) {
	if c := clockState(0x0040|0x2000, 16000000); c.Synced {
		t.Errorf("STA_UNSYNC set, reported synced: %+v", c)
	}
	if c := clockState(0x2001, 500); !c.Synced || c.MaxErrorMS != 0.5 {
		t.Errorf("synced clock: %+v", c)
	}
	if _, err := kernelClock(); err != nil {
		t.Errorf("adjtimex on this machine: %v", err)
	}
}

// TestCollect: the root timer's job writes one report per drive that the
// node then reads. smartctl stands in as a script printing recorded
// reports (the test machine's drives are not the test's to read).
func TestCollect(t *testing.T) {
	dir := t.TempDir()
	nvme, _ := filepath.Abs("testdata/nvme0.json")
	sda, _ := filepath.Abs("testdata/sda.json")
	script := filepath.Join(dir, "smartctl")
	os.WriteFile(script, []byte(`#!/bin/sh
case "$*" in
"--json --scan") echo '{"devices":[{"name":"/dev/nvme0","type":"nvme"},{"name":"/dev/sda","type":"sat"},{"name":"/dev/sdz","type":"sat"}]}' ;;
*"-d nvme /dev/nvme0") cat `+nvme+` ;;
*"-d sat /dev/sda") cat `+sda+`; exit 4 ;;
*) exit 2 ;;
esac
`), 0o755)
	out := filepath.Join(dir, "smart")
	err := Collect(t.Context(), script, out)
	if err == nil || !strings.Contains(err.Error(), "/dev/sdz: smartctl gave no report") {
		t.Errorf("collect: %v", err)
	}
	disks, err := readSmartDir(out, reportTime)
	if err != nil || len(disks) != 2 || disks[1].Passed == nil || *disks[1].Passed {
		t.Errorf("reports read back: %+v %v", disks, err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
