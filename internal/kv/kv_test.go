package kv_test

import (
	"strconv"
	"testing"

	"github.com/fedgan/fedgan/internal/kv"
)

func TestString(t *testing.T) {
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, tt := range []struct {
		m    map[string]int64
		want string
	}{
		{nil, "none"},
		{map[string]int64{}, "none"},
		{map[string]int64{"too_large": 2, "id": 1}, "id=1 too_large=2"},
	} {
		if got := kv.String(tt.m, itoa); got != tt.want {
			t.Errorf("String(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}
