// Package buildinfo carries the version and commit stamped in at link time
// with -ldflags "-X github.com/fedgan/fedgan/internal/buildinfo.Version=...".
package buildinfo
