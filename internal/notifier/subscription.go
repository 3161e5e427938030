package notifier

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// SubscriptionBuffer is the capacity of every Subscription's channel.
const SubscriptionBuffer = 256

// maxChannelLen is PostgreSQL's identifier limit (NAMEDATALEN-1). Longer
// channel names would be truncated by the server, and their notifications
// would then come back under a name nobody subscribed to.
const maxChannelLen = 63

// Notification is a message received on a subscribed channel, or a synthetic
// "poll now" event.
type Notification struct {
	// Channel is the channel the notification was sent on; empty when
	// Reconnect is set.
	Channel string
	// Payload is the payload given to NOTIFY or pg_notify; empty when
	// Reconnect is set.
	Payload string
	// Reconnect marks a synthetic event meaning "notifications may have been
	// missed, poll now". It is sent to every subscriber each time the
	// notifier (re)connects and has LISTENed on every channel again, and in
	// place of notifications dropped because the subscriber's buffer was full.
	Reconnect bool
}

// Subscription receives the notifications of one or more channels. Create it
// with Notifier.Subscribe and release it with Unsubscribe.
//
// Delivery never blocks the notifier: C is buffered (SubscriptionBuffer). When
// C is full, the notifier coalesces instead of waiting. It discards the oldest
// buffered notification and appends a Reconnect notification, unless the last
// notification it appended is already a Reconnect one still waiting in the
// buffer; the new notification is discarded too. Discarded notifications
// (never Reconnect ones) are counted by Dropped and Notifier.Dropped. The
// guarantee for the subscriber is therefore: a buffer that is full always
// holds a pending wake-up, and whenever a notification meant for this
// subscription was discarded, a Reconnect notification is received after the
// point of loss, so polling on every Reconnect notification never misses
// anything.
type Subscription struct {
	// C receives the notifications. It is closed by Unsubscribe, after which
	// the notifications still buffered can be read.
	C <-chan Notification

	n        *Notifier
	ch       chan Notification
	channels []string
	ready    chan struct{}
	dropped  atomic.Uint64

	// Guarded by n.mu.
	readyClosed   bool
	unsubscribed  bool
	lastWasMarker bool // the last notification appended to ch is a Reconnect one
}

// ValidateChannel reports whether name can be subscribed to: it must be
// non-empty valid UTF-8 without NUL bytes and at most 63 bytes long (the
// PostgreSQL identifier limit). Callers that build channel names from user
// input (queue names) should check them with it, as Subscribe panics on
// invalid names.
func ValidateChannel(name string) error {
	switch {
	case name == "":
		return errors.New("notifier: empty channel name")
	case len(name) > maxChannelLen:
		return fmt.Errorf("notifier: channel name %q is longer than %d bytes", name, maxChannelLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("notifier: channel name %q is not valid UTF-8", name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("notifier: channel name %q contains a NUL byte", name)
	}
	return nil
}

// Subscribe returns a Subscription receiving the notifications sent on
// channels. Channels nobody listened on yet are LISTENed by the background
// loop, which is interrupted to do so if it is waiting; Ready tells when that
// is done. Subscribe may be called before Start. A subscription with no
// channels only receives Reconnect notifications.
//
// Subscribe panics if a channel name is invalid (see ValidateChannel).
func (n *Notifier) Subscribe(channels ...string) *Subscription {
	uniq := make([]string, 0, len(channels))
	seen := make(map[string]struct{}, len(channels))
	for _, c := range channels {
		if err := ValidateChannel(c); err != nil {
			panic(err)
		}
		if _, ok := seen[c]; !ok {
			seen[c] = struct{}{}
			uniq = append(uniq, c)
		}
	}

	ch := make(chan Notification, SubscriptionBuffer)
	s := &Subscription{C: ch, n: n, ch: ch, channels: uniq, ready: make(chan struct{})}

	n.mu.Lock()
	defer n.mu.Unlock()

	n.all[s] = struct{}{}
	for _, c := range uniq {
		set, ok := n.subs[c]
		if !ok {
			set = make(map[*Subscription]struct{})
			n.subs[c] = set
		}
		set[s] = struct{}{}
		if _, listening := n.active[c]; !listening {
			n.markDirtyLocked()
		}
	}
	s.markReadyLocked(n.active)
	return s
}

// Ready returns a channel that is closed once every channel of the
// subscription is LISTENed on a live connection, i.e. once NOTIFYs sent from
// then on will be delivered (unless the connection is lost, which is reported
// by a Reconnect notification). It is closed only once, for the first
// connection that listens (at once for a subscription without channels); it
// is never closed if Unsubscribe comes first.
func (s *Subscription) Ready() <-chan struct{} {
	return s.ready
}

// Channels returns the channels of the subscription, without duplicates.
func (s *Subscription) Channels() []string {
	return append([]string(nil), s.channels...)
}

// Dropped returns the number of notifications discarded for this
// subscription because C was full.
func (s *Subscription) Dropped() uint64 {
	return s.dropped.Load()
}

// Unsubscribe stops delivery to the subscription and closes C. Channels left
// without subscribers are UNLISTENed by the background loop. It is
// idempotent.
func (s *Subscription) Unsubscribe() {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()

	if s.unsubscribed {
		return
	}
	s.unsubscribed = true
	delete(n.all, s)
	for _, c := range s.channels {
		set := n.subs[c]
		delete(set, s)
		if len(set) == 0 {
			delete(n.subs, c)
			if _, listening := n.active[c]; listening {
				n.markDirtyLocked()
			}
		}
	}
	// Every send to s.ch happens under n.mu after checking membership in
	// n.subs or n.all, so closing here cannot race with a send.
	close(s.ch)
}

// markDirtyLocked records that LISTEN or UNLISTEN is needed and interrupts
// the loop's wait so that it issues them. n.mu must be held.
func (n *Notifier) markDirtyLocked() {
	n.dirty = true
	if n.waitCancel != nil {
		n.waitCancel()
	}
}

// markReadyLocked closes s.ready if all its channels are in active. n.mu must
// be held.
func (s *Subscription) markReadyLocked(active map[string]struct{}) {
	if s.readyClosed {
		return
	}
	for _, c := range s.channels {
		if _, ok := active[c]; !ok {
			return
		}
	}
	s.readyClosed = true
	close(s.ready)
}
