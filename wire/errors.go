package wire

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel causes. Every error a decoder returns is an *Error whose Err
// wraps exactly one of them, so errors.Is(err, ErrShape) and friends work
// on it. ErrTopic and ErrID are declared in topics.go.
var (
	// ErrMalformed: the payload is not a well-formed message (bad msgpack
	// or JSON, wrong types, duplicate or truncated fields, trailing bytes,
	// an unknown dtype).
	ErrMalformed = errors.New("wire: malformed message")
	// ErrVersion: the message's protocol version v is not Version.
	ErrVersion = errors.New("wire: unsupported protocol version")
	// ErrTooLarge: the payload is larger than Spec.MaxPayload.
	ErrTooLarge = errors.New("wire: payload too large")
	// ErrShape: a tensor's shape, rank, length or count does not match
	// the Spec, or its shape does not match its data.
	ErrShape = errors.New("wire: shape mismatch")
	// ErrNonFinite: a tensor element or a float field is NaN or ±Inf.
	ErrNonFinite = errors.New("wire: non-finite value")
	// ErrRange: a counter is negative, a domain index is outside
	// [0, Spec.Domains), or an enumerated field has an unknown value.
	ErrRange = errors.New("wire: value out of range")
	// ErrIDMismatch: a community or device id in the payload differs
	// from the one in the topic it arrived on.
	ErrIDMismatch = errors.New("wire: id does not match topic")
	// ErrSpec: the Spec given to a decoder is unusable. This is the
	// receiver's configuration error, not the sender's.
	ErrSpec = errors.New("wire: invalid spec")
)

// Code is the numeric kind of a wire error, stable across releases, so that
// services can count rejected messages by reason (as mochi's packets.Code
// does for MQTT reason codes). The zero Code means "no error" or "not a wire
// error".
type Code uint8

// Codes, one per sentinel.
const (
	CodeMalformed  Code = 1  // ErrMalformed
	CodeVersion    Code = 2  // ErrVersion
	CodeTooLarge   Code = 3  // ErrTooLarge
	CodeShape      Code = 4  // ErrShape
	CodeNonFinite  Code = 5  // ErrNonFinite
	CodeRange      Code = 6  // ErrRange
	CodeIDMismatch Code = 7  // ErrIDMismatch
	CodeID         Code = 8  // ErrID
	CodeTopic      Code = 9  // ErrTopic
	CodeSpec       Code = 10 // ErrSpec
)

// String returns a short snake_case name for c, suitable as a metric label
// ("malformed", "version", ...); "ok" for 0 and "code_N" for unknown codes.
func (c Code) String() string {
	switch c {
	case 0:
		return "ok"
	case CodeMalformed:
		return "malformed"
	case CodeVersion:
		return "version"
	case CodeTooLarge:
		return "too_large"
	case CodeShape:
		return "shape"
	case CodeNonFinite:
		return "non_finite"
	case CodeRange:
		return "range"
	case CodeIDMismatch:
		return "id_mismatch"
	case CodeID:
		return "id"
	case CodeTopic:
		return "topic"
	case CodeSpec:
		return "spec"
	}
	return fmt.Sprintf("code_%d", uint8(c))
}

// Sentinel returns the sentinel error of c, or nil for 0 and unknown codes.
func (c Code) Sentinel() error {
	switch c {
	case CodeMalformed:
		return ErrMalformed
	case CodeVersion:
		return ErrVersion
	case CodeTooLarge:
		return ErrTooLarge
	case CodeShape:
		return ErrShape
	case CodeNonFinite:
		return ErrNonFinite
	case CodeRange:
		return ErrRange
	case CodeIDMismatch:
		return ErrIDMismatch
	case CodeID:
		return ErrID
	case CodeTopic:
		return ErrTopic
	case CodeSpec:
		return ErrSpec
	}
	return nil
}

// CodeOf returns the Code of err: the Code of the first *Error in its chain,
// else the code of a sentinel of this package it wraps (Topics.Parse and
// ValidID return plain wrapped sentinels; a Parse error that wraps both
// ErrTopic and ErrID is CodeTopic), else 0. CodeOf(nil) is 0.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	if errors.Is(err, ErrTopic) {
		return CodeTopic
	}
	for c := CodeMalformed; c <= CodeSpec; c++ {
		if errors.Is(err, c.Sentinel()) {
			return c
		}
	}
	return 0
}

// Error is the error every decoder and encoder of this package returns.
// Err wraps the sentinel of Code with the details; Field names the part
// of the message that is wrong, as a path like "feedback.grad",
// "generator.params[2]" or "model.weights.c1" (empty when the whole
// payload is at fault). The message reads
//
//	wire: feedback.grad: shape mismatch: got [64 3], want [64 2]
type Error struct {
	Code  Code
	Field string
	Err   error
}

// Error implements error.
func (e *Error) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Field == "" {
		return msg
	}
	return "wire: " + e.Field + ": " + strings.TrimPrefix(msg, "wire: ")
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error of code c at field whose Err wraps c's sentinel
// followed by the formatted details.
func errorf(c Code, field, format string, args ...any) *Error {
	return &Error{Code: c, Field: field, Err: fmt.Errorf("%w: "+format, append([]any{c.Sentinel()}, args...)...)}
}

// wrapErr returns an *Error of code c at field wrapping err, which must
// already wrap c's sentinel.
func wrapErr(c Code, field string, err error) *Error {
	return &Error{Code: c, Field: field, Err: err}
}
