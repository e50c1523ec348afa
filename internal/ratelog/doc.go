// Package ratelog counts dropped messages by reason and logs each sender's
// problems at most once per interval (docs/DESIGN.md §4.5: a bad message is
// dropped, logged once per sender per minute, and counted).
package ratelog
