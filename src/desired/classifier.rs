//! `Classifier`: turns the watcher's events and snapshots into the records this instance should publish (the
//! values wanted under each name), and hands them to the writer whenever they change.
//!
//! The decisions are [`DesiredState`]'s; this actor holds it, logs its skips, refusals and renames (once per
//! container, fields first), counts refusals, and sends [`DesiredRecords`]. Nothing is sent before the first
//! [`Snapshot`]: until the running containers have been listed, an empty map would not mean "nothing runs",
//! and the writer would withdraw live records.
//!
//! A panic in the rules stops the classifier ([`crate::supervise::stop_on_panic`]); started with
//! [`Classifier::start_supervised`], it is restarted with an empty state ([`DesiredState::restarted`]: only
//! the marks of containers seen stopping or dying are kept, since a listing shows a draining container as
//! running) and waits for a snapshot again, sending nothing before it. It asks the watcher for that snapshot at once ([`Resync`], through the
//! recipient main hands it with [`ResyncVia`]) rather than waiting for the next `docker.resync_interval`;
//! until it arrives the writer keeps publishing the names it had, and the events that arrive meanwhile are
//! applied to the new state as before a first snapshot (the snapshot's rules sort out which came first).
//! Skips and refusals are then logged, and counted, once more.

use std::collections::BTreeSet;

use actix::{Actor, Addr, Context, Handler, Recipient, Supervised, Supervisor};
use tracing::{debug, info, warn};

use crate::config::SelectionSettings;
use crate::desired::state::{DesiredState, Notice, NoticeKind};
use crate::desired::DesiredRecords;
use crate::docker::{Event, Resync, ResyncVia, Snapshot};
use crate::stats::Stats;
use crate::supervise::stop_on_panic;

/// Holds this instance's desired state and sends its records downstream.
pub struct Classifier {
    state: DesiredState,
    downstream: Recipient<DesiredRecords>,
    /// The records last sent; `None` until the first snapshot.
    sent: Option<DesiredRecords>,
    /// The containers tracked as services at the last count, so that each is counted once.
    services: BTreeSet<String>,
    /// Counts events and refused names (one per container).
    stats: Stats,
    /// Whom to ask for a listing after a restart (the watcher).
    resync: Option<Recipient<Resync>>,
}

impl Classifier {
    /// A classifier applying `sel`, sending to `downstream` (the writer), counting in `stats`.
    pub fn new(
        sel: SelectionSettings,
        downstream: Recipient<DesiredRecords>,
        stats: Stats,
    ) -> Self {
        Classifier {
            state: DesiredState::new(sel),
            downstream,
            sent: None,
            services: BTreeSet::new(),
            stats,
            resync: None,
        }
    }

    /// Starts the classifier under an actix `Supervisor`, which restarts it after a panic.
    pub fn start_supervised(self) -> Addr<Self> {
        Supervisor::start(move |_| self)
    }

    fn log(&mut self, notices: Vec<Notice>) {
        for n in notices {
            match n.kind {
                NoticeKind::Refused(reason) => {
                    self.stats.container("refused", reason.label());
                    warn!(container = %n.container, id = %short(&n.id), reason = %reason, "name refused");
                }
                NoticeKind::Skipped(reason) => {
                    self.stats.container("skipped", reason.label());
                    info!(container = %n.container, id = %short(&n.id), reason = %reason, "container skipped");
                }
                NoticeKind::Renamed { label, name } => {
                    info!(container = %n.container, id = %short(&n.id), label, name, "published under its sanitised name");
                }
            }
        }
    }

    /// Counts the containers newly seen as services.
    fn count_services(&mut self) {
        let now: BTreeSet<String> = self
            .state
            .service_ids()
            .into_iter()
            .map(str::to_string)
            .collect();
        for _ in now.difference(&self.services) {
            self.stats.container("published", "");
        }
        self.services = now;
    }

    /// Sends the records when they differ from the last ones sent; before the first snapshot only a snapshot
    /// may send.
    fn publish(&mut self, after_snapshot: bool) {
        self.count_services();
        if self.sent.is_none() && !after_snapshot {
            return;
        }
        let records = self.state.records();
        if self.sent.as_ref() == Some(&records) {
            return;
        }
        debug!(records = ?records.0, "desired records changed");
        self.downstream.do_send(records.clone());
        self.sent = Some(records);
    }
}

/// The first 12 characters of a container id, as `docker ps` shows it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl Actor for Classifier {
    type Context = Context<Self>;
}

impl Supervised for Classifier {
    /// The state may be half-updated by the panic: start again as before a first snapshot, keeping only the
    /// stopping and dying marks that no listing could give back.
    fn restarting(&mut self, _: &mut Context<Self>) {
        warn!("classifier restarting; nothing is sent until the containers are listed again");
        self.stats.actor_restarted("classifier");
        self.state = self.state.restarted();
        self.sent = None;
        if let Some(resync) = &self.resync {
            resync.do_send(Resync);
        }
    }
}

impl Handler<ResyncVia> for Classifier {
    type Result = ();

    fn handle(&mut self, ResyncVia(resync): ResyncVia, _: &mut Context<Self>) {
        self.resync = Some(resync);
    }
}

impl Handler<Event> for Classifier {
    type Result = ();

    fn handle(&mut self, msg: Event, ctx: &mut Context<Self>) {
        self.stats.docker_event(msg.0.action());
        stop_on_panic(self, ctx, "apply a Docker event", |classifier, _| {
            let notices = classifier.state.apply(msg.0);
            classifier.log(notices);
            classifier.publish(false);
        });
    }
}

impl Handler<Snapshot> for Classifier {
    type Result = ();

    fn handle(&mut self, msg: Snapshot, ctx: &mut Context<Self>) {
        stop_on_panic(self, ctx, "apply a listing", |classifier, _| {
            let notices = classifier.state.snapshot(msg.0);
            classifier.log(notices);
            classifier.publish(true);
        });
    }
}

impl Handler<crate::supervise::Ping> for Classifier {
    type Result = ();

    fn handle(&mut self, _: crate::supervise::Ping, _: &mut Context<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use actix::{Addr, Message};

    use super::*;
    use crate::docker::container::{ContainerEvent, ContainerInfo};
    use crate::testing::{Recorder, Recording};

    /// Counts the listings asked for.
    #[derive(Default)]
    struct Resyncs(usize);

    impl Actor for Resyncs {
        type Context = Context<Self>;
    }

    impl Handler<Resync> for Resyncs {
        type Result = ();
        fn handle(&mut self, _: Resync, _: &mut Context<Self>) {
            self.0 += 1;
        }
    }

    #[derive(Message)]
    #[rtype(result = "usize")]
    struct Count;

    impl Handler<Count> for Resyncs {
        type Result = usize;
        fn handle(&mut self, _: Count, _: &mut Context<Self>) -> usize {
            self.0
        }
    }

    /// The records sent since the last call: the recorder answers behind every `DesiredRecords` the
    /// classifier sent while handling a message that has already been answered, so no waiting is needed.
    async fn taken(recorder: &Recording<DesiredRecords>) -> Vec<DesiredRecords> {
        recorder.take().await
    }

    /// Panics inside the classifier the way its real handlers guard against (a bug in the rules).
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Panic;

    impl Handler<Panic> for Classifier {
        type Result = ();
        fn handle(&mut self, _: Panic, ctx: &mut Context<Self>) {
            stop_on_panic(self, ctx, "test", |_, _| panic!("test: a bug in the rules"));
        }
    }

    fn svc(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo::ecs_service(id, name)
    }

    /// What the classifier sends when `names` are published: the host's address under each.
    fn set(names: &[&str]) -> DesiredRecords {
        DesiredRecords::addresses(names.iter().copied())
    }

    /// A classifier with the default rules, not started yet, counting in `stats` and sending to a recorder.
    fn recorded(stats: Stats) -> (Classifier, Recording<DesiredRecords>) {
        let recorder = Recorder::start();
        let classifier = Classifier::new(SelectionSettings::default(), recorder.recipient(), stats);
        (classifier, recorder)
    }

    fn start() -> (Addr<Classifier>, Recording<DesiredRecords>) {
        let (classifier, recorder) = recorded(Stats::new());
        (classifier.start(), recorder)
    }

    /// As [`start`], under a supervisor that restarts it after a panic.
    fn start_supervised() -> (Addr<Classifier>, Recording<DesiredRecords>) {
        let (classifier, recorder) = recorded(Stats::new());
        (classifier.start_supervised(), recorder)
    }

    #[actix_rt::test]
    async fn nothing_is_sent_before_the_first_snapshot() {
        let (classifier, recorder) = start();
        classifier
            .send(Event(ContainerEvent::Started(svc("a", "web"))))
            .await
            .unwrap();
        classifier
            .send(Event(ContainerEvent::Die { id: "a".into() }))
            .await
            .unwrap();
        classifier
            .send(Event(ContainerEvent::Started(svc("b", "api"))))
            .await
            .unwrap();
        assert_eq!(taken(&recorder).await, Vec::<DesiredRecords>::new());

        // The first snapshot sends, even a set that has not changed, and keeps what started before it.
        classifier.send(Snapshot(vec![])).await.unwrap();
        assert_eq!(taken(&recorder).await, vec![set(&["api"])]);
    }

    #[actix_rt::test]
    async fn after_a_panic_it_restarts_and_sends_nothing_before_the_next_snapshot() {
        let (classifier, recorder) = start_supervised();
        let resyncs = Resyncs::default().start();
        classifier
            .send(ResyncVia(resyncs.clone().recipient()))
            .await
            .unwrap();
        classifier
            .send(Snapshot(vec![svc("a", "web")]))
            .await
            .unwrap();
        assert_eq!(taken(&recorder).await, vec![set(&["web"])]);
        assert_eq!(resyncs.send(Count).await.unwrap(), 0);

        classifier.send(Panic).await.unwrap();
        // The restarted classifier knows nothing: an event alone must not send (`{api}` would withdraw web).
        classifier
            .send(Event(ContainerEvent::Started(svc("b", "api"))))
            .await
            .expect("restarted, not gone");
        assert_eq!(taken(&recorder).await, Vec::<DesiredRecords>::new());
        // It asked the watcher for that listing at once, not at the next resync.
        assert_eq!(resyncs.send(Count).await.unwrap(), 1);
        // The next listing rebuilds the state; what started since is kept.
        classifier
            .send(Snapshot(vec![svc("a", "web")]))
            .await
            .unwrap();
        assert_eq!(taken(&recorder).await, vec![set(&["api", "web"])]);
    }

    /// The listing after a restart shows a draining container as running: the stop seen before the panic
    /// keeps it withdrawn.
    #[actix_rt::test]
    async fn a_restart_keeps_a_draining_container_withdrawn() {
        let (classifier, recorder) = start_supervised();
        let listing = vec![svc("a", "web"), svc("b", "api")];
        classifier.send(Snapshot(listing.clone())).await.unwrap();
        classifier
            .send(Event(ContainerEvent::Kill {
                id: "a".into(),
                signal: "15".into(),
            }))
            .await
            .unwrap();
        assert_eq!(
            taken(&recorder).await,
            vec![set(&["api", "web"]), set(&["api"])]
        );

        classifier.send(Panic).await.unwrap();
        classifier.send(Snapshot(listing)).await.unwrap();
        assert_eq!(
            taken(&recorder).await,
            vec![set(&["api"])],
            "a, still draining, is not published again"
        );
    }

    /// What flows to the writer is the values per name: the host's address under each running service, once
    /// however many containers run it, and no key at all for a name withdrawn.
    #[actix_rt::test]
    async fn sends_the_host_address_under_each_published_name_and_nothing_for_a_withdrawn_one() {
        let (classifier, recorder) = start();
        classifier
            .send(Snapshot(vec![
                svc("a", "web"),
                svc("b", "web"),
                svc("c", "api"),
            ]))
            .await
            .unwrap();
        classifier
            .send(Event(ContainerEvent::Die { id: "c".into() }))
            .await
            .unwrap();
        let host = BTreeSet::from([crate::desired::DesiredValue::HostAddress]);
        let sent: Vec<BTreeMap<String, BTreeSet<_>>> =
            taken(&recorder).await.into_iter().map(|r| r.0).collect();
        assert_eq!(
            sent,
            vec![
                BTreeMap::from([
                    ("api".to_string(), host.clone()),
                    ("web".to_string(), host.clone())
                ]),
                BTreeMap::from([("web".to_string(), host)]),
            ]
        );
    }

    #[actix_rt::test]
    async fn an_empty_first_snapshot_is_sent() {
        let (classifier, recorder) = start();
        classifier.send(Snapshot(vec![])).await.unwrap();
        assert_eq!(taken(&recorder).await, vec![set(&[])]);
    }

    #[actix_rt::test]
    async fn sends_the_set_whenever_it_changes_and_only_then() {
        let (classifier, recorder) = start();
        classifier
            .send(Snapshot(vec![svc("a", "web"), svc("b", "web")]))
            .await
            .unwrap();
        assert_eq!(taken(&recorder).await, vec![set(&["web"])]);

        let steps: Vec<(ContainerEvent, Vec<DesiredRecords>)> = vec![
            (
                ContainerEvent::Started(svc("c", "api")),
                vec![set(&["api", "web"])],
            ),
            // One of two web containers stops: the set does not change, nothing is sent.
            (
                ContainerEvent::Kill {
                    id: "a".into(),
                    signal: "15".into(),
                },
                vec![],
            ),
            (ContainerEvent::Die { id: "a".into() }, vec![]),
            (
                ContainerEvent::Kill {
                    id: "b".into(),
                    signal: "1".into(),
                },
                vec![],
            ),
            (
                ContainerEvent::Kill {
                    id: "b".into(),
                    signal: "9".into(),
                },
                vec![set(&["api"])],
            ),
            (ContainerEvent::Die { id: "c".into() }, vec![set(&[])]),
            (ContainerEvent::Destroy { id: "c".into() }, vec![]),
        ];
        for (event, expected) in steps {
            let label = format!("{event:?}");
            classifier.send(Event(event)).await.unwrap();
            assert_eq!(taken(&recorder).await, expected, "after {label}");
        }

        // A snapshot listed before those dies does not bring them back.
        classifier
            .send(Snapshot(vec![
                svc("a", "web"),
                svc("b", "web"),
                svc("c", "api"),
            ]))
            .await
            .unwrap();
        assert_eq!(taken(&recorder).await, Vec::<DesiredRecords>::new());
    }

    #[actix_rt::test]
    async fn refusals_are_counted_once_per_container() {
        let stats = Stats::new();
        let (classifier, recorder) = recorded(stats.clone());
        let classifier = classifier.start();
        let refused = svc("r", "api.v2");
        classifier
            .send(Snapshot(vec![refused.clone(), svc("w", "web")]))
            .await
            .unwrap();
        classifier
            .send(Snapshot(vec![refused.clone(), svc("w", "web")]))
            .await
            .unwrap();
        classifier
            .send(Event(ContainerEvent::Started(svc("s", "*"))))
            .await
            .unwrap();
        let text = stats.render();
        for line in [
            r#"route53_registrator_containers_total{outcome="refused",reason="dot"} 1"#,
            r#"route53_registrator_containers_total{outcome="refused",reason="wildcard"} 1"#,
            r#"route53_registrator_containers_total{outcome="published",reason=""} 1"#,
            r#"route53_registrator_docker_events_total{action="start"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(taken(&recorder).await, vec![set(&["web"])]);
    }
}
