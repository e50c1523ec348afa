package fed

import "github.com/fedgan/fedgan/wire"

// Shown is n's attributes as the services log them: a "round" attribute,
// which the state machines note as the protocol's index, counted from 1
// (wire.RoundNumber; an index of rounds or more is past the last round,
// the final model's, and is shown as rounds). The other attributes are
// n's own.
func (n Note) Shown(rounds int) []any {
	out := make([]any, len(n.Attrs))
	copy(out, n.Attrs)
	for i := 0; i+1 < len(out); i += 2 {
		if k, ok := out[i].(string); ok && k == "round" {
			if v, ok := out[i+1].(int); ok {
				out[i+1] = wire.RoundNumber(v, v >= rounds)
			}
		}
	}
	return out
}
