package kindcluster

import (
	"fmt"

	"sigs.k8s.io/kind/pkg/log"
)

// logger adapts a printf function to kind's logger. Only warnings, errors
// and kind's default-verbosity progress lines are passed on.
type logger struct{ logf func(string, ...any) }

func (l logger) Warn(m string)                { l.logf("kind: WARN %s", m) }
func (l logger) Warnf(f string, a ...any)     { l.logf("kind: WARN %s", fmt.Sprintf(f, a...)) }
func (l logger) Error(m string)               { l.logf("kind: ERROR %s", m) }
func (l logger) Errorf(f string, a ...any)    { l.logf("kind: ERROR %s", fmt.Sprintf(f, a...)) }
func (l logger) V(v log.Level) log.InfoLogger { return infoLogger{l.logf, v <= 0} }

type infoLogger struct {
	logf    func(string, ...any)
	enabled bool
}

func (i infoLogger) Info(m string) {
	if i.enabled {
		i.logf("kind: %s", m)
	}
}

func (i infoLogger) Infof(f string, a ...any) {
	if i.enabled {
		i.logf("kind: %s", fmt.Sprintf(f, a...))
	}
}

func (i infoLogger) Enabled() bool { return i.enabled }
