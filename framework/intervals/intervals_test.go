package intervals

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

func TestParse(t *testing.T) {
	got, err := Parse("nodes-ready=5m/2s, pipeline-ready=6m,bogus=1s,drain-volume=x")
	if got[NodesReady] != (Interval{5 * time.Minute, 2 * time.Second}) || got[PipelineReady] != (Interval{Timeout: 6 * time.Minute}) {
		t.Errorf("parsed %v", got)
	}
	if err == nil || !strings.Contains(err.Error(), `"bogus=1s"`) || !strings.Contains(err.Error(), `"drain-volume=x"`) {
		t.Errorf("bad entries not reported: %v", err)
	}
	if _, err := Parse(""); err != nil {
		t.Errorf("empty: %v", err)
	}
}

func TestEveryNameHasADefault(t *testing.T) {
	for _, n := range []Name{NodesReady, EngineNode, DrainVolume, AppReady, CRDEstablished, AppEngineNode, AppHolderNode, RoleRunning, PipelineReady, PipelineExisting, ServiceEndpoint, CoreDNSReady, PodPhase, HelperPod, RunObjectsGone, ChaosCreate, ChaosGone, ChaosSweep} {
		if iv := Get(n); iv.Timeout <= 0 || iv.Poll <= 0 || iv.Poll >= iv.Timeout {
			t.Errorf("%s: %+v", n, iv)
		}
	}
}

func TestUntil(t *testing.T) {
	n := 0
	iv := Interval{Timeout: time.Second, Poll: time.Millisecond}
	if err := iv.Until(context.Background(), func(context.Context) (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Fatalf("n %d, err %v", n, err)
	}
	err := Interval{Timeout: 20 * time.Millisecond, Poll: time.Millisecond}.Until(context.Background(), func(context.Context) (bool, error) { return false, nil })
	if !wait.Interrupted(err) || !strings.Contains(err.Error(), "after 20ms") {
		t.Fatalf("timeout: %v", err)
	}
	boom := errors.New("boom")
	if err := iv.Until(context.Background(), func(context.Context) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("condition error: %v", err)
	}
}
