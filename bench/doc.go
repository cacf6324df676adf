// Package bench measures how fast and how big bgcall runs: it starts the
// FreeSWITCH simulator with several nodes, a private redis-server and one or
// more engine replicas in child processes, drives background calls through
// them with a realistic mix of far ends, and prints one table (and writes it
// as JSON) of throughput, controller CPU, Redis cost, memory at growing
// numbers of waiting sessions, scheduler lateness and reaction times, beside
// the same delayed-job load run through asynq on the same Redis as a
// yardstick.
//
// Replicas run as child processes of the same binary so that their CPU time
// (read from /proc/<pid>/stat) is theirs alone and not the simulator's or the
// load generator's; Run turns into a replica when the process was started
// with the replica environment variable set.
package bench
