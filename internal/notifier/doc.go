// Package notifier multiplexes PostgreSQL LISTEN/NOTIFY over a single,
// dedicated connection per process.
//
// The worker subscribes to wake-up channels (a task was dispatched on a queue)
// and the client subscribes to completion channels (an execution finished).
// Both use one Notifier, so a process holds exactly one listening connection
// whatever the number of subscribers.
//
// In Stent a notification is only a latency hint: every consumer also polls
// with a bounded interval, so a lost notification costs latency, never
// correctness. The notifier is therefore built to never block and to always
// tell subscribers when notifications may have been missed:
//
//   - The listen connection is acquired from the pool and hijacked, so pool
//     lifetime limits never close it. On any error (network failure, the
//     backend being terminated, a server restart) the notifier reconnects with
//     capped exponential backoff and jitter, LISTENs again on every channel and
//     sends a Notification with Reconnect set to every subscriber.
//   - Subscriptions are added and removed while the loop runs: the loop's wait
//     for notifications is interrupted to issue LISTEN and UNLISTEN.
//   - Delivery never blocks the loop. Each Subscription has a buffered channel;
//     when it is full, notifications are coalesced into a single Reconnect
//     notification (see Subscription for the exact guarantee) and counted by
//     Notifier.Dropped.
package notifier
