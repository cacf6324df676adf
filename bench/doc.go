// Package bench measures how fast and how big bgcall runs: it starts the
// FreeSWITCH simulator with several nodes, a private redis-server and one or
// more engine replicas in child processes, drives background calls through
// them with a realistic mix of far ends, and prints one table (and writes it
// as JSON) of throughput, controller CPU, Redis cost, memory at growing
// numbers of waiting sessions, scheduler lateness and reaction times, beside
// the same delayed-job load run through asynq on the same Redis as a
// yardstick.
//
// When FreeSWITCH is installed it also starts one real FreeSWITCH with the
// project's configuration (internal/fsreal) and offers it full sessions at
// real time, with a mix of its own whose far ends the test dialplan plays
// through the loopback endpoint, at rising rates until one is not
// sustained; those runs stand in the table beside the simulator's, with
// FreeSWITCH's own CPU time and channels. Without it, the table says so in
// one line.
//
// Replicas run as child processes of the same binary so that their CPU time
// (read from /proc/<pid>/stat) is theirs alone and not the simulator's or the
// load generator's; Run turns into a replica when the process was started
// with the replica environment variable set.
package bench
