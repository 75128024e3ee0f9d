// Package announcement is the wire format of "module changed" news from
// the upstream to the nodes, which the announcer writes and every node
// reads: the topic layout rsync/<upstream-host>/<module> that existing
// fleets use, and the payload (version 1 JSON, or another announcer's
// free text).
package announcement

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TopicPrefix is the first level of every announcement topic.
const TopicPrefix = "rsync"

// Topic returns the announcement topic of a module.
func Topic(upstreamHost, module string) string {
	return TopicPrefix + "/" + upstreamHost + "/" + module
}

// ParseTopic splits rsync/<upstream-host>/<module>[/<sub-path>]. Deeper
// levels are a sub-path of the module and still name the module.
func ParseTopic(topic string) (host, module string, ok bool) {
	parts := strings.SplitN(topic, "/", 4)
	if len(parts) < 3 || parts[0] != TopicPrefix || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	for _, p := range parts[1:3] {
		if strings.ContainsAny(p, "+#\x00") {
			return "", "", false
		}
	}
	return parts[1], parts[2], true
}

// Announcement is the payload micromirror's announcer publishes (version
// 1). Other announcers send free text or nothing; those payloads are kept
// as Text.
type Announcement struct {
	Version int       `json:"v"`
	Module  string    `json:"module"`
	Serial  string    `json:"serial,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	// Text is a payload that is not a version-1 announcement (a sub-path or
	// a serial from another announcer); never sent as JSON.
	Text string `json:"-"`
}

// MaxPayload bounds what a node accepts; announcements are tiny.
const MaxPayload = 4096

// Errors for payloads that are ignored and counted.
var (
	ErrOversized = errors.New("payload too large")
	ErrMalformed = errors.New("malformed payload")
)

// ParsePayload reads a payload: empty, free text, or a version-1 JSON
// announcement.
func ParsePayload(b []byte) (Announcement, error) {
	if len(b) > MaxPayload {
		return Announcement{}, ErrOversized
	}
	if !utf8.Valid(b) {
		return Announcement{}, ErrMalformed
	}
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, "{") {
		return Announcement{Text: s}, nil
	}
	var a Announcement
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return Announcement{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if a.Version != 1 {
		return Announcement{}, fmt.Errorf("%w: version %d", ErrMalformed, a.Version)
	}
	return a, nil
}

// Encode renders a version-1 announcement.
func (a Announcement) Encode() []byte {
	a.Version = 1
	b, _ := json.Marshal(a)
	return b
}

// Outcome is what a node made of an announcement, for its counters: a
// module it hosts or not, a duplicate of the last one, and how many
// projects it started a run for or found already current.
type Outcome struct {
	Hosted    bool
	Duplicate bool
	Triggered int
	Current   int
}
