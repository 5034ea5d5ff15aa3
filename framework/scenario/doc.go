// Package scenario reads rwxchaos scenario files: declarative descriptions
// of one chaos experiment against the Bots pipeline (or your own app, such
// as a real Bots deployment) sharing a ReadWriteMany volume.
//
// A scenario says where the system runs (cluster), what the shared volume
// is (storage), what runs and which traffic it gets (workload), what to
// break and when (faults), and what must still hold at the end (expect).
// This package only reads and checks files; it imports no cluster or fault
// code. The runner, fault injectors and checkers consume the Scenario.
//
// # The format
//
// An annotated example (the package tests parse it, so it stays valid):
//
//	apiVersion: rwxchaos.dev/v1alpha1   # required, the only version
//	kind: Scenario                      # required
//	metadata:
//	  name: engine-node-partitioned     # required, a DNS label
//	  labels: {tier: nightly}           # free-form, for selecting runs
//	  description: >                    # what it tests and why it matters
//	    Cuts the engine's node off the control plane while it can still
//	    reach the volume, so two engines may share it.
//	cluster:
//	  provider: kind                    # local | kind | existing (required)
//	  kind: {workers: 3, name: rwxchaos}
//	  timings:                          # applied to the kind cluster
//	    nodeMonitorGracePeriod: 20s
//	    unreachableTolerationSeconds: 30
//	storage:
//	  backend: fuse                     # hostpath | fuse | nfs | storageclass | local
//	  # mountOptions: [nfsvers=4.1, hard]  # backends nfs and storageclass
//	workload:
//	  mode: pipeline                    # pipeline (ours) | external (e.g. real Bots)
//	  replicas: {webserver: 3, jobqueue: 1}
//	  engine:
//	    schedule: "* * * * *"           # cron for CronJobs; "every 1s" for local
//	    leaseTTL: 30s                   # lock lease; heartbeat defaults to a third
//	  traffic:
//	    count: 1200                     # messages
//	    rate: 4                         # per second, across all clients
//	    mix: {x12: 70, edifact: 30}     # percent, must sum to 100
//	  defects: []                       # bug zoo: e.g. [steal-live-lock]
//	faults:
//	  - name: isolate                   # unique; referenced by schedule.after
//	    action: partition               # see Action for the list
//	    from: engine-node               # control-plane | nodes | storage | node | selector
//	    to: control-plane
//	    duration: 2m                    # heal after; 0 = instant (kill, reboot)
//	    # no schedule: fires once traffic flows (after: steady-state)
//	  - name: reboot-later
//	    action: node-reboot
//	    target: {select: random-worker} # exactly one of role, node, select
//	    schedule: {after: isolate, at: 30s}  # 30s after isolate healed
//	expect:                             # noLoss, noDuplicates, lockExclusive default true
//	  rescheduledWithin: 2m
//	  maxIndeterminate: 2
//	  steadyState: {minUploads: 10, within: 2m}   # else the run is void
//	run:
//	  seed: 42                          # 0 = random, recorded in the report
//	  timeout: 20m
//	  settle: 5m                        # drain time before the checks
//
// Every field, its default and its limits are documented on the Go types
// (Scenario, ClusterSpec, StorageSpec, WorkloadSpec, FaultSpec, TargetSpec,
// ScheduleSpec, ExpectSpec, RunSpec); the same text is in the JSON Schema.
// Durations are Go duration strings ("500ms", "1m30s"); the bare number 0
// also means "no time".
//
// # Publish and consume
//
// workload.mode publish-consume replaces the pipeline with the second
// shared-volume pattern: a publisher writes numbered versions of generated
// files and consumers on every node (provider kind: one per worker;
// provider local: publish.consumers processes) load and verify them:
//
//	workload:
//	  mode: publish-consume
//	  publish: {files: 4, size: 16384, rate: 5, versions: 100, loadRate: 10}
//	  defects: [publish-in-place]        # or rename-without-fsync
//	faults:
//	  - name: kill-publisher-node
//	    action: node-kill
//	    target: {select: publisher-node}  # or consumer-node, role publisher|consumer
//	    duration: 30s
//	expect:
//	  steadyState: {minVersions: 3}
//	  publish: {visibleWithin: 2s, convergedWithin: 1m, maxTorn: 0, monotonic: true}
//
// The pipeline's traffic, engine, replicas and expectations (noLoss,
// lockExclusive, …) do not apply and are refused. Steady state is
// minVersions versions published and loaded by every consumer.
//
// # When faults fire
//
// Traffic starts first; no fault fires before steady state (the
// expect.steadyState uploads have been acknowledged), and a run that never
// gets there is void rather than failed. schedule.at is a delay counted
// from steady state, or, with schedule.after, from the moment the named
// fault has finished (healed after its last firing). every is the pause
// between the heal of one firing and the start of the next, times the
// number of firings. Parse rejects schedules that cannot end before
// run.timeout.
//
// # Faults fired by a file operation
//
// With schedule.on a fault fires when the application makes a matching
// file operation on the volume instead of at a time:
//
//	faults:
//	  - name: kill-after-output
//	    action: process-kill            # target defaults to select: caller
//	    schedule:
//	      on:
//	        op: rename                  # close-write | rename | unlink | fsync | lock | unlock
//	        path: botssys/outfile/*/*.json   # glob under the volume; ** spans directories
//	        by: engine                  # only calls made by this role
//	        when: after                 # performed, reply withheld (before: not performed)
//	        nth: 1                      # first eligible call; then every: N ...
//	        every: 20                   # ... up to schedule.times firings
//	      times: 3
//
// The storage layer holds the matching call until the fault is injected
// (a kill or pause of the caller lands while its reply is withheld), so
// the application cannot run past the moment, and the report shows the
// operation (path, caller, time) next to the fault. at and after arm the
// trigger (calls before are not counted). Process actions hit the caller
// (select: caller), node actions its node (select: caller-node); a
// partition's from defaults to caller-node. storage-error fails the call
// with errno and storage-delay holds it for the duration (both exist only
// with schedule.on). Only a storage layer in every operation's path can do
// this: storage backend fuse, with providers local and kind, and backend
// nfs on kind with storage.nfs.client userspace (the client's FUSE layer
// in every node holds calls the same way). The support table
// (framework/support, feature "trigger") says so, with the reason for
// every other backend and provider; validation refuses schedule.on
// elsewhere and says why.
//
// # Your own app (workload external)
//
// With provider kind the framework deploys your application from its own
// manifests and aims the faults at its roles by label:
//
//	workload:
//	  mode: external
//	  namespace: edi                    # where everything is applied
//	  external:
//	    manifests: [../deploy/overlays/dev]   # kustomization dirs or YAML files
//	    images:                         # loaded into every node (no registry)
//	      - {docker: "bots-edi:dev", as: "registry.example/bots-edi:4.0"}
//	    ready: {cronJobs: [bots-engine]}   # also wait for this CronJob's first run
//	    pvc: bots-edi-data-pvc          # bound to the run's volume
//	    inputPath: botssys/infile/x     # where uploads are dropped
//	    outputPath: botssys/outfile/x   # where outputs are matched to them
//	    match: controlReference         # | filename | contentHash
//	    selectors:                      # role name -> pod labels
//	      engine: {app: bots-edi, component: engine}
//	      jobqueue: {app: bots-edi, component: jobqueue}
//	faults:
//	  - {name: k, action: node-kill, target: {select: engine-node}, duration: 45s}
//	  - {name: p, action: partition, from: jobqueue, to: control-plane, duration: 1m}
//	  - {name: s, action: storage-pause, duration: 20s, schedule: {whileRunning: engine}}
//
// Roles are any names (webserver, engine and jobqueue keep their meaning
// for engine-node and random-webserver); target.role on a node action is
// the node running a pod of the role, and so is a role name as a
// partition side. holderFile names a file in which the app writes its lock
// holder's pod name, for select lock-holder. With provider existing the app
// is already deployed and only pvc, the paths, match and selectors apply.
//
// # Which faults work where
//
// What each provider can do (backends, actions, selectors, expectations)
// is one table, in framework/support; Parse reads it and refuses, with the
// reason and what to use instead, any feature the scenario's provider
// cannot run (such an error has FieldError.Unsupported set). The same
// table writes the "Runs on" lines of the JSON Schema and the library
// README, and the providers check it again before they create anything.
// Some features also need something of the host (root and /dev/fuse for
// the go-fuse server, Docker for kind, a kernel NFS client): Needs lists
// them, `rwxchaos validate` says "runs only where ..." when this host lacks
// one, and a run here is void with that reason.
//
// Process and pod actions take target.role or target.select lock-holder /
// random-webserver; node actions take target.node, any target.select, or
// (kind) target.role; partition takes from/to; storage-pause/kill/restart take no target.
// With schedule.on, process actions also take select caller and node
// actions (and a partition's side) select caller-node.
//
// # Reading files
//
// Load and Parse decode strictly: unknown fields, wrong types, duplicate
// keys, custom tags, merge keys and multi-document files are errors. Then
// Default fills in every unset field (the one place defaults live) and the
// semantic rules are checked: ranges, enums, cross-references such as
// schedule.after, provider/action compatibility, and timings that cannot
// work (a run timeout shorter than the traffic, a lock recovery bound
// shorter than the lease, and so on). All problems are reported at once as
// an ErrorList, one "file:line:col: path: message" per line:
//
//	s, err := scenario.Load("scenarios/library/engine-killed-mid-run.yaml")
//	if err != nil {
//		return err // prints every problem with its position
//	}
//	seed := s.ResolveSeed()
//
// Parse never panics on bad input (FuzzParse checks it) and is
// deterministic. Scenarios built in Go can be checked with Default and
// Validate.
//
// # Editor support
//
// Schema returns a JSON Schema (draft 2020-12) generated from the types,
// with the doc comments as descriptions and the enums included; the same
// schema is checked in as scenario.schema.json. Start a scenario file with
//
//	# yaml-language-server: $schema=../../framework/scenario/scenario.schema.json
//
// (path relative to the file) for completion and checking in editors that
// use yaml-language-server. The schema checks structure; cross-field rules
// are only checked by Parse ("rwxchaos validate").
package scenario
