package notifier

import (
	"math/rand/v2"
	"time"
)

// minBackoff is the base delay of the reconnect backoff: the first retry after
// a failure waits between minBackoff/2 and minBackoff.
const minBackoff = 100 * time.Millisecond

// reconnectBackoff returns how long to wait before reconnect attempt number
// attempt (1 for the first retry after a failure).
//
// The delay grows exponentially from minBackoff and is capped at maxBackoff.
// It uses "equal jitter": a uniformly random delay in [d/2, d], where d is the
// capped exponential delay, so that many processes that lost their connection
// at the same time (a server restart) do not reconnect in lockstep, while each
// one still waits a predictable minimum.
func reconnectBackoff(attempt int, maxBackoff time.Duration) time.Duration {
	d := minBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}
