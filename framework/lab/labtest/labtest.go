// Package labtest holds helpers for tests that create kind clusters.
package labtest

import (
	"context"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/lab"
)

// Lock takes the machine-wide kind test lock (lab.TestLockPath) for the
// rest of the test, waiting up to an hour for other cluster tests.
func Lock(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	release, waited, err := lab.LockForTest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waited > time.Second {
		t.Logf("waited %s for another kind test (%s)", waited.Round(time.Second), lab.TestLockPath)
	}
	t.Cleanup(release)
}
