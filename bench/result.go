package bench

// Result is everything one run measured; it is also the JSON written.
type Result struct {
	Machine    Machine         `json:"machine"`
	Setup      Setup           `json:"setup"`
	Throughput []ThroughputRun `json:"throughput"`
	Waiting    []WaitingLevel  `json:"waiting"`
	// FreeSWITCH is the full-session load through one real FreeSWITCH.
	FreeSWITCH *RealFreeSWITCH `json:"real_freeswitch,omitempty"`
	Lateness   *LatenessRun    `json:"lateness,omitempty"`
	Asynq      []AsynqRun      `json:"asynq"`
	Checks     []Check         `json:"checks"`
	Seconds    float64         `json:"seconds"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs         int     `json:"cpus"`
	CPUModel     string  `json:"cpu_model"`
	MemoryGiB    float64 `json:"memory_gib"`
	Kernel       string  `json:"kernel"`
	GoVersion    string  `json:"go_version"`
	RedisVersion string  `json:"redis_version"`
	// Load averages (1 min) when the run started and ended: other work on
	// the machine skews every latency figure.
	LoadAtStart float64 `json:"load_average_at_start"`
	LoadAtEnd   float64 `json:"load_average_at_end"`
}

// Setup is the load the run offered.
type Setup struct {
	Nodes       int     `json:"simulator_nodes"`
	Replicas    int     `json:"replicas"`
	SimSecondMS float64 `json:"sim_second_ms"`
	Replica     string  `json:"replica_process"`
	Mix         string  `json:"mix"`
	LoadSeconds float64 `json:"load_seconds"`
}

// ThroughputRun is the full-session load at one esl reorder window.
type ThroughputRun struct {
	OfferedPerSec        int       `json:"offered_per_sec"`
	Sessions             int       `json:"sessions"`
	Unfinished           int       `json:"unfinished"`
	SustainedPerSec      float64   `json:"sustained_sessions_per_sec"`
	Transitions          int64     `json:"transitions"`
	TransitionsPerSec    float64   `json:"transitions_per_sec"`
	TransitionsPerSess   float64   `json:"transitions_per_session"`
	AttemptsPerSession   float64   `json:"attempts_per_session"`
	CPUSecPer1000        float64   `json:"controller_cpu_seconds_per_1000_sessions"`
	CommandsPerSession   float64   `json:"redis_commands_per_session"`
	CommandsPerTrans     float64   `json:"redis_commands_per_transition"`
	RoundTripsPerSession float64   `json:"redis_round_trips_per_session"`
	RoundTripsPerTrans   float64   `json:"redis_round_trips_per_transition"`
	RedisCPUmsPerSession float64   `json:"redis_cpu_ms_per_session"`
	ESLAPI               quantiles `json:"esl_api_command_round_trip"`
	ESLBGAPI             quantiles `json:"esl_bgapi_command_round_trip"`
	// Reaction times as the issue defines them, measured in bgcall
	// (bgcall_reaction_seconds): from the answer event read off the socket
	// to the command written to it. Quantiles interpolate within buckets,
	// which include 5ms, so "p99 <= 5ms" is judged exactly.
	CalleeReaction quantiles `json:"reaction_callee_answer_to_caller_originate"`
	CallerReaction quantiles `json:"reaction_caller_answer_to_uuid_bridge"`
	// The same intervals as the simulator saw them: from deciding to answer
	// to handling the command, so they add the simulator's own work and
	// both socket crossings. Exact samples.
	CalleeEndToEnd quantiles      `json:"end_to_end_callee_answer_to_caller_originate"`
	CallerEndToEnd quantiles      `json:"end_to_end_caller_answer_to_uuid_bridge"`
	Outcomes       map[string]int `json:"outcomes"`
	Commands       counts         `json:"redis_commands_by_name"`
	DrainSeconds   float64        `json:"seconds_until_all_finished"`
}

// RealFreeSWITCH is the full-session load through one real FreeSWITCH
// node, at real time, with a mix of its own.
type RealFreeSWITCH struct {
	// Skipped says why there are no runs (FreeSWITCH is not installed).
	Skipped string `json:"skipped,omitempty"`
	Binary  string `json:"binary"`
	Version string `json:"version,omitempty"`
	// The limits the bench instance ran with, raised at its start.
	MaxSessions       int       `json:"max_sessions,omitempty"`
	SessionsPerSecond int       `json:"sessions_per_second,omitempty"`
	Mix               string    `json:"mix"`
	LoadSeconds       float64   `json:"load_seconds"`
	LoadAtStart       float64   `json:"load_average_at_start,omitempty"`
	LoadAtEnd         float64   `json:"load_average_at_end,omitempty"`
	Runs              []RealRun `json:"runs,omitempty"`
	// Stopped says which run did not sustain its rate, and why.
	Stopped string `json:"stopped,omitempty"`
}

// RealRun is one offered rate through the real FreeSWITCH: the throughput
// run's figures (its end-to-end reaction times stay empty: they are the
// simulator's) and FreeSWITCH's own.
type RealRun struct {
	ThroughputRun
	FreeSWITCHCPUSecPer1000 float64 `json:"freeswitch_cpu_seconds_per_1000_sessions"`
	// Channels FreeSWITCH created during the run, and those bgcall's
	// attempts account for: two per loopback call.
	Channels           int     `json:"freeswitch_channels_created"`
	ChannelsDialled    int     `json:"channels_of_the_attempts"`
	ChannelsPerSession float64 `json:"freeswitch_channels_per_session"`
	// Sampled once a second.
	PeakChannels       int     `json:"freeswitch_peak_channels_up"`
	PeakChannelsPerSec float64 `json:"freeswitch_peak_channels_created_per_sec"`
	RSSMiB             float64 `json:"freeswitch_rss_mib_at_end"`
	// LeftUp are the channels FreeSWITCH still had up 5 s after every
	// session finished, as "show channels" lists them (the bench then
	// hangs them up): bgcall should leave none.
	LeftUp []string `json:"channels_left_up,omitempty"`
	// AsDictated is how many sessions ended with the outcome, and after
	// the attempts on B, that their far ends call for.
	AsDictated int `json:"sessions_as_far_ends_dictate"`
	// Otherwise are a few of the others, as "<session>: <what happened>,
	// dictated <what should have>".
	Otherwise []string `json:"sessions_otherwise,omitempty"`
}

// WaitingLevel is the cost of a number of waiting sessions.
type WaitingLevel struct {
	Waiting           int     `json:"waiting"`
	RedisBytesPerSess float64 `json:"redis_bytes_per_waiting_session"`
	KeysPerSession    float64 `json:"redis_keys_per_waiting_session"`
	RedisUsedMiB      float64 `json:"redis_used_mib"`
	HeapMiB           float64 `json:"controller_heap_mib"`
	HeapInuseMiB      float64 `json:"controller_heap_inuse_mib"`
	RSSMiB            float64 `json:"controller_rss_mib"`
	FillPerSec        float64 `json:"fill_sessions_per_sec"`
}

// LatenessRun is the scheduler under attempts falling due at a steady rate
// while many more sessions wait.
type LatenessRun struct {
	// Every attempt is a retry: B is busy and the next attempt is after
	// the run (see lateness).
	Waiting            int       `json:"waiting"`
	DuePerSec          int       `json:"due_per_sec"`
	Attempts           int       `json:"attempts"`
	Originate          quantiles `json:"lateness_due_to_originate_received"`
	Claim              quantiles `json:"lateness_due_to_claim_histogram"`
	CommandsPerAttempt float64   `json:"redis_commands_per_attempt"`
	RoundTripsPerAtt   float64   `json:"redis_round_trips_per_attempt"`
	CreateCommands     float64   `json:"redis_commands_per_create"`
	CPUSecPer1000      float64   `json:"controller_cpu_seconds_per_1000_attempts"`
	RedisCPUmsPerAtt   float64   `json:"redis_cpu_ms_per_attempt"`
	ESLBGAPI           quantiles `json:"esl_bgapi_command_round_trip"`
	Commands           counts    `json:"redis_commands_by_name"`
}

// AsynqRun is the yardstick: the same delayed jobs through asynq.
type AsynqRun struct {
	CheckIntervalMS  float64   `json:"delayed_task_check_interval_ms"`
	Waiting          int       `json:"waiting"`
	Jobs             int       `json:"jobs"`
	Processed        int       `json:"processed"`
	Lateness         quantiles `json:"lateness_due_to_handler"`
	CommandsPerJob   float64   `json:"redis_commands_per_job"`
	RoundTripsPerJob float64   `json:"redis_round_trips_per_job"`
	RedisCPUmsPerJob float64   `json:"redis_cpu_ms_per_job"`
	EnqueueCommands  float64   `json:"redis_commands_per_enqueue"`
	BytesPerWaiting  float64   `json:"redis_bytes_per_waiting_job"`
	Commands         counts    `json:"redis_commands_by_name"`
}

// Check is one target of the issue, met or not.
type Check struct {
	Target string `json:"target"`
	Value  string `json:"value"`
	Met    bool   `json:"met"`
}
