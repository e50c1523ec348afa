package buildinfo

// Version and Commit are set by the linker; they are "dev" and "unknown" otherwise.
var (
	Version = "dev"
	Commit  = "unknown"
)

// String is "VERSION (COMMIT)".
func String() string { return Version + " (" + Commit + ")" }
