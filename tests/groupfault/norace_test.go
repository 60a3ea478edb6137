//go:build !race

package groupfault

const raceEnabled = false
