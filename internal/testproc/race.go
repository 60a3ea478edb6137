//go:build race

package testproc

// RaceEnabled reports whether this build uses the race detector.
const RaceEnabled = true
