// Package freeswitch is bgcall's FreeSWITCH vocabulary: hangup causes, command
// results, event and header names, and builders that turn typed arguments into
// one safe API command line.
//
// Nothing here does I/O. The builders exist because a FreeSWITCH command line is
// parsed several times (the event socket splits lines, the API splits arguments
// on blanks, originate splits {} variables on commas), and each pass has its own
// quoting rules; a value that is harmless to one pass can end a variable, start a
// new one, or add a destination in the next. The builders therefore refuse what
// they cannot neutralise and escape the rest, so that a caller's number or name
// can never become a second command.
package freeswitch
