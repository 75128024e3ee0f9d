//go:build race

package httpd

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
