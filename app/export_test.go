package app

// Policy is policy, for tests.
var Policy = policy
