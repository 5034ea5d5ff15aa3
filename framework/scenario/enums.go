package scenario

// Provider is where the system under test runs.
type Provider string

// Providers.
const (
	// ProviderLocal runs the pipeline's services as local processes on one shared directory.
	ProviderLocal Provider = "local"
	// ProviderKind creates (or reuses) a kind cluster.
	ProviderKind Provider = "kind"
	// ProviderExisting uses a cluster reached through a kubeconfig.
	ProviderExisting Provider = "existing"
)

// Backend is the kind of shared volume.
type Backend string

// Storage backends.
const (
	// BackendHostPath shares a host directory into every kind node.
	BackendHostPath Backend = "hostpath"
	// BackendFuse serves the volume from a userspace go-fuse file server.
	BackendFuse Backend = "fuse"
	// BackendNFS serves the volume from an nfs-ganesha server.
	BackendNFS Backend = "nfs"
	// BackendStorageClass provisions the volume from an existing StorageClass.
	BackendStorageClass Backend = "storageclass"
	// BackendLocal is a plain local directory (provider local).
	BackendLocal Backend = "local"
)

// NFSClient is the NFS client on the nodes (backend nfs).
type NFSClient string

// NFS clients.
const (
	// NFSClientAuto is kernel where the host kernel has an NFS client, else userspace.
	NFSClientAuto NFSClient = "auto"
	// NFSClientKernel is the host kernel's NFS client.
	NFSClientKernel NFSClient = "kernel"
	// NFSClientUserspace is rwxchaos-nfs, the framework's NFSv4.1 client behind a FUSE mount in every node.
	NFSClientUserspace NFSClient = "userspace"
)

// WorkloadMode says whose application is tested.
type WorkloadMode string

// Workload modes.
const (
	// ModePipeline deploys the framework's own Bots-like pipeline.
	ModePipeline WorkloadMode = "pipeline"
	// ModeExternal tests an application that is already deployed.
	ModeExternal WorkloadMode = "external"
	// ModePublishConsume deploys a publisher of generated files and consumers that load them on every node.
	ModePublishConsume WorkloadMode = "publish-consume"
)

// MatchRule says how outputs are matched to inputs for an external workload.
type MatchRule string

// Match rules.
const (
	// MatchControlReference matches on the interchange control reference (ISA13 / UNB 0020).
	MatchControlReference MatchRule = "controlReference"
	// MatchFilename matches on the file name.
	MatchFilename MatchRule = "filename"
	// MatchContentHash matches on a hash of the payload.
	MatchContentHash MatchRule = "contentHash"
)

// Defect is a known bug the pipeline can be built with, to prove the checks catch it.
type Defect string

// The bug zoo.
const (
	// DefectRemoveAfterCopy copies a file to work/ and removes the input afterwards instead of renaming (a crash in between duplicates it).
	DefectRemoveAfterCopy Defect = "remove-after-copy"
	// DefectNonAtomicOutput writes output in place instead of write-to-temp then rename (readers see partial files).
	DefectNonAtomicOutput Defect = "non-atomic-output"
	// DefectNoLock runs the engine without taking the lock.
	DefectNoLock Defect = "no-lock"
	// DefectAppendOutput appends to an existing output file instead of replacing it.
	DefectAppendOutput Defect = "append-output"
	// DefectStealLiveLock takes over the lock without checking that the lease expired.
	DefectStealLiveLock Defect = "steal-live-lock"
	// DefectAckBeforeFsync acknowledges an upload before the file is fsynced.
	DefectAckBeforeFsync Defect = "ack-before-fsync"
	// DefectIgnoreLockLoss trusts the flock alone (no lease) and swallows the EIO when NFS revokes it, carrying on as the holder.
	DefectIgnoreLockLoss Defect = "ignore-lock-loss"
	// DefectPublishInPlace rewrites published files in place instead of write-to-temp then rename (consumers load torn files). Mode publish-consume.
	DefectPublishInPlace Defect = "publish-in-place"
	// DefectRenameWithoutFsync renames published files into place without fsyncing them or the directory (only a crash of the storage host shows it). Mode publish-consume.
	DefectRenameWithoutFsync Defect = "rename-without-fsync"
)

// Action is what a fault does.
type Action string

// Fault actions.
const (
	// ActionProcessKill sends SIGKILL to the target processes.
	ActionProcessKill Action = "process-kill"
	// ActionProcessPause sends SIGSTOP, then SIGCONT after the duration.
	ActionProcessPause Action = "process-pause"
	// ActionProcessRestart stops the target gracefully and starts it again after the duration.
	ActionProcessRestart Action = "process-restart"
	// ActionNodeKill kills a kind node container; it is started again after the duration (0: at once).
	ActionNodeKill Action = "node-kill"
	// ActionNodeStop stops a kind node container gracefully; started again after the duration (0: at once).
	ActionNodeStop Action = "node-stop"
	// ActionNodePause freezes a kind node container for the duration.
	ActionNodePause Action = "node-pause"
	// ActionNodeReboot restarts a kind node container.
	ActionNodeReboot Action = "node-reboot"
	// ActionPartition drops packets between from and to for the duration.
	ActionPartition Action = "partition"
	// ActionStoragePause freezes the storage server for the duration.
	ActionStoragePause Action = "storage-pause"
	// ActionStorageKill kills the storage server and starts it again after the duration.
	ActionStorageKill Action = "storage-kill"
	// ActionStorageRestart restarts the storage server.
	ActionStorageRestart Action = "storage-restart"
	// ActionStorageCutoff cuts the target node off the storage server for the duration.
	ActionStorageCutoff Action = "storage-cutoff"
	// ActionStorageError fails the triggering file operation with errno (needs schedule.on).
	ActionStorageError Action = "storage-error"
	// ActionStorageDelay holds the triggering file operation for the duration (needs schedule.on).
	ActionStorageDelay Action = "storage-delay"
	// ActionChaosPodKill is a Chaos Mesh PodChaos pod-kill.
	ActionChaosPodKill Action = "chaos-pod-kill"
	// ActionChaosPodFailure is a Chaos Mesh PodChaos pod-failure for the duration.
	ActionChaosPodFailure Action = "chaos-pod-failure"
	// ActionChaosPartition is a Chaos Mesh NetworkChaos partition between the target and the role in to.
	ActionChaosPartition Action = "chaos-partition"
	// ActionChaosIOLatency is a Chaos Mesh IOChaos latency on the volume.
	ActionChaosIOLatency Action = "chaos-io-latency"
	// ActionChaosIOFault is a Chaos Mesh IOChaos fault (errno) on the volume.
	ActionChaosIOFault Action = "chaos-io-fault"
)

// Role is one of the pipeline's services, or a role an external app's selectors name.
type Role string

// Roles.
const (
	// RoleWebserver accepts uploads.
	RoleWebserver Role = "webserver"
	// RoleEngine moves files input -> work -> output under the lock.
	RoleEngine Role = "engine"
	// RoleJobqueue queues engine runs.
	RoleJobqueue Role = "jobqueue"
	// RolePublisher writes the generated files (mode publish-consume).
	RolePublisher Role = "publisher"
	// RoleConsumer loads them, one per node (mode publish-consume).
	RoleConsumer Role = "consumer"
)

// LabImage names one of the images `make lab` builds.
type LabImage string

// Lab images.
const (
	// LabToolbox is busybox (sh, httpd, wget, mv, sync, ...).
	LabToolbox LabImage = "toolbox"
	// LabPipeline is the edi-pipeline binary of the lab build.
	LabPipeline LabImage = "pipeline"
)

// Selector picks a target when the fault fires.
type Selector string

// Selectors.
const (
	// SelectEngineNode is the node running the engine.
	SelectEngineNode Selector = "engine-node"
	// SelectLockHolder is the node or process holding the engine lock.
	SelectLockHolder Selector = "lock-holder"
	// SelectRandomWorker is a worker node chosen with the run's seed.
	SelectRandomWorker Selector = "random-worker"
	// SelectRandomWebserver is a webserver chosen with the run's seed (or the node running it).
	SelectRandomWebserver Selector = "random-webserver"
	// SelectPublisherNode is the node running the publisher (mode publish-consume).
	SelectPublisherNode Selector = "publisher-node"
	// SelectConsumerNode is a node running a consumer but not the publisher, chosen with the run's seed (mode publish-consume).
	SelectConsumerNode Selector = "consumer-node"
	// SelectCaller is the process or pod whose file operation fired the trigger (schedule.on).
	SelectCaller Selector = "caller"
	// SelectCallerNode is the node of that process or pod.
	SelectCallerNode Selector = "caller-node"
)

// FileOp is a file operation a triggered fault fires on.
type FileOp string

// File operations (the names match framework/trigger).
const (
	// FileOpCloseWrite is the close of a file opened for writing: every close(2) of such a descriptor (a dup'ed one closes twice).
	FileOpCloseWrite FileOp = "close-write"
	// FileOpRename is a rename; the path is matched against the old and the new name.
	FileOpRename FileOp = "rename"
	// FileOpUnlink is the removal of a file.
	FileOpUnlink FileOp = "unlink"
	// FileOpFsync is an fsync or fdatasync of a file or directory.
	FileOpFsync FileOp = "fsync"
	// FileOpLock takes a lock (flock, or a POSIX read or write lock).
	FileOpLock FileOp = "lock"
	// FileOpUnlock releases a lock explicitly (the release when a file is closed is not seen).
	FileOpUnlock FileOp = "unlock"
)

// When says whether a triggered fault lands before or after the file operation.
type When string

// Moments.
const (
	// WhenBefore lands the fault before the operation is performed.
	WhenBefore When = "before"
	// WhenAfter lands it once the operation is performed, before the caller sees the result.
	WhenAfter When = "after"
)

// Direction says which packets a partition drops.
type Direction string

// Directions.
const (
	// DirectionBoth drops packets both ways.
	DirectionBoth Direction = "both"
	// DirectionIngress drops packets arriving at the from side (or the target).
	DirectionIngress Direction = "ingress"
	// DirectionEgress drops packets leaving the from side (or the target).
	DirectionEgress Direction = "egress"
)

// enum is implemented by the string types whose values form a closed set;
// the decoder and Schema use it.
type enum interface{ enumValues() []string }

func (Provider) enumValues() []string {
	return []string{string(ProviderLocal), string(ProviderKind), string(ProviderExisting)}
}

func (Backend) enumValues() []string {
	return []string{string(BackendHostPath), string(BackendFuse), string(BackendNFS), string(BackendStorageClass), string(BackendLocal)}
}

func (NFSClient) enumValues() []string {
	return []string{string(NFSClientAuto), string(NFSClientKernel), string(NFSClientUserspace)}
}

func (WorkloadMode) enumValues() []string {
	return []string{string(ModePipeline), string(ModeExternal), string(ModePublishConsume)}
}

func (MatchRule) enumValues() []string {
	return []string{string(MatchControlReference), string(MatchFilename), string(MatchContentHash)}
}

func (Defect) enumValues() []string {
	return []string{string(DefectRemoveAfterCopy), string(DefectNonAtomicOutput), string(DefectNoLock), string(DefectAppendOutput), string(DefectStealLiveLock), string(DefectAckBeforeFsync), string(DefectIgnoreLockLoss),
		string(DefectPublishInPlace), string(DefectRenameWithoutFsync)}
}

func (Action) enumValues() []string {
	out := make([]string, len(actionOrder))
	for i, a := range actionOrder {
		out[i] = string(a)
	}
	return out
}

// wellKnownRoles are the pipeline's roles; an external app may name more.
var wellKnownRoles = []string{string(RoleWebserver), string(RoleEngine), string(RoleJobqueue)}

// publishRoles are the roles of mode publish-consume.
var publishRoles = []string{string(RolePublisher), string(RoleConsumer)}

func (LabImage) enumValues() []string { return []string{string(LabToolbox), string(LabPipeline)} }

func (Selector) enumValues() []string {
	return []string{string(SelectEngineNode), string(SelectLockHolder), string(SelectRandomWorker), string(SelectRandomWebserver), string(SelectCaller), string(SelectCallerNode),
		string(SelectPublisherNode), string(SelectConsumerNode)}
}

func (FileOp) enumValues() []string {
	return []string{string(FileOpCloseWrite), string(FileOpRename), string(FileOpUnlink), string(FileOpFsync), string(FileOpLock), string(FileOpUnlock)}
}

func (When) enumValues() []string { return []string{string(WhenBefore), string(WhenAfter)} }

func (Direction) enumValues() []string {
	return []string{string(DirectionBoth), string(DirectionIngress), string(DirectionEgress)}
}

// PublishDefects are the defects of the publish/consume workload; the
// others are the pipeline's.
func PublishDefects() []Defect { return []Defect{DefectPublishInPlace, DefectRenameWithoutFsync} }

// IsPublish reports whether d is a publish/consume defect.
func (d Defect) IsPublish() bool { return d == DefectPublishInPlace || d == DefectRenameWithoutFsync }

// Defects lists every defect name, in documentation order.
func Defects() []Defect {
	var out []Defect
	for _, v := range Defect("").enumValues() {
		out = append(out, Defect(v))
	}
	return out
}

// Actions lists every fault action, in documentation order.
func Actions() []Action { return append([]Action(nil), actionOrder...) }
