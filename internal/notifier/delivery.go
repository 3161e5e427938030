package notifier

// reconnectEvent is the synthetic "poll now" notification.
var reconnectEvent = Notification{Reconnect: true}

// dispatchLocked delivers a notification received on channel to every
// subscription of that channel. n.mu must be held.
func (n *Notifier) dispatchLocked(channel, payload string) {
	ev := Notification{Channel: channel, Payload: payload}
	for s := range n.subs[channel] {
		n.deliverLocked(s, ev)
	}
}

// broadcastReconnectLocked delivers a Reconnect notification to every
// subscription. n.mu must be held.
func (n *Notifier) broadcastReconnectLocked() {
	for s := range n.all {
		n.deliverLocked(s, reconnectEvent)
	}
}

// deliverLocked appends ev to s.ch without ever blocking, coalescing when the
// buffer is full as documented on Subscription. n.mu must be held, and s must
// not be unsubscribed (callers only reach s through n.subs or n.all).
//
// The loop is the only sender on s.ch and sends only under n.mu, so once it
// has made room by receiving an element, the following send cannot fail: the
// subscriber only ever removes elements.
func (n *Notifier) deliverLocked(s *Subscription, ev Notification) {
	select {
	case s.ch <- ev:
		s.lastWasMarker = ev.Reconnect
		return
	default:
	}

	// Full. If the last element appended is a Reconnect marker, it is still in
	// the buffer (elements leave in order and the buffer is not empty): the
	// subscriber will poll after reading it, so ev can go.
	if s.lastWasMarker {
		n.countDropLocked(s, ev)
		return
	}

	// Make room by evicting the oldest element, then append a marker so that
	// the subscriber polls after everything it did receive.
	select {
	case old := <-s.ch:
		n.countDropLocked(s, old)
	default:
		// The subscriber drained the buffer meanwhile: there is room for ev.
		select {
		case s.ch <- ev:
			s.lastWasMarker = ev.Reconnect
		default: // unreachable: see the function comment
		}
		return
	}
	select {
	case s.ch <- reconnectEvent:
		s.lastWasMarker = true
	default:
		// Unreachable: see the function comment.
	}
	n.countDropLocked(s, ev)
}

// countDropLocked counts ev as dropped unless it is a Reconnect marker, which
// carries no information of its own.
func (n *Notifier) countDropLocked(s *Subscription, ev Notification) {
	if ev.Reconnect {
		return
	}
	s.dropped.Add(1)
	n.dropped.Add(1)
}
