package atomicfile

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Write replaces path with data atomically: it writes a temporary file in
// the same folder, fsyncs it, renames it over path and fsyncs the folder,
// so a crash leaves either the old or the new contents, never a mix.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Checkpoint is a state machine's snapshot on disk.
type Checkpoint struct {
	Path string
	Log  *slog.Logger
}

// Load hands the checkpoint's bytes to restore. It reports false, and no
// error, when there is no checkpoint yet.
func (c Checkpoint) Load(restore func([]byte) error) (bool, error) {
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := restore(b); err != nil {
		return false, fmt.Errorf("checkpoint %s: %w", c.Path, err)
	}
	return true, nil
}

// Save writes a snapshot atomically (mode 0600). A failure is logged, not
// returned: the service goes on and the next checkpoint may succeed.
func (c Checkpoint) Save(snapshot func() ([]byte, error)) {
	b, err := snapshot()
	if err == nil {
		err = Write(c.Path, b, 0o600)
	}
	if err != nil && c.Log != nil {
		c.Log.Error("checkpoint failed", slog.String("path", c.Path), slog.Any("error", err))
	}
}
