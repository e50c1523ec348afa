// Package clock is the one source of time for the services: the real
// clock in production, a fake one that tests move by hand.
//
// A service reads the time and arms its timers only through a Clock, so a
// test that waits on a deadline (a device timeout, a round timeout, a
// straggler's delay) advances the fake clock instead of sleeping.
package clock
