// Package kv formats a map for people: "a=1 b=2", keys sorted, "none"
// when empty, never Go's "map[a:1 b:2]".
package kv
