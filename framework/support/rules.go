package support

// Reasons shared by several rules. Each says why, then what to do instead.
const (
	noNodesLocal      = "provider local runs processes on one host and has no nodes: use provider kind"
	noNodeAccess      = "the framework has no access to an existing cluster's nodes: use chaos-pod-kill, chaos-pod-failure or chaos-partition"
	podsOnlyExisting  = "Chaos Mesh faults target pods: use target.role or select random-webserver"
	chaosOnlyExisting = "Chaos Mesh objects are only created on an existing cluster: use provider existing (on kind use node-*, partition or storage-* faults; locally process-* faults)"
	noStorageServer   = "the framework does not run an existing cluster's storage server: use chaos-io-fault or chaos-io-latency"
	kindNoProcess     = "the kind provider does not signal processes inside pods: use node-* faults on kind, or provider local for process faults"
	localNeedsFuse    = "the storage server to fail is the go-fuse file server: use storage backend fuse (backend local is a plain directory with no server)"
	kindNeedsFuse     = "the storage server to fail is the go-fuse file server or the nfs-ganesha container: use storage backend fuse or nfs (hostpath has no server)"
	existingBackend   = "an existing cluster's shared volume comes from a StorageClass: use backend storageclass with storageClassName"

	// Faults fired by file operations (schedule.on) need a storage layer
	// the framework runs in the path of every file operation, that sees
	// the caller and can hold the call: the go-fuse file server (backend
	// fuse) or, on kind, the userspace NFS client's FUSE layer (backend
	// nfs, client userspace). Every other backend, by why it has none.
	triggerLocalDir     = "backend local is a plain directory served by the kernel, so no file operation passes through the framework: use storage backend fuse"
	triggerHostPath     = "a hostPath volume is served by the host kernel, so no file operation passes through the framework: use storage backend fuse"
	triggerKernelNFS    = "with the kernel NFS client the framework sees NFS calls, not which process made them: use storage backend fuse, or (provider kind) storage.nfs.client userspace"
	triggerNFSAuto      = "storage.nfs.client auto takes the kernel's NFS client where the host has one, and the kernel client reports no file operations: set storage.nfs.client userspace (the framework's client over FUSE reports them)"
	triggerStorageClass = "the volume is served by the StorageClass's driver, which the framework is not part of: use storage backend fuse"
	triggerNoLayer      = "only the go-fuse file server sees every file operation with its caller and can hold it: use storage backend fuse"
	triggerExisting     = "on an existing cluster the volume is served by the cluster's own storage, which the framework is not part of: fire faults on a schedule (at, after, every) instead of schedule.on"
	callOnlyFuse        = "it answers the triggering file operation itself, in the go-fuse file server: use storage backend fuse (with schedule.on)"
	callExisting        = "the framework is not in the path of an existing cluster's file operations: use chaos-io-fault (an errno) or chaos-io-latency"

	// The publish/consume workload (mode publish-consume).
	publishNoNodesLocal = "provider local has no nodes: the publisher and each consumer are processes; use role publisher or role consumer"
	publishExisting     = "rwxchaos deploys only the pipeline into an existing cluster, not the publisher and consumers: use provider kind, or local"
)

// The table. Keep one block per provider, in the order of the scenario
// enums; TestTableComplete (framework/scenario) fails when a backend,
// action or selector is missing for a provider, or when schedule.on
// (FeatureTrigger) is undecided for a provider and backend.
var table = []Rule{
	// Every provider.
	{Kind: FeatureSelect, Name: "lock-holder", When: []string{"defect=no-lock"},
		No: "defect no-lock runs the engine without taking the lock, so there is no lock holder to select: target role engine instead"},

	// ---- local: processes on one host -------------------------------
	{Provider: Local, Kind: FeatureProvider, Name: Local},
	{Provider: Local, Kind: FeatureMode, Name: "publish-consume"},

	{Provider: Local, Kind: FeatureBackend, Name: "local"},
	{Provider: Local, Kind: FeatureBackend, Name: "fuse", Needs: []*Capability{FuseMount}},
	{Provider: Local, Kind: FeatureBackend, Name: "hostpath", No: "backend hostpath shares a host directory into kind nodes: use provider kind, or backend local"},
	{Provider: Local, Kind: FeatureBackend, Name: "nfs", No: "provider local never mounts NFS (it shares a plain directory or serves it with the go-fuse server): use backend fuse for a storage server to fail, or provider kind"},
	{Provider: Local, Kind: FeatureBackend, Name: "storageclass", No: "backend storageclass needs Kubernetes: use provider existing"},

	{Provider: Local, Kind: FeatureAction, Name: "process-kill"},
	{Provider: Local, Kind: FeatureAction, Name: "process-pause"},
	{Provider: Local, Kind: FeatureAction, Name: "process-restart"},
	{Provider: Local, Kind: FeatureAction, Name: "node-kill", No: noNodesLocal},
	{Provider: Local, Kind: FeatureAction, Name: "node-stop", No: noNodesLocal},
	{Provider: Local, Kind: FeatureAction, Name: "node-pause", No: noNodesLocal},
	{Provider: Local, Kind: FeatureAction, Name: "node-reboot", No: noNodesLocal},
	{Provider: Local, Kind: FeatureAction, Name: "partition", No: "processes on one host share no network to partition: use provider kind"},
	{Provider: Local, Kind: FeatureAction, Name: "storage-pause", No: localNeedsFuse},
	{Provider: Local, Kind: FeatureAction, Name: "storage-pause", When: []string{"backend=fuse"}},
	{Provider: Local, Kind: FeatureAction, Name: "storage-kill", No: localNeedsFuse},
	{Provider: Local, Kind: FeatureAction, Name: "storage-kill", When: []string{"backend=fuse"}},
	{Provider: Local, Kind: FeatureAction, Name: "storage-restart", No: localNeedsFuse},
	{Provider: Local, Kind: FeatureAction, Name: "storage-restart", When: []string{"backend=fuse"}},
	{Provider: Local, Kind: FeatureAction, Name: "storage-cutoff", No: "cutting one node off the storage needs nodes: use provider kind"},
	{Provider: Local, Kind: FeatureAction, Name: "storage-error", No: callOnlyFuse},
	{Provider: Local, Kind: FeatureAction, Name: "storage-error", When: []string{"backend=fuse"}},
	{Provider: Local, Kind: FeatureAction, Name: "storage-delay", No: callOnlyFuse},
	{Provider: Local, Kind: FeatureAction, Name: "storage-delay", When: []string{"backend=fuse"}},
	{Provider: Local, Kind: FeatureAction, Name: "chaos-pod-kill", No: chaosOnlyExisting},
	{Provider: Local, Kind: FeatureAction, Name: "chaos-pod-failure", No: chaosOnlyExisting},
	{Provider: Local, Kind: FeatureAction, Name: "chaos-partition", No: chaosOnlyExisting},
	{Provider: Local, Kind: FeatureAction, Name: "chaos-io-latency", No: chaosOnlyExisting},
	{Provider: Local, Kind: FeatureAction, Name: "chaos-io-fault", No: chaosOnlyExisting},

	{Provider: Local, Kind: FeatureSelect, Name: "engine-node", No: "provider local has no nodes: use select lock-holder or role engine"},
	{Provider: Local, Kind: FeatureSelect, Name: "lock-holder"},
	{Provider: Local, Kind: FeatureSelect, Name: "lock-holder", When: []string{"action=process-restart"},
		No: "engine runs are not restarted (the schedule starts the next one): use process-kill or process-pause on the lock holder"},
	{Provider: Local, Kind: FeatureSelect, Name: "random-worker", No: "provider local has no worker nodes: use select random-webserver or a role"},
	{Provider: Local, Kind: FeatureSelect, Name: "random-webserver"},
	{Provider: Local, Kind: FeatureSelect, Name: "caller"},
	{Provider: Local, Kind: FeatureSelect, Name: "caller-node", No: "provider local has no nodes: use select caller (the process that made the call)"},
	{Provider: Local, Kind: FeatureSelect, Name: "publisher-node", No: publishNoNodesLocal},
	{Provider: Local, Kind: FeatureSelect, Name: "consumer-node", No: publishNoNodesLocal},

	{Provider: Local, Kind: FeatureRole, Name: "engine", When: []string{"action=process-restart"},
		No: "engine runs are not restarted (the schedule starts the next one): use process-kill or process-pause"},

	{Provider: Local, Kind: FeatureExpect, Name: "rescheduledWithin", No: "provider local has no nodes to reschedule from: remove it"},

	{Provider: Local, Kind: FeatureTrigger, Name: Trigger, No: triggerNoLayer},
	{Provider: Local, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=fuse"}},
	{Provider: Local, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=local"}, No: triggerLocalDir},
	{Provider: Local, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=hostpath"}, No: triggerHostPath},
	{Provider: Local, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=nfs"}, No: triggerKernelNFS},
	{Provider: Local, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=storageclass"}, No: triggerStorageClass},

	// ---- kind: a kind cluster on this host ---------------------------
	{Provider: Kind, Kind: FeatureProvider, Name: Kind, Needs: []*Capability{Docker}},
	{Provider: Kind, Kind: FeatureMode, Name: "publish-consume"},

	{Provider: Kind, Kind: FeatureBackend, Name: "hostpath"},
	{Provider: Kind, Kind: FeatureBackend, Name: "fuse", Needs: []*Capability{FuseMount}},
	// Backend nfs: an nfs-ganesha container beside the nodes and an NFS
	// client in every worker, the host kernel's (an in-tree nfs volume) or
	// the userspace one (rwxchaos __nfs-mount over FUSE, under systemd in
	// each node). auto takes the kernel's where the host has one.
	{Provider: Kind, Kind: FeatureBackend, Name: "nfs", Needs: []*Capability{NFSClient}},
	{Provider: Kind, Kind: FeatureBackend, Name: "nfs", When: []string{"nfsclient=kernel"}, Needs: []*Capability{KernelNFS}},
	{Provider: Kind, Kind: FeatureBackend, Name: "nfs", When: []string{"nfsclient=userspace"}, Needs: []*Capability{FuseMount}},
	{Provider: Kind, Kind: FeatureBackend, Name: "storageclass", No: "the kind provider does not provision volumes from a StorageClass: use backend hostpath or fuse"},
	{Provider: Kind, Kind: FeatureBackend, Name: "local", No: "backend local is provider local's plain directory: on kind use hostpath (or fuse)"},

	{Provider: Kind, Kind: FeatureAction, Name: "process-kill", No: kindNoProcess},
	{Provider: Kind, Kind: FeatureAction, Name: "process-pause", No: kindNoProcess},
	// The caller of a triggering file operation is known by its host pid
	// (the file server runs in the host's pid namespace): that process the
	// kind provider does signal.
	{Provider: Kind, Kind: FeatureAction, Name: "process-kill", When: []string{"select=caller"}},
	{Provider: Kind, Kind: FeatureAction, Name: "process-pause", When: []string{"select=caller"}},
	{Provider: Kind, Kind: FeatureAction, Name: "process-restart", No: kindNoProcess},
	{Provider: Kind, Kind: FeatureAction, Name: "node-kill"},
	{Provider: Kind, Kind: FeatureAction, Name: "node-stop"},
	{Provider: Kind, Kind: FeatureAction, Name: "node-pause"},
	{Provider: Kind, Kind: FeatureAction, Name: "node-reboot"},
	{Provider: Kind, Kind: FeatureAction, Name: "partition"},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-pause", No: kindNeedsFuse},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-pause", When: []string{"backend=fuse"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-pause", When: []string{"backend=nfs"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-kill", No: kindNeedsFuse},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-kill", When: []string{"backend=fuse"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-kill", When: []string{"backend=nfs"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-restart", No: kindNeedsFuse},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-restart", When: []string{"backend=fuse"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-restart", When: []string{"backend=nfs"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-error", No: callOnlyFuse},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-error", When: []string{"backend=fuse"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-delay", No: callOnlyFuse},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-delay", When: []string{"backend=fuse"}},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-cutoff", No: "cutting one node off needs a storage server each node reaches on its own over the network, and the kind provider's fuse server is one host mount shared by every node: use backend nfs (each node's NFS client talks to the nfs-ganesha container), or stall every node at once with storage-pause"},
	{Provider: Kind, Kind: FeatureAction, Name: "storage-cutoff", When: []string{"backend=nfs"}},
	{Provider: Kind, Kind: FeatureAction, Name: "chaos-pod-kill", No: chaosOnlyExisting},
	{Provider: Kind, Kind: FeatureAction, Name: "chaos-pod-failure", No: chaosOnlyExisting},
	{Provider: Kind, Kind: FeatureAction, Name: "chaos-partition", No: chaosOnlyExisting},
	{Provider: Kind, Kind: FeatureAction, Name: "chaos-io-latency", No: chaosOnlyExisting},
	{Provider: Kind, Kind: FeatureAction, Name: "chaos-io-fault", No: chaosOnlyExisting},

	{Provider: Kind, Kind: FeatureSelect, Name: "engine-node"},
	{Provider: Kind, Kind: FeatureSelect, Name: "lock-holder"},
	{Provider: Kind, Kind: FeatureSelect, Name: "random-worker"},
	{Provider: Kind, Kind: FeatureSelect, Name: "random-webserver"},
	{Provider: Kind, Kind: FeatureSelect, Name: "caller"},
	{Provider: Kind, Kind: FeatureSelect, Name: "caller-node"},
	{Provider: Kind, Kind: FeatureSelect, Name: "publisher-node"},
	{Provider: Kind, Kind: FeatureSelect, Name: "consumer-node"},

	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, No: triggerNoLayer},
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=fuse"}},
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=local"}, No: triggerLocalDir},
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=hostpath"}, No: triggerHostPath},
	// The userspace NFS client's FUSE layer carries the same hook as the
	// go-fuse file server; the kernel client (which auto picks where the
	// host has one) has none.
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=nfs"}, No: triggerNFSAuto},
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=nfs", "nfsclient=kernel"}, No: triggerKernelNFS},
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=nfs", "nfsclient=userspace"}},
	{Provider: Kind, Kind: FeatureTrigger, Name: Trigger, When: []string{"backend=storageclass"}, No: triggerStorageClass},

	// ---- existing: a cluster you own, faults through Chaos Mesh -------
	{Provider: Existing, Kind: FeatureProvider, Name: Existing},
	{Provider: Existing, Kind: FeatureMode, Name: "publish-consume", No: publishExisting},

	{Provider: Existing, Kind: FeatureBackend, Name: "storageclass"},
	{Provider: Existing, Kind: FeatureBackend, Name: "hostpath", No: existingBackend},
	{Provider: Existing, Kind: FeatureBackend, Name: "fuse", No: existingBackend},
	{Provider: Existing, Kind: FeatureBackend, Name: "nfs", No: existingBackend},
	{Provider: Existing, Kind: FeatureBackend, Name: "local", No: existingBackend},

	{Provider: Existing, Kind: FeatureAction, Name: "process-kill", No: "there is no node access on an existing cluster: use chaos-pod-kill"},
	{Provider: Existing, Kind: FeatureAction, Name: "process-pause", No: "there is no node access on an existing cluster: use chaos-pod-failure"},
	{Provider: Existing, Kind: FeatureAction, Name: "process-restart", No: "there is no node access on an existing cluster: use chaos-pod-kill (the Deployment restarts the pod)"},
	{Provider: Existing, Kind: FeatureAction, Name: "node-kill", No: noNodeAccess},
	{Provider: Existing, Kind: FeatureAction, Name: "node-stop", No: noNodeAccess},
	{Provider: Existing, Kind: FeatureAction, Name: "node-pause", No: noNodeAccess},
	{Provider: Existing, Kind: FeatureAction, Name: "node-reboot", No: noNodeAccess},
	{Provider: Existing, Kind: FeatureAction, Name: "partition", No: "the framework programs no packet filters on an existing cluster: use chaos-partition"},
	{Provider: Existing, Kind: FeatureAction, Name: "storage-pause", No: noStorageServer},
	{Provider: Existing, Kind: FeatureAction, Name: "storage-kill", No: noStorageServer},
	{Provider: Existing, Kind: FeatureAction, Name: "storage-restart", No: noStorageServer},
	{Provider: Existing, Kind: FeatureAction, Name: "storage-cutoff", No: "the framework does not run an existing cluster's storage: use chaos-partition"},
	{Provider: Existing, Kind: FeatureAction, Name: "storage-error", No: callExisting},
	{Provider: Existing, Kind: FeatureAction, Name: "storage-delay", No: callExisting},
	{Provider: Existing, Kind: FeatureAction, Name: "chaos-pod-kill"},
	{Provider: Existing, Kind: FeatureAction, Name: "chaos-pod-failure"},
	{Provider: Existing, Kind: FeatureAction, Name: "chaos-partition"},
	{Provider: Existing, Kind: FeatureAction, Name: "chaos-io-latency", Needs: []*Capability{ChaosMeshIO}},
	{Provider: Existing, Kind: FeatureAction, Name: "chaos-io-fault", Needs: []*Capability{ChaosMeshIO}},

	{Provider: Existing, Kind: FeatureSelect, Name: "engine-node", No: podsOnlyExisting},
	{Provider: Existing, Kind: FeatureSelect, Name: "lock-holder", No: podsOnlyExisting},
	{Provider: Existing, Kind: FeatureSelect, Name: "random-worker", No: podsOnlyExisting},
	{Provider: Existing, Kind: FeatureSelect, Name: "random-webserver"},
	{Provider: Existing, Kind: FeatureSelect, Name: "caller", No: triggerExisting},
	{Provider: Existing, Kind: FeatureSelect, Name: "caller-node", No: triggerExisting},
	{Provider: Existing, Kind: FeatureSelect, Name: "publisher-node", No: publishExisting},
	{Provider: Existing, Kind: FeatureSelect, Name: "consumer-node", No: publishExisting},

	{Provider: Existing, Kind: FeatureTrigger, Name: Trigger, No: triggerExisting},
}
