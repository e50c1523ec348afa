//go:build openblas && cgo

package openblas

// #cgo LDFLAGS: -lopenblas
import "C"
