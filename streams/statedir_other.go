//go:build !unix

package streams

import "os"

// lockStateDir does not lock on platforms without POSIX record locks:
// there, nothing stops two processes from sharing a state directory.
func lockStateDir(string) (*os.File, error) { return nil, nil }
