package kind

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/provider"
)

// deployPublish applies the publish/consume workload (a publisher
// Deployment, a consumer DaemonSet on every worker) and waits until the
// publisher and every consumer run.
func (e *Env) deployPublish(ctx context.Context) error {
	p := e.s.Workload.Publish
	objs, err := e.publishObjects(e.app.ref, e.app.command, e.app.pull, e.pipelineVolume(), e.journalHostPath())
	if err != nil {
		return err
	}
	e.obs = newObserver(e.o.Clock)
	if err := k8s.Apply(ctx, e.cs, objs); err != nil {
		return err
	}
	if err := e.obs.start(ctx, e.cs, e.ns); err != nil {
		return fmt.Errorf("watch cluster: %w", err)
	}
	e.pubs = provider.NewPublishTracker(e.journalDirs, p.Files, len(e.workers), 200*time.Millisecond)
	return k8s.WaitReady(ctx, e.cs, objs, intervals.Get(intervals.PipelineReady))
}

// publishObjects are the publish/consume manifests for the app image, the
// run's volume and the node directory for journals ("": on the volume)
// (Deploy applies them, Plan prints them).
func (e *Env) publishObjects(image string, command []string, pull corev1.PullPolicy, volume k8s.Volume, journal string) (*k8s.Objects, error) {
	p := e.s.Workload.Publish
	var defects []string
	for _, d := range e.s.Workload.Defects {
		defects = append(defects, string(d))
	}
	return k8s.PublishConsume(k8s.PublishInput{
		Namespace: e.ns, Run: e.runID, Image: image, Command: command, PullPolicy: pull, Defects: defects,
		Volume: volume, JournalHostPath: journal,
		Files: p.Files, Size: p.Size, Rate: p.Rate, Versions: p.Versions, WriteTime: p.WriteTime.D(), LoadRate: p.LoadRate,
	})
}

// journalDirs are where the pods' journals are, as the host sees them: on
// NFS one directory per node that has written any (a node's directory
// appears with its first pod), else the volume's journal directory.
func (e *Env) journalDirs() []string {
	if e.nfs != nil {
		return e.nfs.journalDirs(e.runID)
	}
	return []string{filepath.Join(e.volume, history.DirJournal)}
}

// PublishStatus implements provider.PublishWatcher.
func (e *Env) PublishStatus() provider.PublishStatus {
	if e.pubs == nil {
		return provider.PublishStatus{Err: "no publish/consume workload deployed"}
	}
	return e.pubs.Status()
}

// consumerNodes are the nodes running a consumer pod but not the
// publisher, in the run's random order: "a consumer's node" that a fault
// can take away without also hitting the writer.
func (e *Env) consumerNodes(ctx context.Context, rng *rand.Rand, count int) ([]string, error) {
	cons, err := e.podNodes(ctx, k8s.ComponentConsumer, nil, len(e.workers))
	if err != nil {
		return nil, err
	}
	pub, _ := e.podNodes(ctx, k8s.ComponentPublisher, nil, 1)
	var out []string
	for _, n := range cons {
		if !slices.Contains(pub, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no node runs a consumer without the publisher (consumers on %v, publisher on %v)", cons, pub)
	}
	if rng != nil {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out[:min(count, len(out))], nil
}
