package scenario

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// Default values shared by the doc comments in types.go; keep them in step.
const (
	DefaultKindClusterName = "rwxchaos"
	DefaultNamespace       = "rwxchaos"
	DefaultWorkers         = 3
	DefaultWebservers      = 3
	DefaultJobqueues       = 1
	DefaultSize            = "1Gi"
	DefaultTrafficCount    = 300
	DefaultTrafficRate     = 30
	DefaultMinSize         = 256
	DefaultMaxSize         = 4096
	DefaultConcurrency     = 4
	DefaultRoute           = "default"
	DefaultPercent         = 100
	// Publish/consume defaults.
	DefaultPublishFiles    = 4
	DefaultPublishSize     = 16 << 10
	DefaultPublishRate     = 5
	DefaultPublishVersions = 100
	DefaultConsumers       = 3
	DefaultLoadRate        = 10
	DefaultSteadyVersions  = 3
	// DefaultNFSLease and DefaultNFSGrace are Linux nfsd's lease and grace
	// lifetimes, what NFS users run with unless they tuned them.
	DefaultNFSLease = 90 * time.Second
	DefaultNFSGrace = 90 * time.Second
	// DefaultReadyTimeout bounds the wait for a deployed external app.
	DefaultReadyTimeout = 5 * time.Minute
	// SteadyStateAfter is the schedule.after value meaning "once traffic flows".
	SteadyStateAfter = "steady-state"
)

// Default fills every unset field with its documented default. It is the
// only place defaults live; Parse calls it before validating. It is
// idempotent and leaves fields that do not apply to the chosen provider or
// mode empty, so that Validate can tell they were not set.
func (s *Scenario) Default() {
	local := s.Cluster.Provider == ProviderLocal
	k8s := s.Cluster.Provider == ProviderKind || s.Cluster.Provider == ProviderExisting
	pipeline := s.Workload.Mode == "" || s.Workload.Mode == ModePipeline
	publish := s.Workload.Mode == ModePublishConsume

	if s.APIVersion == "" {
		s.APIVersion = APIVersion
	}
	if s.Kind == "" {
		s.Kind = KindScenario
	}

	// cluster
	if s.Cluster.Provider == ProviderKind {
		if s.Cluster.Kind.Workers == 0 {
			s.Cluster.Kind.Workers = DefaultWorkers
		}
		if s.Cluster.Kind.Name == "" {
			s.Cluster.Kind.Name = DefaultKindClusterName
		}
	}
	if k8s {
		// kind clusters are tuned to fail over fast; an existing cluster
		// is assumed to run Kubernetes' defaults unless told otherwise
		// (50s since 1.32; 40s before, which only makes the bounds
		// derived from it looser).
		grace, tol := 20*time.Second, int64(30)
		if s.Cluster.Provider == ProviderExisting {
			grace, tol = 50*time.Second, 300
		}
		t := &s.Cluster.Timings
		if t.NodeMonitorGracePeriod == 0 {
			t.NodeMonitorGracePeriod = Duration(grace)
		}
		if t.NotReadyTolerationSeconds == nil {
			t.NotReadyTolerationSeconds = ptr(tol)
		}
		if t.UnreachableTolerationSeconds == nil {
			t.UnreachableTolerationSeconds = ptr(tol)
		}
	}

	// storage
	if s.Storage.Backend == "" {
		switch s.Cluster.Provider {
		case ProviderLocal:
			s.Storage.Backend = BackendLocal
		case ProviderKind:
			s.Storage.Backend = BackendHostPath
		case ProviderExisting:
			s.Storage.Backend = BackendStorageClass
		}
	}
	if s.Storage.Size == "" {
		s.Storage.Size = DefaultSize
	}
	if n := &s.Storage.NFS; s.Storage.Backend == BackendNFS {
		if n.Client == "" {
			n.Client = NFSClientAuto
		}
		if n.Lease == 0 {
			n.Lease = Duration(DefaultNFSLease)
		}
		if n.Grace == 0 {
			n.Grace = max(Duration(DefaultNFSGrace), n.Lease)
		}
	}

	// workload
	w := &s.Workload
	if w.Mode == "" {
		w.Mode = ModePipeline
	}
	if w.Namespace == "" && k8s && pipeline {
		w.Namespace = DefaultNamespace
	}
	if w.Mode == ModeExternal && w.External.Match == "" {
		w.External.Match = MatchControlReference
	}
	if w.Mode == ModeExternal && s.Cluster.Provider == ProviderKind && w.External.Ready.Timeout == 0 {
		w.External.Ready.Timeout = Duration(DefaultReadyTimeout)
	}
	if pipeline {
		if w.Replicas.Webserver == 0 {
			w.Replicas.Webserver = DefaultWebservers
		}
		if w.Replicas.Jobqueue == nil {
			w.Replicas.Jobqueue = ptr(DefaultJobqueues)
		}
		e := &w.Engine
		if e.Schedule == "" {
			if local {
				e.Schedule = "every 1s"
			} else {
				e.Schedule = "* * * * *"
			}
		}
		if e.LeaseTTL == 0 {
			if local {
				e.LeaseTTL = Duration(3 * time.Second)
			} else {
				e.LeaseTTL = Duration(30 * time.Second)
			}
		}
		if e.Heartbeat == 0 {
			e.Heartbeat = e.LeaseTTL / 3
		}
	}
	if publish {
		p := &w.Publish
		if p.Files == 0 {
			p.Files = DefaultPublishFiles
		}
		if p.Size == 0 {
			p.Size = DefaultPublishSize
		}
		if p.Rate == 0 {
			p.Rate = DefaultPublishRate
		}
		if p.Versions == 0 {
			p.Versions = DefaultPublishVersions
		}
		if p.Consumers == 0 && local {
			p.Consumers = DefaultConsumers
		}
		if p.LoadRate == 0 {
			p.LoadRate = DefaultLoadRate
		}
	}
	tr := &w.Traffic
	if publish {
		// No uploads: the publisher is the traffic. Leave traffic empty so
		// Validate can tell it was set.
		tr = &TrafficSpec{}
	}
	if tr.Count == 0 {
		tr.Count = DefaultTrafficCount
	}
	if tr.Rate == 0 {
		tr.Rate = DefaultTrafficRate
	}
	if tr.Sizes.Min == 0 {
		tr.Sizes.Min = DefaultMinSize
	}
	if tr.Sizes.Max == 0 {
		tr.Sizes.Max = max(DefaultMaxSize, tr.Sizes.Min)
	}
	if tr.Mix == (Mix{}) {
		tr.Mix = Mix{X12: 50, Edifact: 50}
	}
	if len(tr.Routes) == 0 {
		tr.Routes = []string{DefaultRoute}
	}
	if tr.Concurrency == 0 {
		tr.Concurrency = DefaultConcurrency
	}

	// faults
	for i := range s.Faults {
		f := &s.Faults[i]
		if f.Schedule.At == nil && f.Schedule.After == "" {
			f.Schedule.After = SteadyStateAfter
		}
		if on := f.Schedule.On; on != nil {
			if on.When == "" {
				on.When = WhenAfter
			}
			if on.Nth == 0 {
				on.Nth = 1
			}
			if on.Probability == 0 {
				on.Probability = 1
			}
			if info, ok := actions[f.Action]; ok && f.Target.isZeroSelector() && f.Target.Count == 0 {
				switch info.target {
				case targetProcess:
					f.Target.Select = SelectCaller
				case targetNode:
					f.Target.Select = SelectCallerNode
				}
			}
			if f.Action == ActionPartition && f.From == "" {
				f.From = string(SelectCallerNode)
			}
		}
		if info, ok := actions[f.Action]; ok {
			if info.target != targetNone && info.target != targetEndpoints && f.Target.Count == 0 && !f.Target.isZeroSelector() {
				f.Target.Count = 1
			}
			if (f.Action == ActionPartition || f.Action == ActionChaosPartition) && f.Direction == "" {
				f.Direction = DirectionBoth
			}
			if (f.Action == ActionChaosIOLatency || f.Action == ActionChaosIOFault) && f.Percent == 0 {
				f.Percent = DefaultPercent
			}
		}
	}

	// expect
	x := &s.Expect
	if x.NoLoss == nil && !publish {
		x.NoLoss = ptr(true)
	}
	if x.NoDuplicates == nil && !publish {
		x.NoDuplicates = ptr(true)
	}
	if publish {
		pe := &x.Publish
		if pe.Monotonic == nil {
			pe.Monotonic = ptr(true)
		}
		if pe.ConvergedWithin == 0 {
			if local {
				pe.ConvergedWithin = Duration(30 * time.Second)
			} else {
				pe.ConvergedWithin = Duration(2 * time.Minute)
			}
		}
		if x.SteadyState.MinVersions == 0 {
			x.SteadyState.MinVersions = min(DefaultSteadyVersions, w.Publish.Versions)
		}
	}
	if x.LockExclusive == nil {
		x.LockExclusive = ptr(pipeline)
	}
	if pipeline && x.LockRecoveredWithin == 0 {
		x.LockRecoveredWithin = 2*w.Engine.LeaseTTL + Duration(w.Engine.period())
	}
	if k8s && x.RescheduledWithin == 0 {
		t := s.Cluster.Timings
		if t.UnreachableTolerationSeconds != nil {
			x.RescheduledWithin = t.NodeMonitorGracePeriod + Duration(time.Duration(*t.UnreachableTolerationSeconds)*time.Second) + Duration(time.Minute)
		}
	}
	if x.ReadyWithin == 0 {
		if local {
			x.ReadyWithin = Duration(10 * time.Second)
		} else {
			x.ReadyWithin = Duration(3 * time.Minute)
		}
	}
	if x.SteadyState.MinUploads == 0 && !publish {
		x.SteadyState.MinUploads = min(10, tr.Count)
	}
	if x.SteadyState.Within == 0 {
		if local {
			x.SteadyState.Within = Duration(10 * time.Second)
		} else {
			x.SteadyState.Within = Duration(2 * time.Minute)
		}
	}

	// run
	if s.Run.Timeout == 0 {
		if local {
			s.Run.Timeout = Duration(60 * time.Second)
		} else {
			s.Run.Timeout = Duration(20 * time.Minute)
		}
	}
	if s.Run.Settle == 0 {
		if local {
			s.Run.Settle = Duration(15 * time.Second)
		} else {
			s.Run.Settle = Duration(5 * time.Minute)
		}
	}
}

func (t *TargetSpec) isZeroSelector() bool { return t.Role == "" && t.Node == "" && t.Select == "" }

func ptr[T any](v T) *T { return &v }

// period is how often the engine runs: the interval of an "every"
// schedule, or one minute for cron (the finest a CronJob does). It is 0
// for schedules that do not parse.
func (e *EngineSpec) period() time.Duration {
	if d, ok := e.Interval(); ok {
		return d
	}
	if e.Schedule != "" {
		return time.Minute
	}
	return 0
}

// Interval returns the interval of an "every <duration>" schedule; ok is
// false for cron schedules.
func (e *EngineSpec) Interval() (d time.Duration, ok bool) {
	rest, found := strings.CutPrefix(e.Schedule, "every ")
	if !found {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(rest))
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

// Cron returns the schedule as a cron expression for a CronJob; ok is
// false for "every" schedules.
func (e *EngineSpec) Cron() (expr string, ok bool) {
	if e.Schedule == "" || strings.HasPrefix(e.Schedule, "every") {
		return "", false
	}
	return e.Schedule, true
}

// PublishDuration is how long publishing every version takes at the
// configured rate (versions / rate).
func (p *PublishSpec) PublishDuration() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(p.Versions) / p.Rate * float64(time.Second))
}

// WorkDuration is how long the workload's traffic lasts: uploads at their
// rate, or, for mode publish-consume, publishing every version.
func (s *Scenario) WorkDuration() time.Duration {
	if s.Workload.Mode == ModePublishConsume {
		return s.Workload.Publish.PublishDuration()
	}
	return s.Workload.Traffic.TrafficDuration()
}

// TrafficDuration is how long uploading all messages takes at the
// configured rate (count / rate).
func (t *TrafficSpec) TrafficDuration() time.Duration {
	if t.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(t.Count) / t.Rate * float64(time.Second))
}

// ResolveSeed returns the run's seed, first replacing 0 with a random
// non-zero seed and storing it in Run.Seed so that reports can record it
// and the run can be repeated.
func (s *Scenario) ResolveSeed() int64 {
	for s.Run.Seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			s.Run.Seed = time.Now().UnixNano()
			continue
		}
		s.Run.Seed = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	}
	return s.Run.Seed
}
