//go:build race

package esl

// raceEnabled scales load tests down under the race detector, which slows
// this package's work about fifteenfold.
const raceEnabled = true
