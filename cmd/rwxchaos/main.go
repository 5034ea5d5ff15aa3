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
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	// `rwxchaos __pipeline ...`, `rwxchaos __fuse ...`: this binary
	// re-executed as one of the programs it carries runs it from selfexec's
	// init, before main.
	_ "github.com/rwxchaos/rwxchaos/framework/selfexec"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	stop := handleSignals(cancel, os.Stderr, os.Exit)
	err := newRoot().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// healing is set once a command has something to heal on the way out (a
// run's faults and environment): then the first SIGINT or SIGTERM cancels
// the command's context and it heals and tears down before exiting.
var healing atomic.Bool

func markHealing() { healing.Store(true) }

// handleSignals makes SIGINT and SIGTERM always end the process: with
// nothing to heal, at once; during a run, the first one cancels (faults are
// healed, the environment torn down, the report written) and a second one
// exits at once, pointing at `rwxchaos cleanup`. It returns a function that
// stops handling.
func handleSignals(cancel context.CancelFunc, stderr io.Writer, exit func(int)) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			if !healing.Load() {
				fmt.Fprintf(stderr, "\nrwxchaos: %s: stopped\n", s)
				exit(exitInfra)
				return
			}
			fmt.Fprintf(stderr, "\nrwxchaos: %s: stopping — healing faults and tearing down (again to exit at once)\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "rwxchaos: second %s: exiting now without healing; run `rwxchaos cleanup` to heal what is left\n", s)
			exit(exitInfra)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
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
