package rsync

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Progress is one --info=progress2 update: the whole transfer so far.
type Progress struct {
	Bytes   int64         `json:"bytes"`
	Percent int           `json:"percent"`
	Rate    float64       `json:"rate_bytes_per_sec"`
	ETA     time.Duration `json:"eta"`
}

// "  1,234,567  12%  100.00MB/s    0:00:10 (xfr#5, to-chk=100/200)"
var progressRE = regexp.MustCompile(`^\s*([\d,]+)\s+(\d+)%\s+([\d.]+)([kKMGT]?B)/s\s+(\d+):(\d\d):(\d\d)`)

// maxETAHours bounds an estimate (about 11 years), so its hours times an
// hour cannot overflow a time.Duration: "0:00:00" with 8,000,000 hours
// gave a negative ETA.
const maxETAHours = 99999

// ParseProgress reads one progress2 line; ok is false for other output.
func ParseProgress(line string) (Progress, bool) {
	m := progressRE.FindStringSubmatch(line)
	if m == nil {
		return Progress{}, false
	}
	bytes, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if err != nil {
		return Progress{}, false
	}
	pct, _ := strconv.Atoi(m[2])
	rate, _ := strconv.ParseFloat(m[3], 64)
	mult := map[string]float64{"B": 1, "kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m[4]]
	h, err := strconv.Atoi(m[5])
	if err != nil || h > maxETAHours {
		h = maxETAHours // rsync's own estimate overflows too: "long"
	}
	mi, _ := strconv.Atoi(m[6])
	s, _ := strconv.Atoi(m[7])
	return Progress{Bytes: bytes, Percent: min(pct, 100), Rate: rate * mult,
		ETA: time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second}, true
}
