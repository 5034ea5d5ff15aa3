package scenario

// The doc comments in this file are also the descriptions in the JSON
// Schema returned by Schema (the file is embedded and parsed at run time),
// so write them for scenario authors: say what a field means, its default
// and its limits.

// APIVersion is the only apiVersion this package reads.
const APIVersion = "rwxchaos.dev/v1alpha1"

// KindScenario is the only kind this package reads.
const KindScenario = "Scenario"

// Scenario is one declarative chaos experiment: where to run the workload (the pipeline, or a publisher and its consumers), which faults to inject while it runs, and what must still hold afterwards.
type Scenario struct {
	// Must be "rwxchaos.dev/v1alpha1".
	APIVersion string `json:"apiVersion" scenario:"required"`
	// Must be "Scenario".
	Kind string `json:"kind" scenario:"required"`
	// Name, labels and description of the scenario.
	Metadata Metadata `json:"metadata" scenario:"required"`
	// Where the system under test runs: local processes, a kind cluster the framework creates, or an existing cluster.
	Cluster ClusterSpec `json:"cluster" scenario:"required"`
	// The ReadWriteMany volume shared by every component.
	Storage StorageSpec `json:"storage,omitzero"`
	// What runs on the cluster and the traffic fed to it.
	Workload WorkloadSpec `json:"workload,omitzero"`
	// Faults injected during the run, each with a target and a schedule.
	Faults []FaultSpec `json:"faults,omitempty"`
	// Invariants and bounds checked at the end of the run.
	Expect ExpectSpec `json:"expect,omitzero"`
	// Seed, timeout and drain time of the run.
	Run RunSpec `json:"run,omitzero"`

	file string
	pos  map[string]position
}

// Metadata names and describes a scenario.
type Metadata struct {
	// Scenario name used in reports and cluster object names: a DNS label (lowercase letters, digits and '-', starting with a letter, at most 63 characters).
	Name string `json:"name" scenario:"required,pattern=dnsLabel"`
	// Free-form key/value tags for selecting scenarios, for example tier: smoke. Keys and values: letters, digits, '-', '_', '.' and '/' (keys), at most 63 characters per value.
	Labels map[string]string `json:"labels,omitempty"`
	// What the scenario tests and why it matters.
	Description string `json:"description,omitempty"`
}

// ClusterSpec says where the system under test runs.
type ClusterSpec struct {
	// local: the pipeline's services as local processes sharing one directory (single host, no Kubernetes). kind: a kind cluster created (or reused) by the framework. existing: a cluster you already have, reached through a kubeconfig.
	Provider Provider `json:"provider" scenario:"required"`
	// Settings for provider kind; not allowed with other providers.
	Kind KindCluster `json:"kind,omitzero"`
	// Settings for provider existing (namespaces is required); not allowed with other providers.
	Existing ExistingCluster `json:"existing,omitzero"`
	// Kubernetes failure-detection timings. With provider kind they are applied to the cluster; with provider existing they describe the cluster and are used to derive default expectations. Not allowed with provider local.
	Timings Timings `json:"timings,omitzero"`
}

// KindCluster configures the kind cluster the framework creates.
type KindCluster struct {
	// Number of worker nodes besides the control plane. Default 3; 1 to 10.
	Workers int `json:"workers,omitempty" scenario:"min=1,max=10"`
	// Reuse a running cluster of the same name instead of creating a fresh one (faster, less isolated). Default false.
	Reuse bool `json:"reuse,omitempty"`
	// Needs a cluster of its own: suites that run many kind scenarios on one shared cluster (reset between scenarios) create a new cluster for this scenario and delete it afterwards. Set it when the scenario changes the cluster in ways a reset cannot undo. Default false. Not with reuse.
	Fresh bool `json:"fresh,omitempty"`
	// Cluster name, a DNS label; nodes are named <name>-control-plane, <name>-worker, <name>-worker2, ... (scenario files still address them as control-plane, worker-1, worker-2, ...). Default "rwxchaos".
	Name string `json:"name,omitempty" scenario:"pattern=dnsLabel"`
}

// ExistingCluster points at a cluster the framework does not own.
type ExistingCluster struct {
	// Path of the kubeconfig file. Default: $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Kubeconfig context to use. Default: the current context.
	Context string `json:"context,omitempty"`
	// The only namespaces the framework may create, change or inject faults into. Required, at least one; the workload namespace must be one of them.
	Namespaces []string `json:"namespaces,omitempty"`
}

// Timings are the Kubernetes settings that decide how fast a failed node's pods move.
type Timings struct {
	// How long the node controller waits for a silent node before marking it NotReady/Unknown (kube-controller-manager --node-monitor-grace-period). At least 10s. Default 20s with kind; 50s with existing (the Kubernetes default since 1.32; 40s before).
	NodeMonitorGracePeriod Duration `json:"nodeMonitorGracePeriod,omitempty"`
	// Seconds pods tolerate a NotReady node before eviction (node.kubernetes.io/not-ready toleration); 0 evicts at once. Default 30 with kind; 300 (the Kubernetes default) with existing.
	NotReadyTolerationSeconds *int64 `json:"notReadyTolerationSeconds,omitempty" scenario:"min=0,max=86400"`
	// Seconds pods tolerate an unreachable node before eviction (node.kubernetes.io/unreachable toleration); 0 evicts at once. Default 30 with kind; 300 (the Kubernetes default) with existing.
	UnreachableTolerationSeconds *int64 `json:"unreachableTolerationSeconds,omitempty" scenario:"min=0,max=86400"`
}

// StorageSpec configures the shared ReadWriteMany volume.
type StorageSpec struct {
	// hostpath: a host directory shared into every kind node. fuse: a userspace go-fuse file server (can be paused, killed, cut off). nfs: an nfs-ganesha server. storageclass: an existing StorageClass (storageClassName required). local: a plain directory, for provider local. Default: local for provider local, hostpath for kind, storageclass for existing.
	Backend Backend `json:"backend,omitempty"`
	// StorageClass to provision the volume from; required with backend storageclass (unless the workload is external and brings its own PVC), not allowed otherwise.
	StorageClassName string `json:"storageClassName,omitempty" scenario:"pattern=dnsSubdomain"`
	// NFS mount options, one per entry, for example nfsvers=4.1, hard, timeo=600, actimeo=0. Only for backends nfs and storageclass.
	MountOptions []string `json:"mountOptions,omitempty"`
	// Requested volume size as a Kubernetes quantity such as 1Gi. Default 1Gi.
	Size string `json:"size,omitempty" scenario:"pattern=quantity"`
	// The NFS server and clients of backend nfs; only for backend nfs.
	NFS NFSSpec `json:"nfs,omitzero"`
}

// NFSSpec configures backend nfs: the nfs-ganesha server the framework runs beside the cluster (a container on the nodes' network, NFSv4 only) and the NFS client on every node.
type NFSSpec struct {
	// Which NFS client mounts the export on the nodes. kernel: the host kernel's client (an in-tree nfs volume mounted by the kubelet with mountOptions); needs a kernel with NFS (CONFIG_NFS_FS), which this run's host may lack: the run is then void with the reason, never a pass. userspace: the framework's NFSv4.1 client (rwxchaos __nfs-mount), run under systemd inside every node and mounted with FUSE (works on any kernel with FUSE); it honours only nfsvers=4.1, hard, actimeo and noac. auto: kernel where the host has an NFS client, else userspace. The report says which one ran. Default auto.
	Client NFSClient `json:"client,omitempty"`
	// The server's NFSv4 lease lifetime: a client that does not renew its lease for this long (plus the server's reaper period, about 5s) loses its opens and locks to the others. Default 90s (Linux nfsd's); whole seconds from 1s to 180s.
	Lease Duration `json:"lease,omitempty"`
	// The server's grace period after a restart: clients reclaim their locks while new opens and locks are refused. Default 90s, or lease when that is longer; whole seconds, at least lease and at most 180s.
	Grace Duration `json:"grace,omitempty"`
	// What a client does with a lock the server revoked (its lease expired during a partition, or the server refused its reclaim after a restart). false, Linux's default (nfs.recover_lost_locks=0): reads and writes on that file fail with EIO. true: the client takes the lock again and carries on as if nothing happened, although another client may have held the lock and changed the file meanwhile (silent split brain). Default false.
	RecoverLostLocks bool `json:"recoverLostLocks,omitempty"`
}

// WorkloadSpec says what runs and what traffic it gets.
type WorkloadSpec struct {
	// pipeline: the framework deploys its own Bots-like pipeline (webserver, engine CronJob, jobqueue). external: your own application (for example real Bots), described under external: already deployed (provider existing), or deployed by the framework from its manifests (provider kind). publish-consume: the framework deploys a publisher that writes numbered versions of generated files and consumers that load them on every node, described under publish (providers local and kind). Default pipeline.
	Mode WorkloadMode `json:"mode,omitempty"`
	// Kubernetes namespace of the workload. Default "rwxchaos" for pipeline; required for external; not allowed with provider local or mode publish-consume (kind runs it in a namespace of its own).
	Namespace string `json:"namespace,omitempty" scenario:"pattern=dnsLabel"`
	// Your application; required with mode external, not allowed with pipeline.
	External ExternalSpec `json:"external,omitzero"`
	// Replica counts of the pipeline's services.
	Replicas Replicas `json:"replicas,omitzero"`
	// The engine that moves files input -> work -> output under a lock on the shared volume. Only for mode pipeline.
	Engine EngineSpec `json:"engine,omitzero"`
	// The EDI messages uploaded during the run. Not for mode publish-consume.
	Traffic TrafficSpec `json:"traffic,omitzero"`
	// The publisher and its consumers; only for mode publish-consume.
	Publish PublishSpec `json:"publish,omitzero"`
	// Known bugs to switch on, to prove the checks catch them. Mode pipeline: remove-after-copy, non-atomic-output, no-lock, append-output, steal-live-lock, ack-before-fsync, ignore-lock-loss. Mode publish-consume: publish-in-place, rename-without-fsync.
	Defects []Defect `json:"defects,omitempty"`
}

// PublishSpec configures the publish/consume workload: a publisher writes version N of every file each round (temp file, fsync, rename, directory fsync; each file carries its version, length and checksum in a header) and consumers load every file (open, read fully, verify) at loadRate, journaling the version seen.
type PublishSpec struct {
	// Generated files the publisher writes every round. Default 4; 1 to 100.
	Files int `json:"files,omitempty" scenario:"min=1,max=100"`
	// Body size of every file in bytes. Default 16384; 256 to 16777216.
	Size int `json:"size,omitempty" scenario:"min=256,max=16777216"`
	// Rounds per second; each round publishes the next version of every file. Default 5; more than 0, at most 100.
	Rate float64 `json:"rate,omitempty" scenario:"positive,max=100"`
	// Versions to publish (versions / rate is how long publishing lasts); the publisher then idles while the consumers catch up. Default 100; 1 to 1000000.
	Versions int `json:"versions,omitempty" scenario:"min=1,max=1000000"`
	// How long writing one file takes: the publisher spreads the write over 4 KiB chunks, like a generator that renders as it writes. With the safe pattern nobody sees it; with defect publish-in-place it is the window in which consumers load torn files. Default 0; at most 10s and less than a round (1/rate).
	WriteTime Duration `json:"writeTime,omitempty"`
	// Consumer processes with provider local, each standing for a node (named <host>-c<i>). Not allowed with kind, which runs one consumer on every worker (a DaemonSet). Default 3; 1 to 20.
	Consumers int `json:"consumers,omitempty" scenario:"min=1,max=20"`
	// Loads of every file per second by every consumer (each load opens, reads and verifies the file). Default 10; more than 0, at most 1000.
	LoadRate float64 `json:"loadRate,omitempty" scenario:"positive,max=1000"`
}

// ExternalSpec describes an application the framework did not write: already deployed on an existing cluster, or deployed by the framework from the team's own manifests on a kind cluster.
type ExternalSpec struct {
	// Name of the application's ReadWriteMany PersistentVolumeClaim. Required. With provider kind it is the claim in the manifests that the framework binds to the run's volume (hostpath, fuse or nfs backend); if the manifests hold no claim of that name, the framework creates it.
	PVC string `json:"pvc,omitempty" scenario:"pattern=dnsSubdomain"`
	// Directory inside the volume where the framework drops input files. Required; relative to the volume root.
	InputPath string `json:"inputPath,omitempty"`
	// Directory inside the volume where the application writes its output. Required; relative to the volume root.
	OutputPath string `json:"outputPath,omitempty"`
	// Where the volume is mounted inside the application's pods; required by chaos-io-* faults.
	MountPath string `json:"mountPath,omitempty"`
	// Pod label selectors by role name, used to find targets: webserver, engine and jobqueue have their usual meaning (engine-node is the node of an engine pod, or else of a jobqueue pod; random-webserver picks a webserver); any other name (a DNS label) is a role of your own for target.role and partition from/to. A fault on a role needs its selector.
	Selectors RoleSelectors `json:"selectors,omitempty"`
	// How output files are matched to inputs: controlReference (interchange control number, ISA13 / UNB 0020), filename, or contentHash. Default controlReference.
	Match MatchRule `json:"match,omitempty"`
	// Provider kind only: a file on the volume (relative to its root) in which the app names its current lock holder, the holder's pod name as the first word. It lets faults select lock-holder (the node of that pod); without it the framework cannot see an external app's lock.
	HolderFile string `json:"holderFile,omitempty"`
	// Provider kind only (required there): the application's manifests, applied into workload.namespace of the run's cluster. Each entry is a kustomization directory (rendered in-process, like kubectl kustomize) or a YAML file of manifests, relative to the scenario file. Namespaces in them are replaced by workload.namespace; kinds the cluster does not serve (an Ingress controller's or cert-manager's resources) are skipped and listed in the run log.
	Manifests []string `json:"manifests,omitempty"`
	// Provider kind only: images loaded into every node before the manifests are applied (the nodes pull nothing). Containers using a loaded image get imagePullPolicy IfNotPresent.
	Images []ImageSpec `json:"images,omitempty"`
	// Provider kind only: when the application counts as ready after its manifests are applied.
	Ready ReadySpec `json:"ready,omitzero"`
	// How uploads reach the app. Default: each interchange is dropped into inputPath (written under a temporary name outside it, fsynced, renamed into it). Provider kind only: an app with an HTTP upload endpoint gets a POST there instead.
	Upload UploadSpec `json:"upload,omitzero"`
}

// UploadSpec names an app's HTTP upload endpoint.
type UploadSpec struct {
	// The app's Service that takes uploads, reached through the API server's service proxy.
	Service string `json:"service,omitempty" scenario:"pattern=dnsLabel"`
	// The Service's port, by name or number. Required with service.
	Port string `json:"port,omitempty"`
	// The request path, for example /upload. Required with service. The interchange is the request body; its file name goes in ?filename= and in a Content-Disposition header; any 2xx answer is an ack. inputPath still says where uploads wait to be processed (files left there are stuck).
	Path string `json:"path,omitempty"`
}

// ImageSpec is one image to load into the kind nodes: exactly one of docker, archive and lab.
type ImageSpec struct {
	// A local docker image reference, for example bots-edi:dev.
	Docker string `json:"docker,omitempty"`
	// An image archive written by docker save (optionally gzipped), relative to the scenario file.
	Archive string `json:"archive,omitempty"`
	// One of the lab's images (make lab): toolbox (busybox) or pipeline (edi-pipeline).
	Lab LabImage `json:"lab,omitempty"`
	// Also load the image under this reference, the one the manifests use (a registry name, a :latest tag), so they run unchanged. Not with archive.
	As string `json:"as,omitempty"`
}

// ReadySpec says when a deployed application is ready for traffic.
type ReadySpec struct {
	// CronJobs of the manifests (by name) to wait for until each has started a Job whose pod runs or ran. Without it, an app whose engine is a CronJob gets traffic before its first engine run. Default none.
	CronJobs []string `json:"cronJobs,omitempty"`
	// How long to wait after applying the manifests for every Deployment, StatefulSet and DaemonSet to be available, every Job of the manifests to succeed and the cronJobs to have run. Default 5m.
	Timeout Duration `json:"timeout,omitempty"`
}

// RoleSelectors maps a role name to the labels of its pods.
type RoleSelectors map[string]map[string]string

// Of returns the labels of a role's pods (nil when the role has no selector).
func (r RoleSelectors) Of(role Role) map[string]string { return r[string(role)] }

// Replicas are the pipeline's replica counts.
type Replicas struct {
	// Webserver replicas (processes with provider local). Default 3; 1 to 10.
	Webserver int `json:"webserver,omitempty" scenario:"min=1,max=10"`
	// Jobqueue replicas: 1, or 0 to run without a jobqueue. Default 1.
	Jobqueue *int `json:"jobqueue,omitempty" scenario:"min=0,max=1"`
}

// EngineSpec configures the engine.
type EngineSpec struct {
	// When the engine runs: a 5-field cron expression ("* * * * *", also @hourly etc.) for the CronJob, or "every <duration>" such as "every 1s". Provider local needs an interval; Kubernetes providers need cron (a CronJob runs at most once a minute). Default "every 1s" for local, "* * * * *" otherwise.
	Schedule string `json:"schedule,omitzero"`
	// How long the engine lock stays valid without a heartbeat; a crashed holder's lock can be taken over after this. Default 3s for local, 30s otherwise.
	LeaseTTL Duration `json:"leaseTTL,omitempty"`
	// How often the lock holder renews its lease; at most half of leaseTTL. Default leaseTTL/3.
	Heartbeat Duration `json:"heartbeat,omitempty"`
	// A pause the engine takes at every step of every file (claim, output, done): a test knob that keeps the engine busy so a fault lands mid-run, holding the lock. Default 0 (off).
	StepDelay Duration `json:"stepDelay,omitempty"`
}

// TrafficSpec describes the uploaded messages.
type TrafficSpec struct {
	// Number of messages to upload. Default 300; 1 to 1000000.
	Count int `json:"count,omitempty" scenario:"min=1,max=1000000"`
	// Uploads per second across all clients. Default 30; more than 0, at most 10000.
	Rate float64 `json:"rate,omitempty" scenario:"positive,max=10000"`
	// Message size range in bytes.
	Sizes SizeRange `json:"sizes,omitzero"`
	// Share of each EDI syntax, in percent; must sum to 100. Default 50/50.
	Mix Mix `json:"mix,omitzero"`
	// Bots routes the messages are spread over, round-robin. Names: letters, digits, '_', '-', '.'. Default ["default"].
	Routes []string `json:"routes,omitempty"`
	// Concurrent upload clients. Default 4; 1 to 256.
	Concurrency int `json:"concurrency,omitempty" scenario:"min=1,max=256"`
}

// SizeRange bounds message sizes.
type SizeRange struct {
	// Smallest message in bytes. Default 256; at least 64 (an EDI envelope needs room).
	Min int `json:"min,omitempty" scenario:"min=64,max=67108864"`
	// Largest message in bytes, at least min. Default 4096; at most 67108864 (64 MiB).
	Max int `json:"max,omitempty" scenario:"min=64,max=67108864"`
}

// Mix is the share of each EDI syntax in percent.
type Mix struct {
	// Percent of X12 interchanges (ISA/IEA). 0 to 100.
	X12 int `json:"x12,omitempty" scenario:"min=0,max=100"`
	// Percent of EDIFACT interchanges (UNB/UNZ). 0 to 100.
	Edifact int `json:"edifact,omitempty" scenario:"min=0,max=100"`
}

// FaultSpec is one fault: what to do, to what, and when.
type FaultSpec struct {
	// Unique name of the fault, a DNS label; other faults refer to it with schedule.after. "steady-state" is reserved.
	Name string `json:"name" scenario:"required,pattern=dnsLabel"`
	// What to do. Process level (provider local; on kind only process-kill and process-pause of select caller, with schedule.on): process-kill (SIGKILL; the supervisor or Kubernetes restarts it), process-pause (SIGSTOP, SIGCONT after duration), process-restart (graceful stop, start after duration). Node level (kind): node-kill, node-stop (down for duration, then started again; 0 = started again at once, which Kubernetes may not even notice), node-pause (frozen for duration), node-reboot. Network (kind): partition (from/to, for duration). Storage server (backend fuse; on kind also nfs): storage-pause, storage-kill (down for duration), storage-restart; storage-cutoff (kind, backend nfs) cuts the target node off the storage for duration. The triggering call only (backend fuse, needs schedule.on): storage-error (the call fails with errno), storage-delay (the call is held for duration). Chaos Mesh (provider existing): chaos-pod-kill, chaos-pod-failure, chaos-partition, chaos-io-latency, chaos-io-fault.
	Action Action `json:"action" scenario:"required"`
	// What the action hits. Required for process-*, node-*, storage-cutoff and chaos-*; not allowed for partition (use from/to) or storage-pause/kill/restart (they hit the storage server).
	Target TargetSpec `json:"target,omitzero"`
	// partition only: one side of the cut: control-plane, nodes (all workers), storage (the nfs server), a worker by index (worker-1, worker-2, ...), engine-node, lock-holder, random-worker, random-webserver, or a role name (webserver, engine, jobqueue, or a role of workload.external.selectors: the node running a pod of it).
	From string `json:"from,omitempty"`
	// partition: the other side of the cut (same values as from). chaos-partition: the role the target is cut off from (webserver, engine or jobqueue).
	To string `json:"to,omitempty"`
	// partition and chaos-partition: which packets are dropped, seen from the "from" side (or the target): both, ingress or egress. Default both.
	Direction Direction `json:"direction,omitempty"`
	// When the fault fires. Default: right after steady state is reached (after: steady-state).
	Schedule ScheduleSpec `json:"schedule,omitzero"`
	// How long the fault lasts before it is healed. 0 means an instant action (kill, reboot, restart). Required (more than 0) for pause, partition, cutoff, storage-kill, storage-delay, chaos-pod-failure, chaos-partition and chaos-io-*; must be 0 for process-kill, node-reboot, storage-restart, storage-error and chaos-pod-kill.
	Duration Duration `json:"duration,omitempty"`
	// chaos-io-latency only: delay added to each file operation. Required.
	Latency Duration `json:"latency,omitempty"`
	// chaos-io-fault and storage-error: errno returned by the failed file operations, for example 5 (EIO) or 28 (ENOSPC). Required; 1 to 133.
	Errno int `json:"errno,omitempty" scenario:"min=1,max=133"`
	// chaos-io-latency and chaos-io-fault: percent of file operations affected. Default 100; 1 to 100.
	Percent int `json:"percent,omitempty" scenario:"min=1,max=100"`
}

// TargetSpec selects what a fault hits: exactly one of role, node and select.
type TargetSpec struct {
	// Pods (or local processes) of a role: webserver, engine or jobqueue (mode pipeline), publisher or consumer (mode publish-consume), or with mode external any role named in workload.external.selectors. The engine is a CronJob: a fault on it waits for the next engine run. For process-* and chaos-* actions, and with provider kind for node-* actions (the node running a pod of the role; count nodes).
	Role Role `json:"role,omitempty" scenario:"pattern=dnsLabel"`
	// A node by role and index, for node-* and storage-cutoff: control-plane, worker-1, worker-2, ... up to cluster.kind.workers. Never a name a cluster generated (rwxchaos-worker2): a run's nodes are named after its own cluster.
	Node string `json:"node,omitempty"`
	// Chosen at fault time: engine-node (node running the engine), lock-holder (node or process holding the engine lock; pipeline, or an external app with holderFile), random-worker (a worker node chosen with the run's seed), random-webserver (a webserver, or the node running one), caller (the process or pod whose file operation fired schedule.on; the default target of process actions with schedule.on), caller-node (its node; the default of node actions with schedule.on), publisher-node (node running the publisher; publish-consume only), consumer-node (a node running a consumer but not the publisher, chosen with the run's seed; publish-consume only).
	Select Selector `json:"select,omitempty"`
	// How many to hit. Default 1; at most the number available (replicas for a role, workers for random-worker); must be 1 with node, lock-holder, engine-node, publisher-node, caller and caller-node.
	Count int `json:"count,omitempty" scenario:"min=1,max=100"`
}

// ScheduleSpec says when a fault fires: at a time, or, with on, at a file operation of the application. No fault fires before steady state (traffic flowing, see expect.steadyState); at is a delay from there, or from the end of the fault named in after.
type ScheduleSpec struct {
	// Fire when the application makes a matching file operation on the volume, instead of at a time; at and after then say when the trigger is armed. Needs a storage layer the framework runs in every file operation's path: storage backend fuse, or on kind backend nfs with storage.nfs.client userspace.
	On *OnSpec `json:"on,omitempty"`
	// Delay before the first firing, for example 5s: counted from steady state, or, with after, from the moment that fault has finished. Default 0.
	At *Duration `json:"at,omitempty"`
	// Wait until this fault has finished (healed after its last firing) before counting at. "steady-state" (the default) waits only for steady state.
	After string `json:"after,omitempty"`
	// Provider kind: fire only while a pod of this role runs, waiting for one (up to 5 minutes) once at and after are due; for example storage-pause while the engine runs. A role as in target.role.
	WhileRunning Role `json:"whileRunning,omitempty" scenario:"pattern=dnsLabel"`
	// Pause between the end (heal) of one firing and the start of the next. Needs times. Not with on (on.every counts calls instead).
	Every Duration `json:"every,omitempty"`
	// How many times to fire in total; needs every (or on.every). 1 to 1000.
	Times int `json:"times,omitempty" scenario:"min=1,max=1000"`
}

// OnSpec aims a fault at a file operation: the storage layer holds the matching call while the fault is injected, so the application cannot run past the moment (a kill lands with the call's reply withheld). The run records the operation (path, caller, time) next to the fault.
type OnSpec struct {
	// The file operation: close-write (close of a file opened for writing), rename, unlink, fsync, lock or unlock. Required.
	Op FileOp `json:"op" scenario:"required"`
	// Which files, as a glob relative to the volume root: * and ? within a path element, ** for any number of elements, for example botssys/outfile/**/*.json. For rename the old and the new name are matched. Required.
	Path string `json:"path" scenario:"required"`
	// Only calls made by processes (or pods) of this role: webserver, engine or jobqueue. Default: any caller.
	By Role `json:"by,omitempty"`
	// before: the fault lands before the operation is performed (a kill: it never happens); after: once performed, before the caller sees its result. Default after.
	When When `json:"when,omitempty"`
	// Fire at the nth eligible call (matching, by the role, after the trigger is armed, while no firing of this fault is in progress). Default 1.
	Nth int `json:"nth,omitempty" scenario:"min=1,max=1000000"`
	// After the first firing, fire again at every every-th eligible call, up to schedule.times firings. Default: fire once.
	Every int `json:"every,omitempty" scenario:"min=1,max=1000000"`
	// Chance that a call due to fire does fire, drawn from run.seed (the same seed fires at the same calls). More than 0, at most 1. Default 1.
	Probability float64 `json:"probability,omitempty" scenario:"positive,max=1"`
}

// ExpectSpec lists what must hold at the end of the run.
type ExpectSpec struct {
	// Every accepted upload ends up in the output. Default true; not for mode publish-consume.
	NoLoss *bool `json:"noLoss,omitempty"`
	// No upload is translated or delivered twice. Default true; not for mode publish-consume.
	NoDuplicates *bool `json:"noDuplicates,omitempty"`
	// At no time do two engines hold the lock (checked from the lock journal). Default true for pipeline; needs mode pipeline.
	LockExclusive *bool `json:"lockExclusive,omitempty"`
	// After the lock holder dies or freezes, another engine takes the lock within this. Default 2 x leaseTTL + one engine period. Only for mode pipeline.
	LockRecoveredWithin Duration `json:"lockRecoveredWithin,omitempty"`
	// After a node fails, its pods are running elsewhere within this. Default nodeMonitorGracePeriod + unreachableTolerationSeconds + 60s. Not for provider local.
	RescheduledWithin Duration `json:"rescheduledWithin,omitempty"`
	// After a fault heals, every service is ready and serving again within this. Default 10s for local, 3m otherwise.
	ReadyWithin Duration `json:"readyWithin,omitempty"`
	// Files allowed to be left in input/ or work/ after the settle time. Default 0.
	MaxStuck int `json:"maxStuck,omitempty" scenario:"min=0,max=1000000"`
	// Uploads allowed to end with an unknown outcome (client got no answer and no output exists). Default: not bounded (they are counted and shown; a cut connection leaves an outcome unknown by nature); 0 demands none.
	MaxIndeterminate *int `json:"maxIndeterminate,omitempty" scenario:"min=0,max=1000000"`
	// Upper bound on the 99th percentile of upload-to-output latency. Default 0: not checked.
	LatencyP99 Duration `json:"latencyP99,omitempty"`
	// Traffic must flow before any fault fires, or the run is void (not failed).
	SteadyState SteadyStateSpec `json:"steadyState,omitzero"`
	// What must hold for the publish/consume workload; only for mode publish-consume.
	Publish PublishExpect `json:"publish,omitzero"`
}

// PublishExpect lists what must hold for the publish/consume workload. Torn loads, versions that differ from what was published, and a consumer that never loads the last version always fail the run.
type PublishExpect struct {
	// Bound on how long a published version may stay invisible: no consumer load called more than this after a version's publish returned (less the clocks' uncertainty) may still return an older version of that file. A consumer that loads nothing for a while (its host is slow) is not late by this bound; the lag from the publish to each consumer's first load of the version is reported beside it. Versions whose way to visibility overlaps a fault, or a consumer's recovery from it (until it first loads a version published after the heal), are judged by convergedWithin instead. Default 0: measured and reported, not bounded.
	VisibleWithin Duration `json:"visibleWithin,omitempty"`
	// After the last fault heals (or the last version is published, if later), every consumer loads the last version of every file within this. Default 30s for local, 2m otherwise.
	ConvergedWithin Duration `json:"convergedWithin,omitempty"`
	// Loads allowed to read a torn file (empty, short, too long or checksum mismatch). Default 0.
	MaxTorn int `json:"maxTorn,omitempty" scenario:"min=0,max=1000000"`
	// No consumer loads an older version of a file after a newer one. Default true.
	Monotonic *bool `json:"monotonic,omitempty"`
	// Failed loads allowed (ENOENT, EIO, ESTALE, ENOTCONN, …; torn loads are counted by maxTorn). Default: not limited, only counted by errno.
	MaxLoadErrors *int `json:"maxLoadErrors,omitempty" scenario:"min=0,max=1000000"`
}

// SteadyStateSpec defines "traffic flows".
type SteadyStateSpec struct {
	// Uploads that must be acknowledged (the webserver answered 2xx) before the first fault. Default the smaller of 10 and traffic.count; at most traffic.count. Not for mode publish-consume.
	MinUploads int `json:"minUploads,omitempty" scenario:"min=1,max=1000000"`
	// Mode publish-consume: versions of every file that must be published, and loaded by every consumer, before the first fault. Default the smaller of 3 and publish.versions; at most publish.versions.
	MinVersions int `json:"minVersions,omitempty" scenario:"min=1,max=1000000"`
	// Time from traffic start to reach minUploads (or minVersions), else the run is void. Default 10s for local, 2m otherwise.
	Within Duration `json:"within,omitempty"`
}

// RunSpec controls the run itself.
type RunSpec struct {
	// Seed for every random choice (traffic, random-* targets). 0 picks a random seed, which is recorded in the report so the run can be repeated.
	Seed int64 `json:"seed,omitempty"`
	// Hard limit for the whole run; must leave room for the traffic (count / rate, or publish.versions / publish.rate) plus settle. Default 60s for local, 20m otherwise.
	Timeout Duration `json:"timeout,omitempty"`
	// How long to wait after the traffic ends for the pipeline to drain (or every consumer to load the last version) before checking. Default 15s for local, 5m otherwise.
	Settle Duration `json:"settle,omitempty"`
}
