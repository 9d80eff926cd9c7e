//! Pure: the lower bound of a workload, "the minimum the quota itself forces" (issue 9, point 1).
//!
//! The account's quota is a token bucket (the emulator's throttle: `rate` tokens a second, holding at most
//! `burst`, full when the workload starts). The requests a workload cannot do without each take one token;
//! each arrives when its input was fed and is served first come, first served, as soon as a token is there.
//! The bound is the instant the last of them is served. It ignores everything but the quota (the debounce,
//! the round trips, a change having to wait for its read), so no writer can beat it.

use std::time::Duration;

/// The instant (from the workload's start) by which a token bucket of `rate` tokens per second, holding
/// `burst` tokens at the start and never more, has served every request arriving at `arrivals` (in any
/// order), first come, first served. Zero for no request.
pub fn lower_bound(arrivals: &[Duration], rate: f64, burst: f64) -> Duration {
    let mut arrivals = arrivals.to_vec();
    arrivals.sort();
    let (mut tokens, mut clock) = (burst, 0.0_f64);
    for arrival in arrivals {
        // A request is served no earlier than it arrives, nor before the one ahead of it.
        let at = arrival.as_secs_f64().max(clock);
        tokens = (tokens + (at - clock) * rate).min(burst);
        clock = at;
        if tokens < 1.0 {
            clock += (1.0 - tokens) / rate;
            tokens = 1.0;
        }
        tokens -= 1.0;
    }
    Duration::from_secs_f64(clock)
}

/// `count` requests that all arrive at `at`.
pub fn at_once(count: usize, at: Duration) -> Vec<Duration> {
    vec![at; count]
}

/// The bound's checks. `harness = false` compiles no `#[test]`, so the bench runs these at every start
/// (in microseconds) instead: a wrong bound would make every ratio it prints wrong.
pub fn check() {
    let secs = Duration::from_secs_f64;
    let close = |got: Duration, want: f64, what: &str| {
        assert!(
            (got.as_secs_f64() - want).abs() < 1e-6,
            "lower bound, {what}: {got:?}, expected {want} s"
        );
    };
    close(lower_bound(&[], 5.0, 5.0), 0.0, "no request");
    // Ten at once: five from the full bucket at 0, then one every 200 ms.
    close(
        lower_bound(&at_once(10, Duration::ZERO), 5.0, 5.0),
        1.0,
        "ten at once",
    );
    // Sparse arrivals never wait: the last one is served when it arrives.
    let sparse: Vec<Duration> = (0..10).map(|i| secs(i as f64)).collect();
    close(lower_bound(&sparse, 5.0, 5.0), 9.0, "one a second");
    // The bucket refills while idle, but never beyond its burst: five at 0 empty it, ten at 10 s find five
    // tokens (not ten) and wait 200 ms each for the other five.
    let mut two_bursts = at_once(5, Duration::ZERO);
    two_bursts.extend(at_once(10, secs(10.0)));
    close(lower_bound(&two_bursts, 5.0, 5.0), 11.0, "two bursts");
    // Order of the input does not matter.
    let mut reversed = two_bursts.clone();
    reversed.reverse();
    close(lower_bound(&reversed, 5.0, 5.0), 11.0, "unsorted input");
}
