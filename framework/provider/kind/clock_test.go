package kind

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProbeClocks(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := t0
	now := func() time.Time { return clock }
	old := clockExec
	defer func() { clockExec = old }()
	clockExec = func(ctx context.Context, node string, args ...string) (string, error) {
		if strings.Join(args, " ") != "date +%s%N" {
			t.Fatalf("ran %v", args)
		}
		clock = clock.Add(40 * time.Millisecond) // the exec takes 80 ms in all
		defer func() { clock = clock.Add(40 * time.Millisecond) }()
		switch node {
		case "ahead":
			return strconv.FormatInt(clock.Add(1500*time.Millisecond).UnixNano(), 10) + "\n", nil
		case "garbled":
			return "Mon Nov 30", nil
		case "stopped":
			return "", errors.New("container is not running")
		}
		return strconv.FormatInt(clock.UnixNano(), 10), nil
	}
	got, err := probeClocks(context.Background(), []string{"ahead", "garbled", "same", "stopped"}, now)
	if err == nil || !strings.Contains(err.Error(), "clock of garbled") || !strings.Contains(err.Error(), "clock of stopped") {
		t.Fatalf("error %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("%v", got)
	}
	if a := got["ahead"]; a.Offset != 1500*time.Millisecond || a.Uncertainty != 80*time.Millisecond || a.End.Sub(a.Start) != 80*time.Millisecond {
		t.Errorf("ahead: %+v", a)
	}
	if s := got["same"]; s.Offset != 0 {
		t.Errorf("same: %+v", s)
	}
}
