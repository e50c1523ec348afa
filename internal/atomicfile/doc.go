// Package atomicfile writes checkpoints and results so that a crash at
// any moment leaves a complete file: write temp, fsync, rename, fsync dir.
package atomicfile
