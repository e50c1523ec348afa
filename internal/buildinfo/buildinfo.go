package buildinfo

import "strings"

// Version and Commit are set by the linker; they are "dev" and "unknown" otherwise.
var (
	Version = "dev"
	Commit  = "unknown"
)

// String is "VERSION (COMMIT)", or VERSION alone when it already names
// the commit (`git describe --always` of an untagged tree is the commit's
// short hash).
func String() string {
	if Commit == "" || strings.Contains(Version, Commit) {
		return Version
	}
	return Version + " (" + Commit + ")"
}
