// Command rwxchaos runs declarative chaos scenarios against apps that share
// one ReadWriteMany volume, and judges whether every file was processed
// exactly once.
//
// Exit codes: 0 every expectation held; 1 an expectation failed; 2 bad input
// or usage; 3 infrastructure error (the scenario could not run, or its run
// was void).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// `rwxchaos __pipeline ...`, `rwxchaos __fuse ...`: this binary
	// re-executed as one of the programs it carries runs it from selfexec's
	// init, before main.
	_ "github.com/rwxchaos/rwxchaos/framework/selfexec"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// Exit codes.
const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
	exitInfra = 3
)

// exitError carries an exit code; its message (if any) was already printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	if err == nil {
		return exitPass
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "rwxchaos:", ee.msg)
		}
		return ee.code
	}
	// cobra's own errors (unknown flag, bad args) are usage errors.
	fmt.Fprintln(os.Stderr, "rwxchaos:", err)
	return exitUsage
}

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func infraErr(format string, args ...any) error {
	return &exitError{code: exitInfra, msg: fmt.Sprintf(format, args...)}
}
