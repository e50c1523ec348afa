package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// EncodeJSON returns the compact JSON encoding of v, without HTML escaping
// and without a trailing newline: the form of every JSON topic (presence,
// status), readable with mosquitto_sub. It returns an *Error wrapping
// ErrMalformed if v cannot be encoded.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &Error{Code: CodeMalformed, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// AppendPresence appends the JSON encoding of m to dst after checking it
// like DecodePresence does, less the topic; a zero m.V is written as
// Version. On failure it returns dst unchanged and an *Error.
func AppendPresence(dst []byte, m *Presence) ([]byte, error) {
	if err := checkVersion("presence.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil); err != nil {
		return dst, err
	}
	c := *m
	c.V = int(version(m.V))
	b, err := EncodeJSON(&c)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// DecodePresence decodes and validates the JSON Presence that arrived on
// topic (Kind KindPresence): size under s.MaxPayload (s may be nil), a
// known version, a state of StateOnline or StateOffline, community and
// device equal to the topic's, a non-negative ts. Unknown JSON fields are
// ignored. Every error is an *Error.
func DecodePresence(p []byte, s *Spec, topic Topic) (*Presence, error) {
	const msg = "presence"
	if _, err := start(p, s, &topic, msg, KindPresence, false, false); err != nil {
		return nil, err
	}
	m := new(Presence)
	if err := json.Unmarshal(p, m); err != nil {
		return nil, &Error{Code: CodeMalformed, Field: msg, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	if err := checkVersion("presence.v", m.V, false); err != nil {
		return nil, err
	}
	if err := m.check(&topic); err != nil {
		return nil, err
	}
	return m, nil
}
