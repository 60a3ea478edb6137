//go:build unix

package streams

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// stateDirLockFile is the file in <state.dir>/<application.id> that an
// App holds locked for its life.
const stateDirLockFile = ".lock"

// lockStateDir takes an exclusive POSIX record lock on dir/.lock, so
// that two processes never run one application from one state directory
// (they would share a process id, hence a transactional id, and the
// task directories). The lock belongs to the process: another App of
// the same process may take it again (tests run several Apps over one
// directory in turn), and it is released when the returned file is
// closed or the process dies, even by SIGKILL. A directory already
// locked by another process gives an error wrapping ErrStateDirLocked.
func lockStateDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, stateDirLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("streams: state dir lock: %w", err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: %s is locked by another process; give each instance its own state dir (StateDir, --state-dir)", ErrStateDirLocked, dir)
		}
		return nil, fmt.Errorf("streams: state dir lock %s: %w", path, err)
	}
	return f, nil
}
