package kv

import (
	"maps"
	"slices"
	"strings"
)

// String renders m as "k=v" pairs in key order, v written by f; "none"
// for an empty map.
func String[V any](m map[string]V, f func(V) string) string {
	if len(m) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(f(m[k]))
	}
	return b.String()
}
