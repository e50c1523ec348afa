// Package fed holds the paper's algorithm as pure code: its equations
// (Eq. 1, 4, 5, 8, 9) as functions, and the device's, the edge's and the
// cloud's round logic as state machines fed with events and the time.
package fed
