//! Pure: the clean-up of the record sets of instances that are gone (`[gc]`): which owners to ask EC2
//! about, when, and which of them are gone. An instance that is terminated or crashes never withdraws its
//! own record sets, so the survivors that see them in the zone do, but only on evidence: EC2 must say the
//! owner is gone in two checks at least `gc.grace` apart, and any doubt about an answer deletes nothing.
//!
//! | EC2's answer, for an owner seen in the zone            | what the check concludes                        |
//! |--------------------------------------------------------|-------------------------------------------------|
//! | `pending`, `running`, `stopping`, or a state unknown   | alive: never touched, and no longer suspected   |
//! | not returned, `shutting-down`, `terminated`, `stopped` | suspected; gone once a check `gc.grace` or more |
//! |                                                        | after the first that saw it so says so again    |
//! | an owner id neither an IPv4 address nor an instance id | never asked about, never collected              |
//! | this instance's own owner id                           | asked about (see below), never collected        |
//!
//! A whole answer is doubted, and deletes nothing in that round (suspicions are neither raised nor
//! confirmed), when EC2 answered an error or a throttle, when it does not show this instance itself alive
//! (this instance runs, so an answer that misses it is about another account, region or VPC), or, when
//! this instance cannot be asked about, when it covers none of several owners asked about.
//!
//! Each instance checks at a jittered interval no shorter than `gc.interval` and no shorter than the owners
//! it sees divided by [`FLEET_CHECKS_PER_SECOND`]: every owner checks at that rate, so the whole fleet makes
//! about one EC2 call every five seconds, whatever its size. A check that confirms a suspicion comes
//! `gc.grace` after it was raised (still no sooner than the fleet's budget allows).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// EC2 calls per second the whole fleet's clean-up makes, at most, on average.
pub const FLEET_CHECKS_PER_SECOND: f64 = 0.2;

/// Values of one filter in one DescribeInstances call: EC2 takes at most 200.
pub const FILTER_VALUES_PER_CALL: usize = 200;

/// The most an interval is lengthened by its jitter, as a share of it.
const JITTER: f64 = 0.5;

/// What an owner id (a record set's SetIdentifier) names, and so which DescribeInstances filter finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OwnerKind {
    /// An IPv4 address: the instance's private IP (the default owner id).
    PrivateIp,
    /// An instance id (`i-` and 8 or 17 hexadecimal digits).
    InstanceId,
}

impl OwnerKind {
    /// The DescribeInstances filter that selects instances by this kind of id.
    pub fn filter(self) -> &'static str {
        match self {
            OwnerKind::PrivateIp => "private-ip-address",
            OwnerKind::InstanceId => "instance-id",
        }
    }
}

/// What `owner_id` names; `None` when it is neither an IPv4 address nor an instance id (such an owner is
/// never collected: EC2 cannot be asked about it).
pub fn owner_kind(owner_id: &str) -> Option<OwnerKind> {
    if owner_id.parse::<Ipv4Addr>().is_ok() {
        return Some(OwnerKind::PrivateIp);
    }
    let hex = owner_id.strip_prefix("i-")?;
    let is_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (is_hex && (hex.len() == 8 || hex.len() == 17)).then_some(OwnerKind::InstanceId)
}

/// One DescribeInstances call: instances whose `kind` is one of `values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub kind: OwnerKind,
    pub values: Vec<String>,
}

/// The calls that ask about `owners` and this instance (`me`, first, so that every check asks about it):
/// one per kind of owner id, split within EC2's limit on a filter's values. Owners of no known kind are
/// left out.
pub fn queries(me: Option<&str>, owners: &BTreeSet<String>) -> Vec<Query> {
    let mut by_kind: BTreeMap<OwnerKind, Vec<String>> = BTreeMap::new();
    let me = me.filter(|me| owner_kind(me).is_some());
    for owner in me
        .into_iter()
        .chain(owners.iter().map(String::as_str).filter(|o| Some(*o) != me))
    {
        if let Some(kind) = owner_kind(owner) {
            by_kind.entry(kind).or_default().push(owner.to_string());
        }
    }
    by_kind
        .into_iter()
        .flat_map(|(kind, values)| {
            values
                .chunks(FILTER_VALUES_PER_CALL)
                .map(|chunk| Query {
                    kind,
                    values: chunk.to_vec(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An instance as DescribeInstances describes it: what gc needs of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub private_ip: Option<String>,
    /// The state's name: `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`.
    pub state: String,
}

impl Instance {
    /// Whether EC2 says this instance is gone: its records serve nobody.
    fn is_gone(&self) -> bool {
        matches!(
            self.state.as_str(),
            "shutting-down" | "terminated" | "stopped"
        )
    }

    /// Whether this instance is the one `owner_id` names.
    fn is_named(&self, owner_id: &str) -> bool {
        self.id == owner_id || self.private_ip.as_deref() == Some(owner_id)
    }
}

/// `gc.interval` and `gc.grace`, and the fleet's budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GcTiming {
    /// The shortest interval between two checks.
    pub interval: Duration,
    /// The shortest time between the two checks that must both find an owner gone.
    pub grace: Duration,
    /// EC2 calls per second the whole fleet makes, at most: [`FLEET_CHECKS_PER_SECOND`] (tests raise it).
    pub fleet_rate: f64,
}

impl GcTiming {
    /// `gc.interval` and `gc.grace`, within the fleet's budget of [`FLEET_CHECKS_PER_SECOND`].
    pub fn new(interval: Duration, grace: Duration) -> Self {
        GcTiming {
            interval,
            grace,
            fleet_rate: FLEET_CHECKS_PER_SECOND,
        }
    }
}

/// What one check concluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Owners gone in two checks at least `gc.grace` apart: their record sets are withdrawn now.
    pub gone: BTreeSet<String>,
    /// Owners found gone for the first time (or not yet for long enough), kept under suspicion.
    pub suspected: BTreeSet<String>,
    /// Why the answer was not trusted, when it was not: then nothing is gone and nothing newly suspected.
    pub doubt: Option<String>,
}

/// The clean-up's state: when to check next, and which owners are suspected gone since when.
#[derive(Debug)]
pub struct Collector {
    timing: GcTiming,
    suspects: BTreeMap<String, Instant>,
    next_at: Instant,
    rng: SmallRng,
}

/// The shortest interval between two checks of an instance that sees `owners` owners: `gc.interval`, or
/// longer when the fleet's checks would otherwise exceed its budget.
pub fn check_interval(timing: &GcTiming, owners: usize) -> Duration {
    timing.interval.max(fleet_floor(timing, owners))
}

/// The fleet's budget alone: `owners` instances checking this often make `timing.fleet_rate` calls a second.
fn fleet_floor(timing: &GcTiming, owners: usize) -> Duration {
    Duration::from_secs_f64(owners as f64 / timing.fleet_rate)
}

impl Collector {
    /// A collector started at `now`: its first check comes one jittered `gc.interval` later (the zone's
    /// owners are not known yet). `seed` seeds the jitter.
    pub fn new(now: Instant, timing: GcTiming, seed: u64) -> Self {
        let mut collector = Collector {
            timing,
            suspects: BTreeMap::new(),
            next_at: now,
            rng: SmallRng::seed_from_u64(seed),
        };
        collector.next_at = now + collector.jittered(timing.interval);
        collector
    }

    /// When the next check is due.
    pub fn due(&self) -> Instant {
        self.next_at
    }

    /// The owners under suspicion.
    pub fn suspects(&self) -> BTreeSet<String> {
        self.suspects.keys().cloned().collect()
    }

    /// A check was due at `now`, but no other owner is seen: EC2 is not asked; the next check comes one
    /// jittered `gc.interval` later.
    pub fn nothing_to_check(&mut self, now: Instant) {
        self.suspects.clear();
        self.schedule(now, 0);
    }

    fn jittered(&mut self, interval: Duration) -> Duration {
        interval.mul_f64(1.0 + self.rng.random::<f64>() * JITTER)
    }

    /// A check at `now` asked EC2 about `owners` (the owners seen in the zone) and this instance (`me`,
    /// its owner id), and got `answer` (every instance of every query's answer, or why not). Returns what
    /// it concludes (see the module documentation) and sets the time of the next check.
    pub fn checked(
        &mut self,
        now: Instant,
        me: Option<&str>,
        owners: &BTreeSet<String>,
        answer: Result<Vec<Instance>, String>,
    ) -> Verdict {
        let asked: BTreeSet<&str> = owners
            .iter()
            .map(String::as_str)
            .filter(|o| Some(*o) != me && owner_kind(o).is_some())
            .collect();
        // Owners no longer seen in the zone (their record sets are gone) are no longer suspected.
        self.suspects
            .retain(|owner, _| asked.contains(owner.as_str()));
        let verdict = match answer {
            Err(error) => Verdict {
                doubt: Some(format!("EC2 answered an error: {error}")),
                ..Verdict::default()
            },
            Ok(instances) => self.judge(now, me, &asked, &instances),
        };
        self.schedule(now, owners.len());
        verdict
    }

    fn judge(
        &mut self,
        now: Instant,
        me: Option<&str>,
        asked: &BTreeSet<&str>,
        instances: &[Instance],
    ) -> Verdict {
        let covered = |owner: &str| instances.iter().any(|i| i.is_named(owner));
        let alive = |owner: &str| instances.iter().any(|i| i.is_named(owner) && !i.is_gone());
        let doubt = match me.filter(|me| owner_kind(me).is_some()) {
            Some(me) if !alive(me) => Some(format!(
                "EC2 does not show this instance ({me}) alive, so its answer is not about this fleet"
            )),
            None if asked.len() >= 2 && !asked.iter().any(|o| covered(o)) => Some(
                format!("EC2's answer covers none of the {} owners asked about", asked.len()),
            ),
            _ => None,
        };
        if doubt.is_some() {
            return Verdict {
                doubt,
                ..Verdict::default()
            };
        }
        let mut verdict = Verdict::default();
        for owner in asked {
            if alive(owner) {
                self.suspects.remove(*owner);
                continue;
            }
            let since = *self.suspects.entry(owner.to_string()).or_insert(now);
            if now.saturating_duration_since(since) >= self.timing.grace {
                verdict.gone.insert(owner.to_string());
            } else {
                verdict.suspected.insert(owner.to_string());
            }
        }
        verdict
    }

    /// The next check: a jittered interval away, or sooner when a suspicion can be confirmed (its grace
    /// over), but never sooner than the fleet's budget allows.
    fn schedule(&mut self, now: Instant, owners: usize) {
        let regular = now + self.jittered(check_interval(&self.timing, owners));
        let confirm = self
            .suspects
            .values()
            .map(|since| *since + self.timing.grace)
            .filter(|at| *at > now)
            .min()
            .map(|at| at.max(now + fleet_floor(&self.timing, owners)));
        self.next_at = confirm.map_or(regular, |confirm| confirm.min(regular));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "10.0.0.1";

    /// What a check got from EC2.
    type Answer = Result<Vec<Instance>, String>;

    fn t(secs: u64) -> Instant {
        use std::sync::OnceLock;
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now) + Duration::from_secs(secs)
    }

    fn timing() -> GcTiming {
        GcTiming::new(Duration::from_secs(600), Duration::from_secs(300))
    }

    fn owners(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn instance(ip: &str, state: &str) -> Instance {
        Instance {
            id: format!("i-{:08x}", ip.len()),
            private_ip: Some(ip.to_string()),
            state: state.to_string(),
        }
    }

    fn running(ips: &[&str]) -> Vec<Instance> {
        ips.iter().map(|ip| instance(ip, "running")).collect()
    }

    #[test]
    fn owner_kinds_table() {
        let cases = [
            ("10.0.0.1", Some(OwnerKind::PrivateIp)),
            ("i-0123abcd", Some(OwnerKind::InstanceId)),
            ("i-0123456789abcdef0", Some(OwnerKind::InstanceId)),
            ("i-0123ABCD", None),
            ("i-0123abc", None),
            ("i-0123456789abcdef", None),
            ("10.0.0.256", None),
            ("host-a", None),
            ("", None),
        ];
        for (id, kind) in cases {
            assert_eq!(owner_kind(id), kind, "{id:?}");
        }
        assert_eq!(OwnerKind::PrivateIp.filter(), "private-ip-address");
        assert_eq!(OwnerKind::InstanceId.filter(), "instance-id");
    }

    #[test]
    fn queries_ask_about_this_instance_first_split_by_kind_and_within_the_filter_limit() {
        let mut seen: BTreeSet<String> = (0..450)
            .map(|n| format!("10.1.{}.{}", n / 250, n % 250))
            .collect();
        seen.insert("i-0123abcd".into());
        seen.insert("not-an-id".into());
        seen.insert(ME.into());
        let calls = queries(Some(ME), &seen);
        let shape: Vec<(OwnerKind, usize)> =
            calls.iter().map(|q| (q.kind, q.values.len())).collect();
        assert_eq!(
            shape,
            [
                (OwnerKind::PrivateIp, 200),
                (OwnerKind::PrivateIp, 200),
                (OwnerKind::PrivateIp, 51),
                (OwnerKind::InstanceId, 1)
            ]
        );
        assert_eq!(calls[0].values[0], ME, "this instance is asked about first");
        let asked: Vec<&String> = calls.iter().flat_map(|q| &q.values).collect();
        assert_eq!(
            asked.len(),
            452,
            "every owner once, this instance once, the unknown kind never"
        );
        assert!(!asked.iter().any(|v| *v == "not-an-id"));
        assert!(queries(Some("custom"), &owners(&["custom"])).is_empty());
    }

    #[test]
    fn an_owner_is_gone_only_in_two_checks_at_least_the_grace_apart() {
        let mut gc = Collector::new(t(0), timing(), 1);
        let seen = owners(&[ME, "10.0.0.2", "10.0.0.3"]);
        let answer = || Ok(running(&[ME, "10.0.0.2"]));
        let first = gc.checked(t(600), Some(ME), &seen, answer());
        assert_eq!(
            (first.gone.len(), first.suspected),
            (0, owners(&["10.0.0.3"]))
        );
        assert_eq!(
            gc.due(),
            t(900),
            "the confirming check comes when the grace is over"
        );
        let early = gc.checked(t(899), Some(ME), &seen, answer());
        assert!(early.gone.is_empty(), "before the grace is over: {early:?}");
        let second = gc.checked(t(900), Some(ME), &seen, answer());
        assert_eq!(second.gone, owners(&["10.0.0.3"]));
        assert_eq!(second.doubt, None);
    }

    #[test]
    fn gone_states_and_alive_states_table() {
        // (state EC2 reports for 10.0.0.2, gone after two checks?)
        let cases = [
            ("pending", false),
            ("running", false),
            ("stopping", false),
            ("rebooting-or-new", false),
            ("shutting-down", true),
            ("terminated", true),
            ("stopped", true),
        ];
        for (state, gone) in cases {
            let mut gc = Collector::new(t(0), timing(), 2);
            let seen = owners(&[ME, "10.0.0.2"]);
            let answer = || Ok(vec![instance(ME, "running"), instance("10.0.0.2", state)]);
            gc.checked(t(600), Some(ME), &seen, answer());
            let verdict = gc.checked(t(1200), Some(ME), &seen, answer());
            assert_eq!(verdict.gone.contains("10.0.0.2"), gone, "{state}");
        }
    }

    #[test]
    fn an_ip_reused_by_a_running_instance_is_alive() {
        let mut gc = Collector::new(t(0), timing(), 3);
        let seen = owners(&[ME, "10.0.0.2"]);
        let answer = || {
            Ok(vec![
                instance(ME, "running"),
                instance("10.0.0.2", "terminated"),
                Instance {
                    id: "i-0000ffff".into(),
                    ..instance("10.0.0.2", "running")
                },
            ])
        };
        gc.checked(t(600), Some(ME), &seen, answer());
        assert!(gc
            .checked(t(1200), Some(ME), &seen, answer())
            .gone
            .is_empty());
    }

    #[test]
    fn an_owner_seen_gone_once_then_running_again_is_kept() {
        let mut gc = Collector::new(t(0), timing(), 4);
        let seen = owners(&[ME, "10.0.0.2"]);
        gc.checked(t(600), Some(ME), &seen, Ok(running(&[ME])));
        assert_eq!(gc.suspects(), owners(&["10.0.0.2"]));
        gc.checked(t(900), Some(ME), &seen, Ok(running(&[ME, "10.0.0.2"])));
        assert!(gc.suspects().is_empty());
        let later = gc.checked(t(1000), Some(ME), &seen, Ok(running(&[ME])));
        assert!(
            later.gone.is_empty(),
            "the grace counts again from the new first sighting: {later:?}"
        );
    }

    #[test]
    fn any_doubt_deletes_nothing_and_raises_no_suspicion() {
        let seen = owners(&[ME, "10.0.0.2", "10.0.0.3"]);
        // (this instance's owner id, the answer, the doubt expected)
        let cases: [(Option<&str>, Answer, &str); 4] = [
            (
                Some(ME),
                Err("RequestLimitExceeded".into()),
                "EC2 answered an error",
            ),
            (Some(ME), Ok(vec![]), "does not show this instance"),
            (
                Some(ME),
                Ok(vec![instance(ME, "terminated")]),
                "does not show this instance",
            ),
            (
                Some("custom-owner"),
                Ok(vec![]),
                "covers none of the 3 owners",
            ),
        ];
        for (me, answer, doubt) in cases {
            let mut gc = Collector::new(t(0), timing(), 5);
            // A first check that raised suspicions; the doubtful one must confirm none of them.
            gc.checked(t(0), me, &seen, Ok(running(&[ME])));
            let verdict = gc.checked(t(600), me, &seen, answer);
            assert!(verdict.gone.is_empty(), "{doubt}: {verdict:?}");
            assert!(
                verdict.doubt.as_deref().is_some_and(|d| d.contains(doubt)),
                "{doubt}: {verdict:?}"
            );
        }
    }

    #[test]
    fn this_instance_and_owners_of_no_known_kind_are_never_collected() {
        let mut gc = Collector::new(t(0), timing(), 6);
        let seen = owners(&["10.0.0.2", "custom"]);
        // This instance's owner id is not an IP or an instance id: the covering rule applies, and the one
        // owner of a known kind may be found gone.
        gc.checked(t(0), Some("custom"), &seen, Ok(running(&["10.0.0.9"])));
        let verdict = gc.checked(t(600), Some("custom"), &seen, Ok(running(&["10.0.0.9"])));
        assert_eq!(verdict.gone, owners(&["10.0.0.2"]));
        let mut gc = Collector::new(t(0), timing(), 7);
        let seen = owners(&[ME]);
        gc.checked(t(0), Some(ME), &seen, Ok(vec![instance(ME, "running")]));
        assert!(gc.suspects().is_empty());
    }

    #[test]
    fn checks_are_spread_for_the_fleet_and_never_shorter_than_the_interval() {
        assert_eq!(check_interval(&timing(), 10), Duration::from_secs(600));
        assert_eq!(
            check_interval(&timing(), 300),
            Duration::from_secs(1500),
            "300 owners at 0.2 checks per second"
        );
        let mut gc = Collector::new(t(0), timing(), 8);
        assert!((t(600)..=t(900)).contains(&gc.due()), "{:?}", gc.due());
        let seen: BTreeSet<String> = (0..300)
            .map(|n| format!("10.2.{}.{}", n / 250, n % 250))
            .collect();
        let answer: Vec<Instance> = seen.iter().map(|ip| instance(ip, "running")).collect();
        let mut me_too = answer.clone();
        me_too.push(instance(ME, "running"));
        gc.checked(t(1000), Some(ME), &seen, Ok(me_too));
        assert!(
            (t(2500)..=t(3250)).contains(&gc.due()),
            "1500 s and up to half as much again"
        );
        // A suspicion in a large fleet is confirmed after the grace, or the fleet's floor if longer.
        let mut fewer = answer;
        fewer.pop();
        fewer.push(instance(ME, "running"));
        gc.checked(t(5000), Some(ME), &seen, Ok(fewer));
        assert_eq!(
            gc.due(),
            t(6500),
            "the fleet's floor (1500 s) beats the grace (300 s)"
        );
        // Alone in the zone: EC2 is not asked, and the next check is one jittered interval away.
        gc.nothing_to_check(t(7000));
        assert!(gc.suspects().is_empty());
        assert!((t(7600)..=t(7900)).contains(&gc.due()));
    }
}
