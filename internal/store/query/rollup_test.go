package query

import (
	"fmt"
	"testing"
	"time"
)

func TestSpans(t *testing.T) {
	d := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(days, hours, minutes int) time.Time {
		return d.Add(time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute)
	}
	for _, c := range []struct {
		from, to time.Time
		step     time.Duration
		want     string
	}{
		// Whole days in the middle, hours around them, minutes at the edges.
		{at(0, 10, 30), at(3, 2, 15), 0, "traffic 10:30-11:00, traffic_hour 11:00-00:00, traffic_day 12-01 00:00-12-03 00:00, traffic_hour 00:00-02:00, traffic 02:00-02:15"},
		// A series by the hour never reads days.
		{at(0, 10, 0), at(2, 12, 0), time.Hour, "traffic_hour 10:00-12:00"},
		// Ten-minute buckets read only minutes.
		{at(0, 0, 0), at(1, 0, 0), 10 * time.Minute, "traffic 00:00-00:00"},
		// Less than an hour: minutes.
		{at(0, 10, 5), at(0, 10, 50), 0, "traffic 10:05-10:50"},
		{at(1, 0, 0), at(1, 0, 0), 0, ""},
	} {
		var got string
		for i, s := range Spans(c.from, c.to, c.step) {
			if i > 0 {
				got += ", "
			}
			f, t := time.Unix(s.From, 0).UTC(), time.Unix(s.To, 0).UTC()
			if s.Table == Days.Table {
				got += fmt.Sprintf("%s %s-%s", s.Table, f.Format("01-02 15:04"), t.Format("01-02 15:04"))
			} else {
				got += fmt.Sprintf("%s %s-%s", s.Table, f.Format("15:04"), t.Format("15:04"))
			}
		}
		if got != c.want {
			t.Errorf("Spans(%s, %s, %s) = %s\nwant %s", c.from, c.to, c.step, got, c.want)
		}
	}
}
