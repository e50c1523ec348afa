// Package openblas links OpenBLAS into binaries built with the openblas
// build tag. It holds only the cgo linker directive: gonum's netlib
// package calls the CBLAS functions, and nn, which has Go assembly and so
// cannot use cgo itself, imports this package for the library.
//
// It needs Debian's libopenblas-dev (or any libopenblas with the CBLAS
// symbols on the linker path).
package openblas
