//! Route53's request quotas as token buckets, as the AWS Route53 Developer Guide describes them since 2026
//! ("Throttling for Amazon Route 53 API requests"). Pure: every decision takes `now`, so the unit tests below step a
//! fake clock; [`crate::Emulator`] passes the real one.
//!
//! A bucket's capacity is the burst it absorbs at once, its refill rate the rate it sustains; a refill that finds
//! the bucket full is lost. A request draws from every bucket that applies to it:
//!
//! - the account's (every Route53 action together), documented at 50 / 10 per second;
//! - its action's, documented at 50 / 10 per second for most actions and lower for a few (CreateHostedZone 40 / 2);
//! - the change throughput's (individual DNS record changes, across the actions that modify DNS data), whose numbers
//!   and unit are not published: it is off unless a test or a flag sets it.
//!
//! A throttled request takes no token from any bucket: every bucket is checked before any is drawn from.
//!
//! Beside this model stays the old one ([`RequestThrottle::set_single_rate`]): `N` requests per second for the
//! account, a burst of one second's worth, no per-action bucket.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use route53_registrator::route53::Change;

use crate::Operation;

/// A bucket's size and speed: `capacity` tokens at most, `refill_per_second` tokens added each second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketLimit {
    /// The burst the bucket absorbs at once.
    pub capacity: f64,
    /// The rate it sustains.
    pub refill_per_second: f64,
}

impl BucketLimit {
    /// A bucket of `capacity` tokens refilled at `refill_per_second`.
    pub const fn new(capacity: f64, refill_per_second: f64) -> Self {
        BucketLimit {
            capacity,
            refill_per_second,
        }
    }

    /// The old model's bucket: `per_second` a second, holding one second's worth (at least one request).
    pub fn one_second_of(per_second: f64) -> Self {
        let per_second = per_second.max(f64::MIN_POSITIVE);
        BucketLimit::new(per_second.max(1.0), per_second)
    }
}

/// `CAPACITY/REFILL`, as the binary's flags take it: `50/10`, `40/2`, `5/0.5`.
impl FromStr for BucketLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (capacity, refill) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}`: expected CAPACITY/REFILL_PER_SECOND, as `50/10`"))?;
        let number = |part: &str, what: &str| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("`{text}`: the {what} must be a number of at least 0"))
        };
        let limit = BucketLimit::new(number(capacity, "capacity")?, number(refill, "refill")?);
        // A bucket that cannot hold one token would throttle every request for ever.
        if limit.capacity < 1.0 {
            return Err(format!("`{text}`: the capacity must be at least 1"));
        }
        Ok(limit)
    }
}

impl fmt::Display for BucketLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.capacity, self.refill_per_second)
    }
}

/// What the change-throughput bucket counts as one change. Route53 does not say, so it is a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeUnit {
    /// One `Change` element of a batch.
    Change,
    /// One record value (`ResourceRecord`) of a batch's changes.
    Value,
}

impl ChangeUnit {
    /// How many changes of this unit `batch` holds.
    pub fn count(self, batch: &[Change]) -> f64 {
        let count = match self {
            ChangeUnit::Change => batch.len(),
            ChangeUnit::Value => batch.iter().map(|c| c.record_set.values.len()).sum(),
        };
        count as f64
    }
}

/// `change` or `value`, as the binary's flags take it.
impl FromStr for ChangeUnit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "change" => Ok(ChangeUnit::Change),
            "value" => Ok(ChangeUnit::Value),
            _ => Err(format!("`{text}`: expected `change` or `value`")),
        }
    }
}

/// The change-throughput bucket's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChangeThroughput {
    /// Its capacity and refill, in changes.
    pub limit: BucketLimit,
    /// What counts as one change.
    pub unit: ChangeUnit,
}

/// The quota model's settings: which buckets there are and how big. `None` is no such bucket; the default has none
/// (unthrottled).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quota {
    /// The bucket every request draws from.
    pub account: Option<BucketLimit>,
    /// The bucket of every action not in `action_overrides`, one per action.
    pub per_action: Option<BucketLimit>,
    /// Actions whose bucket differs from `per_action`.
    pub action_overrides: BTreeMap<Operation, BucketLimit>,
    /// The bucket of record changes, for the actions that modify DNS data.
    pub change_throughput: Option<ChangeThroughput>,
}

/// The documented account bucket: 50 requests at once, 10 per second.
pub const DOCUMENTED_ACCOUNT: BucketLimit = BucketLimit::new(50.0, 10.0);
/// The documented bucket of an action without a lower quota: 50 at once, 10 per second.
pub const DOCUMENTED_PER_ACTION: BucketLimit = BucketLimit::new(50.0, 10.0);
/// CreateHostedZone's documented bucket: 40 at once, 2 per second.
pub const DOCUMENTED_CREATE_HOSTED_ZONE: BucketLimit = BucketLimit::new(40.0, 2.0);

impl Quota {
    /// The quotas the guide documents: account 50 / 10 per second, each action 50 / 10 per second,
    /// CreateHostedZone 40 / 2 per second; no change-throughput bucket (its numbers are not published).
    pub fn documented() -> Self {
        Quota {
            account: Some(DOCUMENTED_ACCOUNT),
            per_action: Some(DOCUMENTED_PER_ACTION),
            action_overrides: BTreeMap::from([(
                Operation::CreateHostedZone,
                DOCUMENTED_CREATE_HOSTED_ZONE,
            )]),
            change_throughput: None,
        }
    }

    /// This quota with `operation`'s bucket set to `limit`.
    pub fn with_action(mut self, operation: Operation, limit: BucketLimit) -> Self {
        self.action_overrides.insert(operation, limit);
        self
    }

    /// This quota with a change-throughput bucket.
    pub fn with_change_throughput(mut self, limit: BucketLimit, unit: ChangeUnit) -> Self {
        self.change_throughput = Some(ChangeThroughput { limit, unit });
        self
    }

    /// The bucket of `operation`, if it has one.
    pub fn action_limit(&self, operation: Operation) -> Option<BucketLimit> {
        self.action_overrides
            .get(&operation)
            .copied()
            .or(self.per_action)
    }
}

/// One token bucket, refilled continuously.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    limit: BucketLimit,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// The old model's full bucket allowing `per_second` requests per second (a burst of `max(1, per_second)`).
    pub fn new(per_second: f64, now: Instant) -> Self {
        TokenBucket::full(BucketLimit::one_second_of(per_second), now)
    }

    /// A bucket of `limit`, full at `now`.
    pub fn full(limit: BucketLimit, now: Instant) -> Self {
        TokenBucket {
            limit,
            tokens: limit.capacity,
            last: now,
        }
    }

    /// Takes a token if one is there: `true` admits the request, `false` throttles it (and costs nothing).
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        self.refill(now);
        let admitted = self.holds(1.0);
        if admitted {
            self.take(1.0);
        }
        admitted
    }

    /// Adds what the time since the last refill earned, up to the capacity (the rest is lost).
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.limit.refill_per_second).min(self.limit.capacity);
        self.last = now.max(self.last);
    }

    /// Whether `cost` tokens are there. The slack absorbs floating-point error: 0.1 s at 10/s is one token.
    fn holds(&self, cost: f64) -> bool {
        self.tokens + 1e-9 >= cost
    }

    fn take(&mut self, cost: f64) {
        self.tokens = (self.tokens - cost).max(0.0);
    }
}

/// The bucket that throttled a request (the first found empty, in the order account, action, change throughput).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limiter {
    /// The old model's account-wide bucket.
    SingleRate,
    /// The quota model's account bucket.
    Account,
    /// The quota model's bucket of this action.
    Action(Operation),
    /// The quota model's change-throughput bucket.
    ChangeThroughput,
}

/// The quota model's buckets, made as requests need them (a bucket made full at its first request is the bucket
/// that was full since the quota was set, as a full bucket loses its refill).
#[derive(Clone, Debug)]
struct QuotaBuckets {
    quota: Quota,
    account: Option<TokenBucket>,
    actions: BTreeMap<Operation, TokenBucket>,
    changes: Option<TokenBucket>,
}

/// Route53's request throttle: the old single-rate model, the quota model, both, or neither (unthrottled). A
/// request must pass every bucket of whichever is set.
#[derive(Clone, Debug, Default)]
pub struct RequestThrottle {
    single_rate: Option<TokenBucket>,
    quota: Option<QuotaBuckets>,
}

impl RequestThrottle {
    /// Sets the old model (`per_second` for the account, a burst of one second's worth, no per-action bucket),
    /// full at `now`, or lifts it (`None`).
    pub fn set_single_rate(&mut self, per_second: Option<f64>, now: Instant) {
        self.single_rate = per_second.map(|rate| TokenBucket::new(rate, now));
    }

    /// Sets the quota model, every bucket full, or lifts it (`None`).
    pub fn set_quota(&mut self, quota: Option<Quota>, now: Instant) {
        self.quota = quota.map(|quota| QuotaBuckets {
            account: quota.account.map(|limit| TokenBucket::full(limit, now)),
            changes: quota
                .change_throughput
                .map(|c| TokenBucket::full(c.limit, now)),
            actions: BTreeMap::new(),
            quota,
        });
    }

    /// The quota model as set, if it is.
    pub fn quota(&self) -> Option<&Quota> {
        self.quota.as_ref().map(|q| &q.quota)
    }

    /// Whether a request of `operation` carrying `batch` (empty but for ChangeResourceRecordSets) passes at `now`.
    /// Admitted, it takes its tokens from every bucket that applies; throttled, it takes none and names the bucket.
    pub fn admit(
        &mut self,
        operation: Operation,
        batch: &[Change],
        now: Instant,
    ) -> Result<(), Limiter> {
        let mut draws = self.draws(operation, batch, now);
        for (bucket, cost, limiter) in draws.iter_mut() {
            bucket.refill(now);
            if !bucket.holds(*cost) {
                return Err(*limiter);
            }
        }
        for (bucket, cost, _) in draws {
            bucket.take(cost);
        }
        Ok(())
    }

    /// Every bucket the request draws from, with its cost, in the order [`Limiter`] names.
    fn draws(
        &mut self,
        operation: Operation,
        batch: &[Change],
        now: Instant,
    ) -> Vec<(&mut TokenBucket, f64, Limiter)> {
        let mut draws = Vec::new();
        if let Some(bucket) = self.single_rate.as_mut() {
            draws.push((bucket, 1.0, Limiter::SingleRate));
        }
        let Some(quota) = self.quota.as_mut() else {
            return draws;
        };
        if let Some(bucket) = quota.account.as_mut() {
            draws.push((bucket, 1.0, Limiter::Account));
        }
        if let Some(limit) = quota.quota.action_limit(operation) {
            let bucket = quota
                .actions
                .entry(operation)
                .or_insert_with(|| TokenBucket::full(limit, now));
            draws.push((bucket, 1.0, Limiter::Action(operation)));
        }
        if let (Some(bucket), Some(settings)) =
            (quota.changes.as_mut(), quota.quota.change_throughput)
        {
            // Only the actions that modify DNS data carry changes; a request without any does not draw.
            let cost = settings.unit.count(batch);
            if cost > 0.0 {
                draws.push((bucket, cost, Limiter::ChangeThroughput));
            }
        }
        draws
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use route53_registrator::route53::{ChangeAction, RecordSet};
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);
    const GET: Operation = Operation::GetHostedZone;
    const LIST: Operation = Operation::ListResourceRecordSets;
    const CHANGE: Operation = Operation::ChangeResourceRecordSets;

    fn documented(t0: Instant) -> RequestThrottle {
        let mut throttle = RequestThrottle::default();
        throttle.set_quota(Some(Quota::documented()), t0);
        throttle
    }

    /// How many of `count` requests of `operation` at `now` are admitted.
    fn admitted(
        throttle: &mut RequestThrottle,
        operation: Operation,
        count: usize,
        now: Instant,
    ) -> usize {
        (0..count)
            .filter(|_| throttle.admit(operation, &[], now).is_ok())
            .count()
    }

    /// A batch of `changes` CREATEs of A record sets holding `values` values each.
    fn batch(changes: usize, values: usize) -> Vec<Change> {
        (0..changes)
            .map(|i| Change {
                action: ChangeAction::Create,
                record_set: RecordSet {
                    values: (0..values).map(|v| format!("10.0.{i}.{v}")).collect(),
                    ..RecordSet::a(format!("r{i}.service.discovery."), "")
                },
            })
            .collect()
    }

    #[test]
    fn documented_quota_admits_a_burst_of_50_then_10_per_second() {
        let t0 = Instant::now();
        let mut throttle = documented(t0);
        // (offset from t0, requests sent at that instant, how many the quota admits)
        let table = [
            (0, 60, 50),      // the burst: the buckets' capacity
            (50, 5, 0),       // 50 ms refills half a token
            (100, 5, 1),      // 100 ms refills one
            (1100, 20, 10),   // one second more refills ten
            (60_000, 80, 50), // a long pause refills up to the capacity, no more
        ];
        for (offset, sent, expected) in table {
            let now = t0 + offset * MS;
            assert_eq!(
                admitted(&mut throttle, GET, sent, now),
                expected,
                "{sent} requests at +{offset} ms"
            );
        }
    }

    #[test]
    fn create_hosted_zone_has_its_own_lower_bucket() {
        let t0 = Instant::now();
        let mut throttle = documented(t0);
        assert_eq!(
            admitted(&mut throttle, Operation::CreateHostedZone, 45, t0),
            40
        );
        assert_eq!(
            admitted(
                &mut throttle,
                Operation::CreateHostedZone,
                5,
                t0 + 1000 * MS
            ),
            2,
            "CreateHostedZone refills 2 per second, though the account refilled 10"
        );
    }

    #[test]
    fn an_action_empties_its_bucket_while_the_account_still_has_tokens() {
        let t0 = Instant::now();
        let mut throttle = RequestThrottle::default();
        let quota = Quota {
            account: Some(BucketLimit::new(50.0, 10.0)),
            per_action: Some(BucketLimit::new(50.0, 10.0)),
            ..Quota::default()
        }
        .with_action(GET, BucketLimit::new(5.0, 1.0));
        throttle.set_quota(Some(quota), t0);
        assert_eq!(admitted(&mut throttle, GET, 5, t0), 5);
        assert_eq!(throttle.admit(GET, &[], t0), Err(Limiter::Action(GET)));
        assert_eq!(
            admitted(&mut throttle, LIST, 45, t0),
            45,
            "the account bucket kept the 45 tokens GET did not take"
        );
        assert_eq!(throttle.admit(LIST, &[], t0), Err(Limiter::Account));
    }

    #[test]
    fn the_account_empties_while_each_action_still_has_tokens() {
        let t0 = Instant::now();
        let mut throttle = documented(t0);
        assert_eq!(admitted(&mut throttle, GET, 30, t0), 30);
        assert_eq!(admitted(&mut throttle, LIST, 20, t0), 20);
        assert_eq!(
            throttle.admit(GET, &[], t0),
            Err(Limiter::Account),
            "GET's bucket holds 20 more, but the account is empty"
        );
        assert_eq!(throttle.admit(LIST, &[], t0), Err(Limiter::Account));
    }

    #[test]
    fn a_large_batch_is_throttled_by_the_change_bucket_while_small_ones_pass() {
        // (unit, the large batch's changes and values each, the small batch's)
        let table = [
            (ChangeUnit::Change, (11, 1), (3, 1)),
            (ChangeUnit::Value, (2, 6), (1, 3)),
        ];
        for (unit, large, small) in table {
            let t0 = Instant::now();
            let mut throttle = RequestThrottle::default();
            let quota =
                Quota::documented().with_change_throughput(BucketLimit::new(10.0, 1.0), unit);
            throttle.set_quota(Some(quota), t0);
            let (large, small) = (batch(large.0, large.1), batch(small.0, small.1));
            assert_eq!(
                throttle.admit(CHANGE, &large, t0),
                Err(Limiter::ChangeThroughput),
                "{unit:?}: the large batch costs more than the 10 the bucket holds"
            );
            assert_eq!(throttle.admit(CHANGE, &small, t0), Ok(()), "{unit:?}");
            assert_eq!(throttle.admit(CHANGE, &small, t0), Ok(()), "{unit:?}");
            assert_eq!(
                throttle.admit(CHANGE, &small, t0),
                Ok(()),
                "{unit:?}: 9 of 10 taken"
            );
            assert_eq!(
                throttle.admit(CHANGE, &small, t0),
                Err(Limiter::ChangeThroughput),
                "{unit:?}: 1 left"
            );
            assert_eq!(
                throttle.admit(GET, &[], t0),
                Ok(()),
                "{unit:?}: a request without changes does not draw from the change bucket"
            );
        }
    }

    #[test]
    fn a_throttled_request_takes_no_token_from_any_bucket() {
        let t0 = Instant::now();
        let mut throttle = RequestThrottle::default();
        let quota = Quota {
            account: Some(BucketLimit::new(6.0, 1.0)),
            per_action: Some(BucketLimit::new(3.0, 0.0)),
            ..Quota::default()
        }
        .with_action(CHANGE, BucketLimit::new(6.0, 0.0))
        .with_change_throughput(BucketLimit::new(4.0, 0.0), ChangeUnit::Change);
        throttle.set_quota(Some(quota), t0);
        for _ in 0..10 {
            assert_eq!(
                throttle.admit(CHANGE, &batch(5, 1), t0),
                Err(Limiter::ChangeThroughput)
            );
        }
        assert_eq!(admitted(&mut throttle, GET, 13, t0), 3);
        assert_eq!(throttle.admit(GET, &[], t0), Err(Limiter::Action(GET)));
        assert_eq!(
            admitted(&mut throttle, LIST, 3, t0),
            3,
            "the account kept 3 of its 6: the refusals by the change and GET's buckets took none"
        );
        for _ in 0..5 {
            assert_eq!(
                throttle.admit(CHANGE, &batch(4, 1), t0),
                Err(Limiter::Account)
            );
        }
        assert_eq!(
            throttle.admit(CHANGE, &batch(4, 1), t0 + 1000 * MS),
            Ok(()),
            "one account token back; the change bucket (no refill) kept its 4 through 15 refusals"
        );
    }

    #[test]
    fn the_old_model_is_one_account_bucket_of_one_seconds_worth() {
        let t0 = Instant::now();
        let mut throttle = RequestThrottle::default();
        throttle.set_single_rate(Some(5.0), t0);
        assert_eq!(admitted(&mut throttle, GET, 8, t0), 5);
        assert_eq!(
            throttle.admit(LIST, &[], t0),
            Err(Limiter::SingleRate),
            "no per-action bucket"
        );
        assert_eq!(admitted(&mut throttle, LIST, 3, t0 + 200 * MS), 1);
        throttle.set_single_rate(None, t0);
        assert_eq!(
            admitted(&mut throttle, GET, 1000, t0),
            1000,
            "both unset: unthrottled"
        );
    }

    #[test]
    fn with_both_models_set_a_request_must_pass_both() {
        let t0 = Instant::now();
        let mut throttle = documented(t0);
        throttle.set_single_rate(Some(2.0), t0);
        assert_eq!(admitted(&mut throttle, GET, 5, t0), 2);
        throttle.set_single_rate(None, t0);
        assert_eq!(
            admitted(&mut throttle, GET, 60, t0),
            48,
            "the old model's refusals took nothing from the quota's buckets"
        );
    }

    #[test]
    fn bucket_limits_parse_as_capacity_slash_refill() {
        let table = [
            ("50/10", Ok(BucketLimit::new(50.0, 10.0))),
            (" 40 / 2 ", Ok(BucketLimit::new(40.0, 2.0))),
            ("5/0.5", Ok(BucketLimit::new(5.0, 0.5))),
            ("1/0", Ok(BucketLimit::new(1.0, 0.0))),
            ("50", Err(())),
            ("0.5/10", Err(())),
            ("50/-1", Err(())),
            ("x/10", Err(())),
            ("inf/10", Err(())),
        ];
        for (text, expected) in table {
            assert_eq!(
                text.parse::<BucketLimit>().map_err(|_| ()),
                expected,
                "{text}"
            );
        }
    }
}
