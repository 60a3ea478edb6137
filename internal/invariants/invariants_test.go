package invariants

import (
	"errors"
	"testing"
)

func TestAssertionFailedf(t *testing.T) {
	defer func() {
		r := recover()
		if Enabled && r == nil {
			t.Fatal("no panic with the invariants tag")
		}
		if !Enabled && r != nil {
			t.Fatalf("panic without the invariants tag: %v", r)
		}
	}()
	err := AssertionFailedf("x %d", 1)
	if !errors.Is(err, ErrAssertionFailed) || err.Error() != "invariants: assertion failed: x 1" {
		t.Fatalf("err = %v", err)
	}
}
