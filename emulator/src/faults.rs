//! The faults a test can switch on, and the decisions they make. Pure: every decision takes `now`, so the unit
//! tests below step a fake clock; [`crate::Emulator`] passes the real one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How one request fails when [`crate::Emulator::fail_next`] asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and Route53's error body (500 `InternalFailure`, 503 `ServiceUnavailable`, or
    /// any other status with the code `InternalFailure`). In-process: [`Route53Error::Server`].
    ///
    /// [`Route53Error::Server`]: route53_registrator::route53::Route53Error::Server
    Status(u16),
    /// Close the connection without an answer. In-process: [`Route53Error::Transport`]. The request is not
    /// processed.
    ///
    /// [`Route53Error::Transport`]: route53_registrator::route53::Route53Error::Transport
    Reset,
    /// Wait this long, then process the request and answer as usual (so a client that gave up may still find its
    /// change applied, as with the real service).
    Stall(Duration),
}

/// The old single-rate bucket, kept at this path; EC2's throttle is one ([`Faults::set_throttle`]).
pub use crate::quota::TokenBucket;

/// Every fault setting, as the tests left it.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    queued: VecDeque<Fault>,
    throttle: Option<TokenBucket>,
    prior_request_window: Duration,
    insync_delay: Duration,
    legacy_invalid_change_batch: bool,
}

impl Faults {
    /// Queues `fault` for each of the next `count` requests (after any already queued).
    pub fn fail_next(&mut self, count: usize, fault: Fault) {
        self.queued.extend(std::iter::repeat_n(fault, count));
    }

    /// Drops the queued faults: the requests that arrive from now on get none of them.
    pub fn clear_queued(&mut self) {
        self.queued.clear();
    }

    /// The fault the request arriving now must suffer, if any (consumed).
    pub fn take_fault(&mut self) -> Option<Fault> {
        self.queued.pop_front()
    }

    /// Throttles the API to `per_second` requests per second (a burst of one second's worth), or lifts the
    /// throttle (`None`). EC2's throttle; Route53's is [`crate::quota::RequestThrottle`].
    pub fn set_throttle(&mut self, per_second: Option<f64>, now: Instant) {
        self.throttle = per_second.map(|rate| TokenBucket::new(rate, now));
    }

    /// Whether a request arriving `now` passes the throttle.
    pub fn admit(&mut self, now: Instant) -> bool {
        self.throttle
            .as_mut()
            .is_none_or(|bucket| bucket.try_acquire(now))
    }

    /// Sets how long after an accepted change to a zone the next change to it is refused.
    pub fn set_prior_request_window(&mut self, window: Duration) {
        self.prior_request_window = window;
    }

    /// Whether a change arriving `now` finds the zone's previous accepted change (at `last_change`) unfinished.
    pub fn prior_request_pending(&self, last_change: Option<Instant>, now: Instant) -> bool {
        last_change
            .is_some_and(|last| now.saturating_duration_since(last) < self.prior_request_window)
    }

    /// Sets how long a change stays `PENDING`.
    pub fn set_insync_delay(&mut self, delay: Duration) {
        self.insync_delay = delay;
    }

    /// GetChange's status for a change submitted at `submitted`.
    pub fn change_status(&self, submitted: Instant, now: Instant) -> &'static str {
        if now.saturating_duration_since(submitted) >= self.insync_delay {
            "INSYNC"
        } else {
            "PENDING"
        }
    }

    /// Chooses the `<InvalidChangeBatch><Messages>` body over `<ErrorResponse>` for rejected batches.
    pub fn set_legacy_invalid_change_batch(&mut self, legacy: bool) {
        self.legacy_invalid_change_batch = legacy;
    }

    /// Whether rejected batches get the legacy body.
    pub fn legacy_invalid_change_batch(&self) -> bool {
        self.legacy_invalid_change_batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn bucket_allows_a_burst_of_one_second_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(5.0, t0);
        assert!(
            (0..5).all(|_| bucket.try_acquire(t0)),
            "a full bucket admits 5 at once"
        );
        assert!(
            !bucket.try_acquire(t0),
            "the 6th in the same instant is throttled"
        );
        assert!(
            !bucket.try_acquire(t0 + 199 * MS),
            "less than 1/5 s later there is no token yet"
        );
        assert!(
            bucket.try_acquire(t0 + 200 * MS),
            "1/5 s later one token is back"
        );
        assert!(!bucket.try_acquire(t0 + 200 * MS));
        assert!(
            (0..5).all(|_| bucket.try_acquire(t0 + 10_000 * MS)),
            "refill stops at the capacity"
        );
        assert!(!bucket.try_acquire(t0 + 10_000 * MS));
    }

    #[test]
    fn slow_bucket_still_admits_one() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(0.5, t0);
        assert!(bucket.try_acquire(t0));
        assert!(!bucket.try_acquire(t0 + 1_999 * MS));
        assert!(bucket.try_acquire(t0 + 2_000 * MS));
    }

    #[test]
    fn faults_are_consumed_in_order() {
        let mut faults = Faults::default();
        faults.fail_next(2, Fault::Status(503));
        faults.fail_next(1, Fault::Reset);
        assert_eq!(faults.take_fault(), Some(Fault::Status(503)));
        assert_eq!(faults.take_fault(), Some(Fault::Status(503)));
        assert_eq!(faults.take_fault(), Some(Fault::Reset));
        assert_eq!(faults.take_fault(), None);
    }

    #[test]
    fn no_throttle_admits_everything() {
        let mut faults = Faults::default();
        let t0 = Instant::now();
        assert!((0..1000).all(|_| faults.admit(t0)));
        faults.set_throttle(Some(1.0), t0);
        assert!(faults.admit(t0));
        assert!(!faults.admit(t0));
        faults.set_throttle(None, t0);
        assert!(faults.admit(t0));
    }

    #[test]
    fn prior_request_window_counts_from_the_last_accepted_change() {
        let mut faults = Faults::default();
        let t0 = Instant::now();
        assert!(
            !faults.prior_request_pending(Some(t0), t0),
            "no window: never pending"
        );
        faults.set_prior_request_window(100 * MS);
        assert!(
            !faults.prior_request_pending(None, t0),
            "a zone never changed has nothing pending"
        );
        assert!(faults.prior_request_pending(Some(t0), t0 + 99 * MS));
        assert!(!faults.prior_request_pending(Some(t0), t0 + 100 * MS));
    }

    #[test]
    fn change_is_pending_until_the_delay_passed() {
        let mut faults = Faults::default();
        let t0 = Instant::now();
        assert_eq!(faults.change_status(t0, t0), "INSYNC");
        faults.set_insync_delay(50 * MS);
        assert_eq!(faults.change_status(t0, t0 + 49 * MS), "PENDING");
        assert_eq!(faults.change_status(t0, t0 + 50 * MS), "INSYNC");
    }
}
