//! Pure: the lower bound of a workload, "the minimum the quota itself forces" (issue 9, point 1).
//!
//! The account's quota is a token bucket (the model's account-wide bucket: `refill_per_second` tokens a second,
//! holding at most `capacity`, full when the workload starts). The requests a workload cannot do without each take one token;
//! each arrives when its input was fed and is served first come, first served, as soon as a token is there.
//! The bound is the instant the last of them is served. It ignores everything but the quota (the debounce,
//! the round trips, a change having to wait for its read), so no writer can beat it.

use std::time::Duration;

use route53_emulator::BucketLimit;

/// The instant (from the workload's start) by which a token bucket of `bucket.refill_per_second` tokens per
/// second, holding `bucket.capacity` tokens at the start and never more, has served every request arriving at
/// `arrivals` (in any order), first come, first served. Zero for no request.
pub fn lower_bound(arrivals: &[Duration], bucket: BucketLimit) -> Duration {
    let (rate, burst) = (bucket.refill_per_second, bucket.capacity);
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
    // The old model's bucket (5 a second, holding one second's worth) and the documented account's.
    let old = BucketLimit::new(5.0, 5.0);
    let documented = route53_emulator::quota::DOCUMENTED_ACCOUNT;
    close(lower_bound(&[], old), 0.0, "no request");
    // Ten at once: five from the full bucket at 0, then one every 200 ms.
    close(
        lower_bound(&at_once(10, Duration::ZERO), old),
        1.0,
        "ten at once",
    );
    // Sparse arrivals never wait: the last one is served when it arrives.
    let sparse: Vec<Duration> = (0..10).map(|i| secs(i as f64)).collect();
    close(lower_bound(&sparse, old), 9.0, "one a second");
    // The bucket refills while idle, but never beyond its burst: five at 0 empty it, ten at 10 s find five
    // tokens (not ten) and wait 200 ms each for the other five.
    let mut two_bursts = at_once(5, Duration::ZERO);
    two_bursts.extend(at_once(10, secs(10.0)));
    close(lower_bound(&two_bursts, old), 11.0, "two bursts");
    // Order of the input does not matter.
    let mut reversed = two_bursts.clone();
    reversed.reverse();
    close(lower_bound(&reversed, old), 11.0, "unsorted input");

    // The documented account's bucket, as a table: (what, arrivals, the bound in seconds).
    let mut two_bursts = at_once(50, Duration::ZERO);
    two_bursts.extend(at_once(60, secs(10.0)));
    let documented_cases: [(&str, Vec<Duration>, f64); 6] = [
        ("documented, no request", Vec::new(), 0.0),
        // Fifty at once all come out of the full bucket at 0.
        (
            "documented, fifty at once",
            at_once(50, Duration::ZERO),
            0.0,
        ),
        // The fifty-first waits for the first refill, a tenth of a second.
        (
            "documented, fifty-one at once",
            at_once(51, Duration::ZERO),
            0.1,
        ),
        // Sixty at once: fifty at 0, then the other ten one every 100 ms.
        (
            "documented, sixty at once",
            at_once(60, Duration::ZERO),
            1.0,
        ),
        // Refilled while idle up to its capacity only: fifty at 0 empty it, sixty at 10 s find fifty tokens
        // (not a hundred) and the other ten wait 100 ms each.
        ("documented, two bursts", two_bursts, 11.0),
        // Ten a second, as fast as it refills, never wait.
        (
            "documented, ten a second",
            (0..100).map(|i| secs(f64::from(i) / 10.0)).collect(),
            9.9,
        ),
    ];
    for (what, arrivals, want) in documented_cases {
        close(lower_bound(&arrivals, documented), want, what);
    }
}
