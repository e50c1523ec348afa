//go:build !unix

package broker

import (
	"os"
	"path/filepath"
)

// lockDir opens dir/LOCK. Without flock there is no lock: do not point
// two bridges at one directory.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
}
