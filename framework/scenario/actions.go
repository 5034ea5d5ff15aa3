package scenario

// targetKind says what an action aims at.
type targetKind int

const (
	targetNone      targetKind = iota // the storage server: no target
	targetProcess                     // role, lock-holder, random-webserver
	targetNode                        // node, any select
	targetEndpoints                   // partition: from/to
)

// durationRule says what an action's duration may be.
type durationRule int

const (
	durOptional durationRule = iota // 0 (instant / stays down) or more
	durRequired                     // more than 0
	durZero                         // must be 0
)

// ActionInfo describes what an action needs; the validator enforces it and
// the runner can use it too.
type ActionInfo struct {
	// Providers the action works with.
	Providers []Provider
	// Backends the action works with; nil means any.
	Backends []Backend
	// Why the providers/backends are limited, for error messages.
	Why string

	target   targetKind
	duration durationRule
}

var actionOrder = []Action{
	ActionProcessKill, ActionProcessPause, ActionProcessRestart,
	ActionNodeKill, ActionNodeStop, ActionNodePause, ActionNodeReboot,
	ActionPartition,
	ActionStoragePause, ActionStorageKill, ActionStorageRestart, ActionStorageCutoff,
	ActionStorageError, ActionStorageDelay,
	ActionChaosPodKill, ActionChaosPodFailure, ActionChaosPartition, ActionChaosIOLatency, ActionChaosIOFault,
}

// Process actions work locally (on the supervised processes) and on kind
// (on the container's process, signalled through the node's runtime); on
// an existing cluster we have no node access, so the chaos-* actions are
// the way there.
var (
	processProviders = []Provider{ProviderLocal, ProviderKind}
	kindOnly         = []Provider{ProviderKind}
	existingOnly     = []Provider{ProviderExisting}
	serverBackends   = []Backend{BackendFuse, BackendNFS, BackendLocal}
)

const (
	whyProcess = "it signals processes directly, which needs the local supervisor or access to kind nodes; on an existing cluster use chaos-pod-kill or chaos-pod-failure"
	whyNode    = "it stops or freezes kind node containers"
	whyNet     = "it programs packet filters inside kind node containers; on an existing cluster use chaos-partition"
	whyStorage = "it freezes, kills or restarts the storage server the framework runs"
	whyCutoff  = "it cuts one node off a storage server the framework runs, which needs kind nodes and a fuse or nfs backend"
	whyChaos   = "it creates Chaos Mesh objects, which the framework only does on an existing cluster"
	whyCall    = "it answers the triggering call itself, in a storage layer the framework runs in the path of every file operation"
)

var actions = map[Action]ActionInfo{
	ActionProcessKill:    {Providers: processProviders, Why: whyProcess, target: targetProcess, duration: durZero},
	ActionProcessPause:   {Providers: processProviders, Why: whyProcess, target: targetProcess, duration: durRequired},
	ActionProcessRestart: {Providers: processProviders, Why: whyProcess, target: targetProcess, duration: durOptional},

	ActionNodeKill:   {Providers: kindOnly, Why: whyNode, target: targetNode, duration: durOptional},
	ActionNodeStop:   {Providers: kindOnly, Why: whyNode, target: targetNode, duration: durOptional},
	ActionNodePause:  {Providers: kindOnly, Why: whyNode, target: targetNode, duration: durRequired},
	ActionNodeReboot: {Providers: kindOnly, Why: whyNode, target: targetNode, duration: durZero},

	ActionPartition: {Providers: kindOnly, Why: whyNet, target: targetEndpoints, duration: durRequired},

	ActionStoragePause:   {Providers: []Provider{ProviderLocal, ProviderKind}, Backends: serverBackends, Why: whyStorage, target: targetNone, duration: durRequired},
	ActionStorageKill:    {Providers: []Provider{ProviderLocal, ProviderKind}, Backends: serverBackends, Why: whyStorage, target: targetNone, duration: durRequired},
	ActionStorageRestart: {Providers: []Provider{ProviderLocal, ProviderKind}, Backends: serverBackends, Why: whyStorage, target: targetNone, duration: durZero},
	ActionStorageCutoff:  {Providers: kindOnly, Backends: []Backend{BackendFuse, BackendNFS}, Why: whyCutoff, target: targetNode, duration: durRequired},

	ActionStorageError: {Providers: []Provider{ProviderLocal, ProviderKind}, Backends: []Backend{BackendFuse}, Why: whyCall, target: targetNone, duration: durZero},
	ActionStorageDelay: {Providers: []Provider{ProviderLocal, ProviderKind}, Backends: []Backend{BackendFuse}, Why: whyCall, target: targetNone, duration: durRequired},

	ActionChaosPodKill:    {Providers: existingOnly, Why: whyChaos, target: targetProcess, duration: durZero},
	ActionChaosPodFailure: {Providers: existingOnly, Why: whyChaos, target: targetProcess, duration: durRequired},
	ActionChaosPartition:  {Providers: existingOnly, Why: whyChaos, target: targetProcess, duration: durRequired},
	ActionChaosIOLatency:  {Providers: existingOnly, Why: whyChaos, target: targetProcess, duration: durRequired},
	ActionChaosIOFault:    {Providers: existingOnly, Why: whyChaos, target: targetProcess, duration: durRequired},
}

// triggerable lists the actions a file operation can fire (schedule.on),
// with why the others cannot.
var triggerable = map[Action]bool{
	ActionProcessKill: true, ActionProcessPause: true,
	ActionNodeKill: true, ActionNodePause: true,
	ActionPartition:    true,
	ActionStoragePause: true, ActionStorageKill: true,
	ActionStorageError: true, ActionStorageDelay: true,
}

// Triggerable reports whether a file operation can fire the action
// (schedule.on).
func (a Action) Triggerable() bool { return triggerable[a] }

// NeedsTrigger reports whether the action only exists as the answer to a
// triggering call (storage-error, storage-delay).
func (a Action) NeedsTrigger() bool { return a == ActionStorageError || a == ActionStorageDelay }

// TriggerLayer says whether a scenario with this provider and storage
// backend has a storage layer that sees every file operation with its
// caller and can hold it (schedule.on), and if not, why. It is the one
// place that decides it; validation and the docs use it.
func TriggerLayer(p Provider, b Backend) (ok bool, why string) {
	switch {
	case p == ProviderExisting:
		return false, "on an existing cluster the volume is served by the cluster's own storage, which the framework is not part of"
	case b == BackendFuse:
		return true, ""
	case b == BackendLocal:
		return false, "backend local is a plain directory served by the kernel, so no file operation passes through the framework; use storage backend fuse"
	case b == BackendHostPath:
		return false, "a hostPath volume is served by the host kernel, so no file operation passes through the framework; use storage backend fuse"
	case b == BackendNFS:
		return false, "with the kernel NFS client the framework sees NFS calls, not which process made them; use storage backend fuse"
	case b == BackendStorageClass:
		return false, "the volume is served by the StorageClass's driver, which the framework is not part of; use storage backend fuse"
	}
	return false, "storage backend " + string(b) + " has no such layer; use storage backend fuse"
}

// Info returns what the action needs; ok is false for unknown actions.
func (a Action) Info() (ActionInfo, bool) {
	i, ok := actions[a]
	return i, ok
}

// Instant reports whether the action happens at once (duration 0) rather
// than lasting until healed.
func (f *FaultSpec) Instant() bool { return f.Duration == 0 }
