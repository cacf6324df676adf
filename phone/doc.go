// Package phone is the terminal side of background calling: what a
// subscriber does from an unmodified phone.
//
// Feature codes. The dialplan sends *88<B> (switch background calling to B
// on) and *89<B> (switch it off; *89 alone: all of the caller's) to
// bgcall's listener with FreeSWITCH's socket application, the event
// socket's outbound mode. The server answers the channel, takes A from the
// caller id and B from the digits after the prefix, creates or cancels the
// session through the engine, plays the result and hangs up.
//
// The automatic offer. Observe watches the hangups of ordinary calls
// (session.Options.Observe hands it every event no session claims). A
// caller's inbound leg whose bridge ended unanswered — originate_disposition
// NO_ANSWER, USER_BUSY, NO_USER_RESPONSE, or ORIGINATOR_CANCEL once B was
// ringing — counts one more unanswered call from A to B in Redis
// (store.Missed); SUCCESS (B answered) ends the run. The shipped dialplan
// hands a failed call's still-up leg to the same listener instead of
// hanging up: below the threshold the server hangs it up with the bridge's
// own cause, so A's phone sees what it would have seen; at the threshold it
// answers, plays the offer and reads one digit, and 1 switches background
// calling on. Without that hook an OfferNotifier can send the offer as a
// message instead.
//
// Counting the caller's leg, not B's, makes each call count once whatever
// B did: a bridge may dial no B leg at all (B not registered) or several
// (forks), but the caller's leg is one per call and carries the bridge's
// verdict. A call reported twice — by its hangup and by the hook, which
// may arrive in either order — is counted under its leg UUID once.
//
// eslgo's outbound server is used as it is, with its defects kept out:
// its listener cannot be closed, so it listens on a private loopback port
// behind a listener the server owns and closes (a connection is relayed
// byte for byte); its event listeners run one goroutine per event, so
// nothing here depends on event order — a wait ends on its own
// Application-UUID or on the channel's hangup; its replies share one
// channel, so each connection sends one command at a time and is dropped
// after any command that timed out; its logger prints to stdout, so it is
// silenced. Every connection is checked against the esl pool (its
// Core-UUID is a connected node's, and uuid_exists confirms the channel)
// before anything is done for it.
package phone
