package hosthealth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"micromirror/internal/telemetry"
)

// smartReport is the part of `smartctl --json -a` a node reports.
type smartReport struct {
	Device struct {
		Name string `json:"name"`
	} `json:"device"`
	ModelName   string `json:"model_name"`
	SmartStatus *struct {
		Passed bool `json:"passed"`
	} `json:"smart_status"`
	Temperature *struct {
		Current float64 `json:"current"`
	} `json:"temperature"`
	PowerOnTime *struct {
		Hours uint64 `json:"hours"`
	} `json:"power_on_time"`
	LocalTime struct {
		TimeT int64 `json:"time_t"`
	} `json:"local_time"`
	NVMe *struct {
		PercentageUsed *float64 `json:"percentage_used"`
		MediaErrors    *uint64  `json:"media_errors"`
	} `json:"nvme_smart_health_information_log"`
	EnduranceUsed *struct {
		CurrentPercent *float64 `json:"current_percent"`
	} `json:"endurance_used"`
	ATA *struct {
		Table []struct {
			ID    int     `json:"id"`
			Value float64 `json:"value"` // normalised: 100 new, falling with wear
		} `json:"table"`
	} `json:"ata_smart_attributes"`
	Smartctl struct {
		ExitStatus int `json:"exit_status"`
	} `json:"smartctl"`
}

// ataWear are the ATA attributes whose normalised value is the life left,
// in the order vendors are trusted: SSD_Life_Left, Media_Wearout_Indicator
// (Intel), Percent_Lifetime_Remain (Micron, Crucial), Wear_Leveling_Count
// (Samsung), Remaining_Lifetime_Perc.
var ataWear = []int{231, 233, 202, 177, 169}

// maxReport bounds a report file (a real one is a few tens of KiB).
const maxReport = 4 << 20

// ParseSmart reads one smartctl JSON report; file is its name, for
// messages; mtime dates it when smartctl did not.
func ParseSmart(data []byte, mtime, now time.Time) (telemetry.DiskHealth, error) {
	var r smartReport
	if err := json.Unmarshal(data, &r); err != nil {
		return telemetry.DiskHealth{}, fmt.Errorf("not smartctl's JSON: %v", err)
	}
	if r.Device.Name == "" {
		return telemetry.DiskHealth{}, errors.New("no device in the report")
	}
	d := telemetry.DiskHealth{Device: r.Device.Name, Model: r.ModelName}
	if r.SmartStatus != nil {
		d.Passed = &r.SmartStatus.Passed
	}
	if r.Temperature != nil {
		d.TempC = &r.Temperature.Current
	}
	if r.PowerOnTime != nil {
		d.PowerOnHours = &r.PowerOnTime.Hours
	}
	switch {
	case r.NVMe != nil && r.NVMe.PercentageUsed != nil:
		d.WearPercent = r.NVMe.PercentageUsed
	case r.EnduranceUsed != nil && r.EnduranceUsed.CurrentPercent != nil:
		d.WearPercent = r.EnduranceUsed.CurrentPercent
	case r.ATA != nil:
	wear:
		for _, id := range ataWear {
			for _, a := range r.ATA.Table {
				if a.ID == id && a.Value >= 0 && a.Value <= 100 {
					used := 100 - a.Value
					d.WearPercent = &used
					break wear
				}
			}
		}
	}
	if r.NVMe != nil {
		d.MediaErrors = r.NVMe.MediaErrors
	}
	at := mtime
	if r.LocalTime.TimeT > 0 {
		at = time.Unix(r.LocalTime.TimeT, 0)
	}
	d.AgeSec = max(now.Sub(at).Seconds(), 0)
	return d, nil
}

// readSmartDir reads the reports in dir (*.json), sorted by device.
func readSmartDir(dir string, now time.Time) ([]telemetry.DiskHealth, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s (micromirror-smart.timer runs smartctl as root)", dir)
	}
	var out []telemetry.DiskHealth
	var errs []string
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() > maxReport || len(out) == 64 {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		d, err := ParseSmart(data, fi.ModTime(), now)
		if err != nil {
			errs = append(errs, filepath.Base(f)+": "+err.Error())
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return out, nil
}

// Collect runs smartctl on every drive it finds and writes each report to
// dir as <device>.json (atomically), for the node to read: smartctl
// needs root, the node is not. It is what micromirror-smart.service runs.
func Collect(ctx context.Context, smartctl, dir string) error {
	out, err := exec.CommandContext(ctx, smartctl, "--json", "--scan").Output()
	if err != nil && len(out) == 0 {
		return fmt.Errorf("smartctl --scan: %w", err)
	}
	var scan struct {
		Devices []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(out, &scan); err != nil {
		return fmt.Errorf("smartctl --scan: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, d := range scan.Devices {
		// smartctl's exit status is a bit mask of findings; the report
		// is written whatever it says, as long as it is JSON.
		rep, _ := exec.CommandContext(ctx, smartctl, "--json", "-a", "-d", d.Type, d.Name).Output()
		if !json.Valid(rep) {
			errs = append(errs, fmt.Errorf("%s: smartctl gave no report", d.Name))
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(d.Name, "/dev/"), "/", "_") + ".json"
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, rep, 0o644); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
