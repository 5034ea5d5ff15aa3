// Package proc is the process supervisor behind the local provider
// (framework/provider/local): it runs the pipeline's services
// (cmd/edi-pipeline webserver ×N, jobqueue, and engine runs launched on a
// CronJob-like schedule) as local processes that share one directory as
// their "volume". It is single-host mode, NOT Kubernetes: there are no pods,
// nodes, networks or NFS here, only real processes, real files and real
// signals, which is enough to test the pipeline's crash safety (kill, pause,
// restart) fast and without a cluster.
//
// Every child runs in its own process group with a parent-death signal, so
// a runner that crashes leaves no orphans behind; a pidfile per child under
// <root>/.rwxchaos/pids lets Cleanup find and end the children of a runner
// that was itself SIGKILLed. Process starts and exits are journaled as
// runner events (history.EvProcStart / history.EvProcExit).
package proc
