// Package invariants checks conditions that must hold if the code is
// correct. Under the build tag `invariants` (CI runs the tests with it) a
// failed check panics, so a broken invariant stops the test that broke it;
// in release builds it returns an error for the caller to handle as an
// internal error, so a bug degrades one request instead of killing the
// broker.
//
//	if off < l.logStartOffset {
//		return invariants.AssertionFailedf("storage: offset %d below log start %d", off, l.logStartOffset)
//	}
//
// Use Enabled to guard checks that are too costly for release builds.
package invariants

import (
	"errors"
	"fmt"
)

// ErrAssertionFailed is wrapped by every error AssertionFailedf returns.
var ErrAssertionFailed = errors.New("invariants: assertion failed")

// AssertionFailedf reports a broken invariant: it panics when built with
// the invariants tag, and otherwise returns an error wrapping
// ErrAssertionFailed.
func AssertionFailedf(format string, args ...any) error {
	err := fmt.Errorf("%w: %s", ErrAssertionFailed, fmt.Sprintf(format, args...))
	if Enabled {
		panic(err)
	}
	return err
}
