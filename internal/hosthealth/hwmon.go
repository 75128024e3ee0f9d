package hosthealth

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"micromirror/internal/telemetry"
)

// maxSensors bounds what one machine reports.
const maxSensors = 128

// readHwmon reads every tempN_input of every hwmon chip under dir
// (millidegrees), with its label and critical threshold when the chip
// gives them. A sensor that does not read (a drive asleep) is left out.
func readHwmon(dir string) []telemetry.Temp {
	chips, _ := filepath.Glob(filepath.Join(dir, "hwmon*"))
	sort.Strings(chips)
	var out []telemetry.Temp
	for _, chip := range chips {
		name := readTrim(filepath.Join(chip, "name"))
		if name == "" {
			name = filepath.Base(chip)
		}
		inputs, _ := filepath.Glob(filepath.Join(chip, "temp*_input"))
		sort.Slice(inputs, func(i, j int) bool { return sensorIndex(inputs[i]) < sensorIndex(inputs[j]) })
		for _, in := range inputs {
			c, ok := milli(readTrim(in))
			if !ok {
				continue
			}
			base := strings.TrimSuffix(in, "_input")
			t := telemetry.Temp{Chip: name, Label: readTrim(base + "_label"), C: c}
			if t.Label == "" {
				t.Label = filepath.Base(base) // temp1
			}
			if crit, ok := milli(readTrim(base + "_crit")); ok && crit > 0 {
				t.CritC = &crit
			}
			if out = append(out, t); len(out) == maxSensors {
				return out
			}
		}
	}
	return out
}

func sensorIndex(path string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "temp"), "_input"))
	return n
}

func milli(s string) (float64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -100000 || n > 300000 {
		return 0, false
	}
	return float64(n) / 1000, true
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return ""
	}
	return strings.TrimSpace(string(b))
}
