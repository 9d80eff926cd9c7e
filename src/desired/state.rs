//! Pure: what this instance should publish, from the containers that run here now.
//!
//! [`DesiredState`] follows Docker's events and listings (snapshots) and answers [`DesiredState::records`]: a
//! name is desired, with this instance's address ([`DesiredValue::HostAddress`]), while at least one container
//! classified as that service is running, is not stopping, and — with `selection.respect_health`, when it has a
//! healthcheck — is healthy.
//!
//! A container is *stopping* from its first sign of stopping until it is gone: a `kill` carrying its own stop
//! signal (or SIGKILL), or a `die`. Docker still lists a container as running while it drains through its stop
//! timeout, so stopping is sticky: a later snapshot of the same run does not undo it.
//!
//! **Runs.** Docker keeps a container's id across `docker start`, `docker restart`, restart policies and ECS's
//! in-place restarts; what changes is `State.StartedAt` ([`ContainerInfo::started_at`]). A die's tombstone
//! and a kill's stopping mark belong to the run they were seen for: the run the state knew then. A listing of
//! the id with another `StartedAt` is a later run whose `start` was missed (the watcher reconnected, or the
//! inspection after `start` failed), and the mark does not apply to it. Runs are compared for equality only:
//! Docker never gives one id the same `StartedAt` twice, and not relying on their order keeps a host clock
//! stepped back from hiding a new run. When Docker reports no `StartedAt`, every listing counts as the same
//! run (the conservative side: a draining container is not published again). A die of an id the state did
//! not track records no run, so it hides no listing that has one: which run died is unknown, and hiding a
//! live one for as long as it runs costs more than publishing a dead one until the next event or resync.
//!
//! Events and listings race: the watcher subscribes to events, then lists, so an event may be delivered before
//! a listing taken earlier than it. The state resolves each case so that the listing never undoes a newer
//! event:
//!
//! | the state knows the id as                  | a snapshot that lists it | a snapshot that does not list it |
//! |--------------------------------------------|--------------------------|----------------------------------|
//! | unknown                                    | added (kills seen before it apply) | —                      |
//! | tombstoned, listed with the run that died  | not added: listed before its die | tombstone dropped        |
//! | tombstoned, listed with another run        | tombstone dropped, added: a new run | tombstone dropped     |
//! | tracked, started since the last snapshot   | refreshed                | kept once: started after the listing was taken |
//! | tracked, listed with the same run          | refreshed; stopping stays | removed: it vanished (a missed `die`) |
//! | tracked, listed with another run           | refreshed, not stopping: a new run | removed                |
//!
//! A `Started` event always wins: it clears a tombstone and a stopping mark, and is desired again (in the
//! engine's order a `start` comes after every event of the runs before it). A container is withdrawn with only
//! what was kept from when it started: a `--rm` container that is gone before its `die` is handled needs no
//! inspect.
//!
//! Skips and refusals come back as [`Notice`]s, once per container id, for the caller to log.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use crate::config::SelectionSettings;
use crate::desired::naming::{classify, name_label_value, Classification, NameRefusal, SkipReason};
use crate::desired::{DesiredRecords, DesiredValue};
use crate::docker::container::{ContainerEvent, ContainerInfo, Health};

/// SIGKILL: always a sign of stopping, whatever the container's stop signal.
const SIGKILL: u32 = 9;
/// SIGTERM: the stop signal of a container that sets none.
const SIGTERM: u32 = 15;

/// Something about a container to log once: it asked to be published but cannot be, or is published
/// under a name that differs from its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The container's id.
    pub id: String,
    /// The container's name, for the log line.
    pub container: String,
    pub kind: NoticeKind,
}

/// What is said of a container, once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    Skipped(SkipReason),
    Refused(NameRefusal),
    /// Published, under a name that is not its label's value as written (`My_Svc` as `my-svc`): said so
    /// that whoever looks for `My_Svc` in the zone finds it.
    Renamed {
        label: String,
        name: String,
    },
}

/// One run of a container: its `StartedAt` (see the module's doc).
type Run = Option<SystemTime>;

/// A container the state knows to be running (or draining).
#[derive(Clone, Debug)]
struct Tracked {
    info: ContainerInfo,
    class: Classification,
    /// A kill with its stop signal (or SIGKILL) was seen for the run `info` describes; it stays until that run
    /// is gone. (Whatever replaces `info` with another run clears it.)
    stopping: bool,
    /// Added by a `Started` event since the last snapshot, which may have been listed before that start.
    fresh: bool,
}

/// The running containers of this instance and what they make desired.
#[derive(Clone, Debug)]
pub struct DesiredState {
    sel: SelectionSettings,
    containers: BTreeMap<String, Tracked>,
    /// Ids seen dying or destroyed, with the run that died (`None` when not known, or not reported), kept
    /// until a snapshot no longer lists that run.
    tombstones: BTreeMap<String, Run>,
    /// Kill signals seen for ids not known yet (a kill delivered before the first listing that shows the
    /// container), applied when a snapshot adds them.
    early_kills: BTreeMap<String, Vec<String>>,
    /// Runs seen stopping by a state this one restarted from ([`DesiredState::restarted`]), applied when a
    /// snapshot adds the same run of the id, and dropped at the next snapshot either way.
    stopped_runs: BTreeMap<String, Run>,
    /// Ids whose skip or refusal has been reported.
    reported: BTreeSet<String>,
}

impl DesiredState {
    /// An empty state; `sel` decides which containers are services.
    pub fn new(sel: SelectionSettings) -> Self {
        DesiredState {
            sel,
            containers: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            early_kills: BTreeMap::new(),
            stopped_runs: BTreeMap::new(),
            reported: BTreeSet::new(),
        }
    }

    /// A state to start again from after a panic (which may have left this one half-updated): empty, as
    /// before a first snapshot, but keeping what no listing can show again. A draining container is listed as
    /// running, so the runs seen stopping are carried over (and the runs seen dying, for a listing taken
    /// before their die); the next snapshot applies them to the same runs only.
    pub fn restarted(&self) -> DesiredState {
        let mut next = DesiredState::new(self.sel.clone());
        next.stopped_runs = self.stopped_runs.clone();
        next.stopped_runs.extend(
            self.containers
                .iter()
                .filter(|(_, tracked)| tracked.stopping)
                .map(|(id, tracked)| (id.clone(), tracked.info.started_at)),
        );
        next.tombstones = self.tombstones.clone();
        next
    }

    /// Applies one Docker event; returns what to log (at most one notice, for a newly started container).
    pub fn apply(&mut self, event: ContainerEvent) -> Vec<Notice> {
        match event {
            ContainerEvent::Started(info) => {
                let id = info.id.clone();
                self.tombstones.remove(&id);
                self.early_kills.remove(&id);
                self.stopped_runs.remove(&id);
                self.track(info, true);
                self.notice(&id).into_iter().collect()
            }
            ContainerEvent::Kill { id, signal } => {
                match self.containers.get_mut(&id) {
                    // The mark is the tracked run's: a listing of another run clears it.
                    Some(tracked)
                        if is_stop_signal(&signal, tracked.info.stop_signal.as_deref()) =>
                    {
                        tracked.stopping = true;
                    }
                    Some(_) => {}
                    None if !self.tombstones.contains_key(&id) => {
                        self.early_kills.entry(id).or_default().push(signal);
                    }
                    // Seen dying: a kill of the dead run is moot, and one of a later run whose start was
                    // missed cannot be told from it. Kept, it could hold that later run (or the one after)
                    // unpublished for as long as it runs; dropped, a draining container is at worst published
                    // until its die.
                    None => {}
                }
                Vec::new()
            }
            ContainerEvent::Die { id } | ContainerEvent::Destroy { id } => {
                self.early_kills.remove(&id);
                match self.containers.remove(&id) {
                    Some(tracked) => {
                        self.tombstones.insert(id, tracked.info.started_at);
                    }
                    // A destroy after the die keeps the run the die recorded.
                    None => {
                        self.tombstones.entry(id).or_insert(None);
                    }
                }
                Vec::new()
            }
            ContainerEvent::Health { id, health } => {
                if let Some(tracked) = self.containers.get_mut(&id) {
                    tracked.info.health = health;
                }
                Vec::new()
            }
        }
    }

    /// Replaces what is known with a listing of the running containers (see the module's table); returns what
    /// to log for containers seen for the first time.
    pub fn snapshot(&mut self, listed: Vec<ContainerInfo>) -> Vec<Notice> {
        let listed_runs: BTreeMap<String, Run> = listed
            .iter()
            .map(|c| (c.id.clone(), c.started_at))
            .collect();
        // A tombstone hides only the run that died: a listing of another run is a restart whose start
        // was missed.
        self.tombstones
            .retain(|id, died| listed_runs.get(id) == Some(died));
        self.containers.retain(|id, tracked| {
            let keep = listed_runs.contains_key(id) || tracked.fresh;
            tracked.fresh = false;
            keep
        });

        let mut notices = Vec::new();
        for info in listed {
            let id = info.id.clone();
            if self.tombstones.contains_key(&id) {
                continue;
            }
            match self.containers.get_mut(&id) {
                Some(tracked) => {
                    // Fresh data (health, labels). The same run stays stopping; another run was started
                    // since that stop (its start missed) and is not.
                    if tracked.info.started_at != info.started_at {
                        tracked.stopping = false;
                    }
                    tracked.class = classify(&self.sel, &info);
                    tracked.info = info;
                }
                None => {
                    let kills = self.early_kills.remove(&id).unwrap_or_default();
                    let stopped_run = self.stopped_runs.remove(&id);
                    let tracked = self.track(info, false);
                    let stop_signal = tracked.info.stop_signal.as_deref();
                    tracked.stopping = stopped_run == Some(tracked.info.started_at)
                        || kills
                            .iter()
                            .any(|signal| is_stop_signal(signal, stop_signal));
                }
            }
            notices.extend(self.notice(&id));
        }
        self.early_kills.clear();
        self.stopped_runs.clear();
        let containers = &self.containers;
        let tombstones = &self.tombstones;
        self.reported
            .retain(|id| containers.contains_key(id) || tombstones.contains_key(id));
        notices
    }

    /// What this instance should publish now: under each name that a publishable container runs, the values
    /// its containers call for (the host's address, once however many run it).
    pub fn records(&self) -> DesiredRecords {
        let mut records: BTreeMap<String, BTreeSet<DesiredValue>> = BTreeMap::new();
        let publishable = self
            .containers
            .values()
            .filter(|t| !t.stopping && self.health_allows(t.info.health));
        for tracked in publishable {
            if let Classification::Service(name) = &tracked.class {
                records
                    .entry(name.clone())
                    .or_default()
                    .insert(DesiredValue::HostAddress);
            }
        }
        DesiredRecords(records)
    }

    /// The ids of the containers tracked now that are services (whether or not published at this moment).
    pub fn service_ids(&self) -> BTreeSet<&str> {
        self.containers
            .iter()
            .filter(|(_, t)| matches!(t.class, Classification::Service(_)))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    fn health_allows(&self, health: Health) -> bool {
        !self.sel.respect_health || matches!(health, Health::NoCheck | Health::Healthy)
    }

    fn track(&mut self, info: ContainerInfo, fresh: bool) -> &mut Tracked {
        let class = classify(&self.sel, &info);
        let id = info.id.clone();
        self.containers.insert(
            id.clone(),
            Tracked {
                info,
                class,
                stopping: false,
                fresh,
            },
        );
        self.containers.get_mut(&id).expect("just inserted")
    }

    /// The notice for `id`, the first time it is skipped or refused.
    fn notice(&mut self, id: &str) -> Option<Notice> {
        let tracked = self.containers.get(id)?;
        let kind = match &tracked.class {
            Classification::Skipped(reason) => NoticeKind::Skipped(reason.clone()),
            Classification::Refused(refusal) => NoticeKind::Refused(refusal.clone()),
            Classification::Service(name) => match name_label_value(&self.sel, &tracked.info) {
                Some(label) if label != name => NoticeKind::Renamed {
                    label: label.to_owned(),
                    name: name.clone(),
                },
                _ => return None,
            },
            Classification::NotService => return None,
        };
        if !self.reported.insert(id.to_owned()) {
            return None;
        }
        Some(Notice {
            id: id.to_owned(),
            container: tracked.info.name.clone(),
            kind,
        })
    }
}

/// Whether a kill with `signal` (as Docker reports it: a number such as `15`) means a container whose
/// configured stop signal is `stop_signal` is stopping: its own stop signal (SIGTERM when unset or unknown),
/// or SIGKILL. Any other signal (SIGHUP to reload, SIGUSR1 to rotate logs) is not a stop.
pub fn is_stop_signal(signal: &str, stop_signal: Option<&str>) -> bool {
    let Some(signal) = signal_number(signal) else {
        return false;
    };
    let stop = stop_signal.and_then(signal_number).unwrap_or(SIGTERM);
    signal == SIGKILL || signal == stop
}

/// Linux signal numbers by name, as Docker accepts them in `StopSignal`.
const SIGNALS: &[(&str, u32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];
const SIGRTMIN: u32 = 34;
const SIGRTMAX: u32 = 64;

/// A signal's number from `15`, `TERM`, `SIGTERM`, `sigterm`, `SIGRTMIN+3` or `RTMAX-1`.
fn signal_number(signal: &str) -> Option<u32> {
    let signal = signal.trim();
    if let Ok(n) = signal.parse::<u32>() {
        return Some(n);
    }
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Some(*n);
    }
    let realtime = |rest: &str, base: u32, sign: char| -> Option<u32> {
        if rest.is_empty() {
            return Some(base);
        }
        let offset: u32 = rest.strip_prefix(sign)?.parse().ok()?;
        let n = if sign == '+' {
            base.checked_add(offset)?
        } else {
            base.checked_sub(offset)?
        };
        (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime(rest, SIGRTMIN, '+');
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return realtime(rest, SIGRTMAX, '-');
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// The `StartedAt` of a container's first run in these tests.
    fn first_run() -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    }

    /// A container of the ECS service `name` (family `<name>-service`), in its first run.
    fn svc(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo::ecs_service(id, name).started_at(first_run())
    }

    /// The same container started again (same id) `runs` times later: `docker start`, a restart policy.
    fn rerun(mut c: ContainerInfo, runs: u64) -> ContainerInfo {
        c.started_at = c.started_at.map(|t| t + Duration::from_secs(60 * runs));
        c
    }

    /// The container as an engine that reports no `StartedAt` lists it.
    fn without_start(mut c: ContainerInfo) -> ContainerInfo {
        c.started_at = None;
        c
    }

    fn with_health(mut c: ContainerInfo, health: Health) -> ContainerInfo {
        c.health = health;
        c
    }

    fn with_stop_signal(mut c: ContainerInfo, signal: &str) -> ContainerInfo {
        c.stop_signal = Some(signal.into());
        c
    }

    fn with_network(mut c: ContainerInfo, mode: &str) -> ContainerInfo {
        c.network_mode = mode.into();
        c
    }

    fn plain(id: &str) -> ContainerInfo {
        ContainerInfo::plain(id).started_at(first_run())
    }

    enum Step {
        Snap(Vec<ContainerInfo>),
        Ev(ContainerEvent),
    }

    fn snap(cs: &[ContainerInfo]) -> Step {
        Step::Snap(cs.to_vec())
    }
    fn started(c: &ContainerInfo) -> Step {
        Step::Ev(ContainerEvent::Started(c.clone()))
    }
    fn kill(id: &str, signal: &str) -> Step {
        Step::Ev(ContainerEvent::Kill {
            id: id.into(),
            signal: signal.into(),
        })
    }
    fn die(id: &str) -> Step {
        Step::Ev(ContainerEvent::Die { id: id.into() })
    }
    fn destroy(id: &str) -> Step {
        Step::Ev(ContainerEvent::Destroy { id: id.into() })
    }
    fn health(id: &str, health: Health) -> Step {
        Step::Ev(ContainerEvent::Health {
            id: id.into(),
            health,
        })
    }

    fn run_step(state: &mut DesiredState, step: Step) -> Vec<Notice> {
        match step {
            Step::Snap(cs) => state.snapshot(cs),
            Step::Ev(ev) => state.apply(ev),
        }
    }

    /// A named scenario: steps, each with the names desired after it.
    struct Scenario {
        name: &'static str,
        respect_health: bool,
        steps: Vec<(Step, &'static [&'static str])>,
    }

    fn scenario(name: &'static str, steps: Vec<(Step, &'static [&'static str])>) -> Scenario {
        Scenario {
            name,
            respect_health: true,
            steps,
        }
    }

    #[test]
    fn scenarios() {
        let web_a = svc("a", "web");
        let web_b = svc("b", "web");
        let api_c = svc("c", "api");
        let quits = with_stop_signal(svc("q", "web"), "SIGQUIT");
        let checked = with_health(svc("h", "web"), Health::Starting);
        let scenarios = vec![
            scenario(
                "two containers of one service: stopping one keeps the name, stopping both withdraws it",
                vec![
                    (snap(&[web_a.clone(), web_b.clone()]), &["web"]),
                    (kill("a", "15"), &["web"]),
                    (die("a"), &["web"]),
                    (kill("b", "15"), &[]),
                    (die("b"), &[]),
                ],
            ),
            scenario(
                "several services: withdrawing one keeps the others",
                vec![(snap(&[web_a.clone(), api_c.clone()]), &["api", "web"]), (die("c"), &["web"])],
            ),
            scenario(
                "healthcheck: published only while healthy",
                vec![
                    (snap(std::slice::from_ref(&checked)), &[]),
                    (health("h", Health::Healthy), &["web"]),
                    (health("h", Health::Unhealthy), &[]),
                    (health("h", Health::Healthy), &["web"]),
                ],
            ),
            scenario(
                "a snapshot refreshes health",
                vec![
                    (snap(std::slice::from_ref(&checked)), &[]),
                    (snap(&[with_health(checked.clone(), Health::Healthy)]), &["web"]),
                ],
            ),
            Scenario {
                name: "respect_health = false publishes whatever the health",
                respect_health: false,
                steps: vec![
                    (snap(std::slice::from_ref(&checked)), &["web"]),
                    (health("h", Health::Unhealthy), &["web"]),
                    (kill("h", "15"), &[]),
                ],
            },
            scenario(
                "a kill with another signal is not a stop",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (kill("a", "1"), &["web"]),
                    (kill("a", "10"), &["web"]),
                    (kill("a", "nonsense"), &["web"]),
                    (kill("a", "15"), &[]),
                ],
            ),
            scenario(
                "a custom stop signal: SIGTERM is not a stop, SIGQUIT is",
                vec![(snap(std::slice::from_ref(&quits)), &["web"]), (kill("q", "15"), &["web"]), (kill("q", "3"), &[])],
            ),
            scenario("SIGKILL is always a stop", vec![(snap(std::slice::from_ref(&quits)), &["web"]), (kill("q", "9"), &[])]),
            scenario("die", vec![(snap(std::slice::from_ref(&web_a)), &["web"]), (die("a"), &[])]),
            scenario("destroy without a die", vec![(snap(std::slice::from_ref(&web_a)), &["web"]), (destroy("a"), &[])]),
            scenario(
                "a stopping container still listed as running stays withdrawn",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (kill("a", "15"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (health("a", Health::Healthy), &[]),
                    (die("a"), &[]),
                ],
            ),
            scenario(
                "a snapshot listed before the die does not resurrect it",
                vec![(snap(std::slice::from_ref(&web_a)), &["web"]), (die("a"), &[]), (snap(std::slice::from_ref(&web_a)), &[])],
            ),
            scenario(
                "a tombstone is dropped once a snapshot no longer lists the id",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (die("a"), &[]),
                    (snap(&[]), &[]),
                    // Only a real start lists the id again; the tombstone no longer hides it.
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                ],
            ),
            scenario(
                "restart after die: the same id is desired again",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (kill("a", "15"), &[]),
                    (die("a"), &[]),
                    (started(&rerun(web_a.clone(), 1)), &["web"]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                ],
            ),
            scenario(
                "die, then snapshots listing the same run: it stays withdrawn (listed before the die)",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (die("a"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (destroy("a"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    // Still the run that died, though other containers come and go.
                    (snap(&[web_a.clone(), web_b.clone()]), &["web"]),
                    (snap(&[web_a.clone(), api_c.clone()]), &["api"]),
                ],
            ),
            scenario(
                "die, then a snapshot listing a new run (its start missed): published again",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (die("a"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                    // A destroy recorded after the die does not make the dead run's tombstone anonymous.
                    (die("a"), &[]),
                    (destroy("a"), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &[]),
                    (snap(&[rerun(web_a.clone(), 2)]), &["web"]),
                ],
            ),
            scenario(
                "die of a container started by an event, then a new run listed: published again",
                vec![
                    (snap(&[]), &[]),
                    (started(&web_a), &["web"]),
                    (die("a"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                ],
            ),
            scenario(
                "a kill with the stop signal, then resyncs of the same run: it stays withdrawn while it drains",
                vec![
                    (snap(&[web_a.clone(), api_c.clone()]), &["api", "web"]),
                    (kill("a", "15"), &["api"]),
                    (snap(&[web_a.clone(), api_c.clone()]), &["api"]),
                    (snap(&[with_health(web_a.clone(), Health::Healthy), api_c.clone()]), &["api"]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                ],
            ),
            scenario(
                "a kill with the stop signal, then a new run listed (its die and start missed): published",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (kill("a", "15"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                    // The new run's own stop is a stop again, and sticks to that run.
                    (kill("a", "15"), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &[]),
                    (snap(&[rerun(web_a.clone(), 2)]), &["web"]),
                ],
            ),
            scenario(
                "a kill of a container started by an event, then a new run listed: published",
                vec![
                    (snap(&[]), &[]),
                    (started(&quits), &["web"]),
                    (kill("q", "3"), &[]),
                    (snap(std::slice::from_ref(&quits)), &[]),
                    (snap(&[rerun(quits.clone(), 1)]), &["web"]),
                ],
            ),
            scenario(
                "a stop kill seen before the first listing belongs to the run listed then",
                vec![
                    (kill("a", "15"), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (snap(std::slice::from_ref(&web_a)), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                ],
            ),
            scenario(
                "an engine that reports no StartedAt: every listing is the run that died or is draining",
                vec![
                    (snap(&[without_start(web_a.clone()), without_start(web_b.clone())]), &["web"]),
                    (die("a"), &["web"]),
                    (kill("b", "15"), &[]),
                    (snap(&[without_start(web_a.clone()), without_start(web_b.clone())]), &[]),
                ],
            ),
            scenario(
                "a kill after the die (the dead run, or a later one whose start was missed) marks no later run",
                vec![
                    (snap(std::slice::from_ref(&web_a)), &["web"]),
                    (die("a"), &[]),
                    (kill("a", "15"), &[]),
                    (snap(&[rerun(web_a.clone(), 1)]), &["web"]),
                ],
            ),
            scenario(
                "a die of an id never tracked hides no listed run",
                vec![(snap(&[]), &[]), (die("a"), &[]), (snap(std::slice::from_ref(&web_a)), &["web"])],
            ),
            scenario(
                "a container started after the snapshot is added",
                vec![(snap(&[]), &[]), (started(&web_b), &["web"])],
            ),
            scenario(
                "a start delivered before an older snapshot survives it once",
                vec![(started(&web_b), &["web"]), (snap(&[]), &["web"]), (snap(&[]), &[])],
            ),
            scenario(
                "a snapshot removes vanished containers",
                vec![(snap(&[web_a.clone(), api_c.clone()]), &["api", "web"]), (snap(std::slice::from_ref(&web_a)), &["web"])],
            ),
            scenario(
                "--rm: die and destroy with nothing but the id still withdraw",
                vec![(started(&web_a), &["web"]), (kill("a", "15"), &[]), (die("a"), &[]), (destroy("a"), &[])],
            ),
            scenario(
                "a stop kill delivered before the first listing that shows the container",
                vec![(kill("a", "15"), &[]), (snap(std::slice::from_ref(&web_a)), &[]), (die("a"), &[])],
            ),
            scenario(
                "another kill delivered before the first listing is not a stop",
                vec![(kill("a", "1"), &[]), (snap(std::slice::from_ref(&web_a)), &["web"])],
            ),
            scenario(
                "events of unknown containers change nothing",
                vec![(health("z", Health::Healthy), &[]), (die("z"), &[]), (snap(&[]), &[])],
            ),
            scenario(
                "only services are desired",
                vec![(
                    snap(&[plain("p"), with_network(svc("n", "db"), "none"), svc("r", "a_b"), svc("x", "x.y")]),
                    &["a-b"],
                )],
            ),
        ];

        for s in scenarios {
            let sel = SelectionSettings {
                respect_health: s.respect_health,
                ..SelectionSettings::default()
            };
            let mut state = DesiredState::new(sel);
            for (i, (step, expected)) in s.steps.into_iter().enumerate() {
                run_step(&mut state, step);
                let expected = DesiredRecords::addresses(expected.iter().copied());
                assert_eq!(
                    state.records(),
                    expected,
                    "{}: after step {}",
                    s.name,
                    i + 1
                );
            }
        }
    }

    /// After a panic the classifier starts again from [`DesiredState::restarted`]: the listing it asks for
    /// shows a draining container as running, so the stop seen before the panic must still hold it
    /// withdrawn; a new run of that id, or a start event, is published.
    #[test]
    fn a_restarted_state_keeps_the_stops_and_dies_no_listing_can_show() {
        let (web_a, web_b, api_c) = (svc("a", "web"), svc("b", "web"), svc("c", "api"));
        let mut before = DesiredState::new(SelectionSettings::default());
        before.snapshot(vec![web_a.clone(), web_b.clone(), api_c.clone()]);
        before.apply(ContainerEvent::Kill {
            id: "a".into(),
            signal: "15".into(),
        });
        before.apply(ContainerEvent::Kill {
            id: "b".into(),
            signal: "15".into(),
        });
        before.apply(ContainerEvent::Die { id: "c".into() });
        assert_eq!(before.records(), DesiredRecords::default());

        let mut after = before.restarted();
        assert_eq!(
            after.records(),
            DesiredRecords::default(),
            "empty, as before a first snapshot"
        );
        // Listed before c's die, with a and b draining: nothing comes back.
        after.snapshot(vec![web_a.clone(), web_b.clone(), api_c.clone()]);
        assert_eq!(
            after.records(),
            DesiredRecords::default(),
            "the stops and the die outlive the restart"
        );

        // A new run of a stopped id (its start missed) is published; so is one whose start is seen.
        let mut after = before.restarted().restarted();
        after.snapshot(vec![rerun(web_a.clone(), 1), web_b.clone()]);
        assert_eq!(
            after.records(),
            DesiredRecords::addresses(["web"]),
            "twice restarted"
        );
        let mut after = before.restarted();
        after.apply(ContainerEvent::Started(rerun(web_b.clone(), 1)));
        after.snapshot(vec![web_a.clone(), rerun(web_b, 1)]);
        assert_eq!(after.records(), DesiredRecords::addresses(["web"]));

        // The marks last for one snapshot only: the id listed later, as a new container, is published.
        let mut after = before.restarted();
        after.snapshot(vec![]);
        after.snapshot(vec![web_a]);
        assert_eq!(after.records(), DesiredRecords::addresses(["web"]));
    }

    /// Each published name carries the host's address once, however many of its containers run; a name
    /// whose last container stopped is no key at all (not a key with no values).
    #[test]
    fn a_published_name_carries_the_host_address_once_and_a_withdrawn_one_nothing() {
        let mut state = DesiredState::new(SelectionSettings::default());
        state.snapshot(vec![svc("a", "web"), svc("b", "web"), svc("c", "api")]);
        let host = BTreeSet::from([DesiredValue::HostAddress]);
        assert_eq!(
            state.records().0,
            BTreeMap::from([
                ("api".to_string(), host.clone()),
                ("web".to_string(), host.clone())
            ])
        );
        state.apply(ContainerEvent::Die { id: "c".into() });
        state.apply(ContainerEvent::Die { id: "a".into() });
        let records = state.records();
        assert_eq!(records.0, BTreeMap::from([("web".to_string(), host)]));
        assert!(!records.0.contains_key("api"), "{records:?}");
    }

    #[test]
    fn skips_refusals_and_renames_are_reported_once_per_container() {
        let refused = svc("r", "api.v2");
        let skipped = with_network(svc("s", "db"), "container:abc");
        let renamed = svc("n", "My_Svc");
        let mut state = DesiredState::new(SelectionSettings::default());

        let notices = state.snapshot(vec![
            refused.clone(),
            skipped.clone(),
            renamed.clone(),
            svc("ok", "web"),
            plain("p"),
        ]);
        assert_eq!(
            notices,
            vec![
                Notice {
                    id: "r".into(),
                    container: "ecs-api.v2-r".into(),
                    kind: NoticeKind::Refused(NameRefusal::Dot("api.v2".into())),
                },
                Notice {
                    id: "s".into(),
                    container: "ecs-db-s".into(),
                    kind: NoticeKind::Skipped(SkipReason::NetworkContainer("container:abc".into())),
                },
                Notice {
                    id: "n".into(),
                    container: "ecs-My_Svc-n".into(),
                    kind: NoticeKind::Renamed {
                        label: "My_Svc".into(),
                        name: "my-svc".into()
                    },
                },
            ]
        );
        assert!(
            state.records().0.get("my-svc") == Some(&BTreeSet::from([DesiredValue::HostAddress])),
            "a renamed service is published"
        );
        // Listed again, restarted, or started again: not reported again while the id is known.
        assert_eq!(
            state.snapshot(vec![refused.clone(), skipped.clone(), renamed.clone()]),
            vec![]
        );
        assert_eq!(
            state.apply(ContainerEvent::Started(refused.clone())),
            vec![]
        );
        assert_eq!(state.apply(ContainerEvent::Die { id: "r".into() }), vec![]);
        assert_eq!(
            state.apply(ContainerEvent::Started(refused.clone())),
            vec![]
        );
        // Once the id is forgotten (died, then no longer listed), a new start of it is reported anew.
        state.apply(ContainerEvent::Die { id: "r".into() });
        state.snapshot(vec![]);
        let notices = state.apply(ContainerEvent::Started(refused));
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].id, "r");
    }

    #[test]
    fn stop_signals() {
        let cases: &[(&str, Option<&str>, bool)] = &[
            ("15", None, true),
            ("9", None, true),
            ("1", None, false),
            ("2", None, false),
            ("3", None, false),
            ("15", Some("SIGTERM"), true),
            ("15", Some("TERM"), true),
            ("15", Some("15"), true),
            ("15", Some("sigterm"), true),
            ("15", Some(""), true),
            ("15", Some("SIGBOGUS"), true),
            ("15", Some("SIGQUIT"), false),
            ("3", Some("SIGQUIT"), true),
            ("3", Some("QUIT"), true),
            ("3", Some("3"), true),
            ("9", Some("SIGQUIT"), true),
            ("2", Some("SIGINT"), true),
            ("28", Some("SIGWINCH"), true),
            ("37", Some("SIGRTMIN+3"), true),
            ("34", Some("RTMIN"), true),
            ("63", Some("SIGRTMAX-1"), true),
            ("SIGTERM", None, true),
            ("KILL", Some("SIGQUIT"), true),
            ("", None, false),
            ("TERM?", None, false),
        ];
        for (signal, stop, expected) in cases {
            assert_eq!(
                is_stop_signal(signal, *stop),
                *expected,
                "kill {signal:?} with StopSignal {stop:?}"
            );
        }
    }

    #[test]
    fn signal_names() {
        let cases: &[(&str, Option<u32>)] = &[
            ("SIGHUP", Some(1)),
            ("usr1", Some(10)),
            (" 15 ", Some(15)),
            ("SIGIOT", Some(6)),
            ("SIGRTMIN+30", Some(64)),
            ("SIGRTMIN+31", None),
            ("SIGRTMAX-30", Some(34)),
            ("SIGRTMAX-31", None),
            ("SIGRTMIN-1", None),
            ("SIG", None),
        ];
        for (name, expected) in cases {
            assert_eq!(signal_number(name), *expected, "{name:?}");
        }
    }
}
