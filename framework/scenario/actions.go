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
	durOptional durationRule = iota // 0 (instant: healed at once) or more
	durRequired                     // more than 0
	durZero                         // must be 0
)

// ActionInfo describes what an action aims at and how long it lasts; the
// validator and Default use it. Where each action runs is in the support
// table (framework/support), not here.
type ActionInfo struct {
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

var actions = map[Action]ActionInfo{
	ActionProcessKill:    {target: targetProcess, duration: durZero},
	ActionProcessPause:   {target: targetProcess, duration: durRequired},
	ActionProcessRestart: {target: targetProcess, duration: durOptional},

	ActionNodeKill:   {target: targetNode, duration: durOptional},
	ActionNodeStop:   {target: targetNode, duration: durOptional},
	ActionNodePause:  {target: targetNode, duration: durRequired},
	ActionNodeReboot: {target: targetNode, duration: durZero},

	ActionPartition: {target: targetEndpoints, duration: durRequired},

	ActionStoragePause:   {target: targetNone, duration: durRequired},
	ActionStorageKill:    {target: targetNone, duration: durRequired},
	ActionStorageRestart: {target: targetNone, duration: durZero},
	ActionStorageCutoff:  {target: targetNode, duration: durRequired},

	ActionStorageError: {target: targetNone, duration: durZero},
	ActionStorageDelay: {target: targetNone, duration: durRequired},

	ActionChaosPodKill:    {target: targetProcess, duration: durZero},
	ActionChaosPodFailure: {target: targetProcess, duration: durRequired},
	ActionChaosPartition:  {target: targetProcess, duration: durRequired},
	ActionChaosIOLatency:  {target: targetProcess, duration: durRequired},
	ActionChaosIOFault:    {target: targetProcess, duration: durRequired},
}

// triggerable lists the actions a file operation can fire (schedule.on),
// with why the others cannot.
var triggerable = map[Action]bool{
	ActionProcessKill: true, ActionProcessPause: true,
	ActionNodeKill: true, ActionNodePause: true,
	ActionPartition:    true,
	ActionStoragePause: true, ActionStorageKill: true,
	ActionStorageCutoff: true, // the caller's node (backend nfs on kind)
	ActionStorageError:  true, ActionStorageDelay: true,
}

// Triggerable reports whether a file operation can fire the action
// (schedule.on).
func (a Action) Triggerable() bool { return triggerable[a] }

// NeedsTrigger reports whether the action only exists as the answer to a
// triggering call (storage-error, storage-delay).
func (a Action) NeedsTrigger() bool { return a == ActionStorageError || a == ActionStorageDelay }

// Info returns what the action needs; ok is false for unknown actions.
func (a Action) Info() (ActionInfo, bool) {
	i, ok := actions[a]
	return i, ok
}

// Instant reports whether the action happens at once (duration 0) rather
// than lasting until healed.
func (f *FaultSpec) Instant() bool { return f.Duration == 0 }
