//! `DockerWatcher`: follows the Docker engine and tells the classifier what runs.
//!
//! On every (re)start it connects, **subscribes to the event stream first, then lists** the running
//! containers, and sends the listing as a [`Snapshot`] followed by every event, in the engine's order, as
//! [`Event`]s. It lists again every `docker.resync_interval`.
//!
//! Events that arrive while a listing is in flight are held back and forwarded right after its snapshot.
//! The classifier replaces what it knew with a snapshot, so an event forwarded before a snapshot that was
//! taken earlier would be undone by it (a container started during the listing would vanish until the next
//! resync); an event forwarded after it is applied on top, which is always right. The subscription asks the
//! engine for the events since a second before it was made, so nothing between subscribing and listing is
//! lost either; after a reconnect, since a second before the engine's time (`timeNano`) of the last event
//! the previous stream delivered (not the time it was delivered: events queued behind it, behind a slow
//! inspection, may have happened before that), so that the engine replays what happened during the outage
//! (a stop-signal `kill` of a container that still drains is only seen that way: the listing shows it
//! running). Replayed events keep the engine's order, so
//! applied on top of the new snapshot they end where the engine is; the snapshot stays what the state rests
//! on, since the engine keeps only its last few hundred events.
//!
//! Failure handling follows actix's supervision: when the engine cannot be reached, the stream ends or
//! fails, or a listing fails, the watcher logs it and stops; its [`Supervisor`] starts it
//! again (as long as someone holds its `Addr`), after an exponential backoff with jitter whose attempt count
//! survives restarts and is reset once a connection has produced a snapshot. The restarted watcher subscribes
//! and lists again: that is the reconciliation after a reconnect. A panic in the Docker client (connecting,
//! listing, or inside the event stream) or in the watcher's own handling of it stops the watcher the same
//! way ([`crate::supervise::CatchPanic`]), instead of silently killing it and its supervisor.
//!
//! [`DockerStatus`] is shared with whoever reports health (`/healthz`) or waits for the engine (`--once`):
//! connected since when, or disconnected since when and why.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use tracing::{debug, info, warn};

use crate::backoff::{Backoff, RetryPolicy};
use crate::docker::container::{ContainerEvent, ContainerInfo, TimedEvent};
use crate::docker::engine::{BollardDocker, DockerApi, DockerError};
use crate::docker::{Event, Resync, Snapshot};
use crate::stats::Stats;
use crate::supervise::CatchPanic;

/// How far back the event subscription reaches, to cover the moment between subscribing and listing (the
/// engine replays the events it still holds).
const SUBSCRIBE_OVERLAP: Duration = Duration::from_secs(1);

/// The reconnection backoff: 500 ms, doubling up to 30 s (plus jitter). A restarted engine is found again
/// within a second; a long outage costs one connection attempt per 30–60 s.
pub const RECONNECT_POLICY: RetryPolicy = RetryPolicy {
    min_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(30),
};

/// Opens a connection to the engine (the real one: [`DockerWatcher::for_host`]; tests hand in fakes).
pub type Connect =
    Box<dyn Fn() -> LocalBoxFuture<'static, Result<Arc<dyn DockerApi>, DockerError>>>;

/// Whether the watcher is connected to the engine, and since when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Connected: the event stream is open and a listing has been sent.
    Connected { since: Instant },
    /// Not connected (yet, or any more), since this moment.
    Disconnected { since: Instant },
}

/// The watcher's connection state, shared (as an `Arc`) with the health endpoint.
#[derive(Debug)]
pub struct DockerStatus {
    connection: Mutex<Connection>,
    last_error: Mutex<Option<String>>,
}

impl DockerStatus {
    /// Not connected yet, counting from `now`.
    pub fn new(now: Instant) -> Self {
        DockerStatus {
            connection: Mutex::new(Connection::Disconnected { since: now }),
            last_error: Mutex::new(None),
        }
    }

    /// Why the last connection failed (or the last attempt to make one); `None` before any failure.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records why the engine was lost (kept after a reconnection: it is the last failure, not a state).
    pub fn failed(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    /// The current state.
    pub fn connection(&self) -> Connection {
        *self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How long the watcher has been without a connection at `now`; `None` while connected.
    pub fn down_for(&self, now: Instant) -> Option<Duration> {
        match self.connection() {
            Connection::Connected { .. } => None,
            Connection::Disconnected { since } => Some(now.saturating_duration_since(since)),
        }
    }

    /// Records a connection at `now` (keeps the earlier moment when already connected).
    pub fn connected(&self, now: Instant) {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Connection::Disconnected { .. } = *connection {
            *connection = Connection::Connected { since: now };
        }
    }

    /// Records a disconnection at `now` (keeps the earlier moment when already disconnected: the outage
    /// started then).
    pub fn disconnected(&self, now: Instant) {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Connection::Connected { .. } = *connection {
            *connection = Connection::Disconnected { since: now };
        }
    }
}

/// Follows the Docker engine: snapshots of the running containers and their events, to the classifier.
/// Start it with [`actix::Supervisor::start`] and keep its `Addr`.
pub struct DockerWatcher {
    connect: Connect,
    resync_interval: Duration,
    events: Recipient<Event>,
    snapshots: Recipient<Snapshot>,
    status: Arc<DockerStatus>,
    backoff: Backoff,
    /// Whether this start is a restart (and so waits for the backoff): every restart follows a failure.
    restarted: bool,
    /// The engine, once connected in this incarnation.
    docker: Option<Arc<dyn DockerApi>>,
    /// `Some` while a listing is in flight: the events that arrived meanwhile, in order.
    held: Option<Vec<ContainerEvent>>,
    /// When the last event arrived, across restarts: the next subscription replays from there.
    last_event_at: Option<SystemTime>,
    /// Counts reconnections and restarts.
    stats: Stats,
}

impl DockerWatcher {
    /// A watcher that connects with `connect` and lists every `resync_interval`.
    pub fn new(
        connect: Connect,
        resync_interval: Duration,
        events: Recipient<Event>,
        snapshots: Recipient<Snapshot>,
        status: Arc<DockerStatus>,
    ) -> Self {
        DockerWatcher {
            connect,
            resync_interval,
            events,
            snapshots,
            status,
            backoff: Backoff::new(RECONNECT_POLICY, rand::random()),
            restarted: false,
            docker: None,
            held: None,
            last_event_at: None,
            stats: Stats::new(),
        }
    }

    /// A watcher of the engine at `host` (already resolved, see [`crate::docker::engine::resolve_host`]).
    pub fn for_host(
        host: String,
        resync_interval: Duration,
        events: Recipient<Event>,
        snapshots: Recipient<Snapshot>,
        status: Arc<DockerStatus>,
    ) -> Self {
        let connect: Connect = Box::new(move || {
            let host = host.clone();
            async move {
                let docker = BollardDocker::connect(&host).await?;
                info!(host, api_version = %docker.api_version(), "connected to Docker");
                Ok(Arc::new(docker) as Arc<dyn DockerApi>)
            }
            .boxed_local()
        });
        DockerWatcher::new(connect, resync_interval, events, snapshots, status)
    }

    /// Counts in `stats` (the daemon's shared handle) rather than in one of its own.
    pub fn with_stats(mut self, stats: Stats) -> Self {
        self.stats = stats;
        self
    }

    /// Replaces the reconnection backoff (tests use short delays).
    pub fn with_reconnect_policy(mut self, policy: RetryPolicy) -> Self {
        self.backoff = Backoff::new(policy, rand::random());
        self
    }

    /// Something went wrong with the engine: give up this incarnation; the supervisor starts the next one.
    fn fail(&mut self, ctx: &mut Context<Self>, error: &dyn std::fmt::Display) {
        if ctx.state().stopping() {
            // Already failed: the stream's end after its error, say.
            return;
        }
        warn!(%error, attempt = self.backoff.attempts() + 1, "lost Docker; reconnecting");
        self.status.failed(error.to_string());
        ctx.stop();
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let connecting =
            (self.connect)()
                .into_actor(self)
                .map(|result, watcher, ctx| match result {
                    Ok(docker) => watcher.subscribe_and_list(docker, ctx),
                    Err(error) => watcher.fail(ctx, &error),
                });
        ctx.spawn(connecting.catch_panic("connect to Docker"));
    }

    fn subscribe_and_list(&mut self, docker: Arc<dyn DockerApi>, ctx: &mut Context<Self>) {
        let now = SystemTime::now();
        let from = self.last_event_at.map_or(now, |last| last.min(now));
        // Until an event arrives, what this subscription has covered starts at the subscription itself: a
        // stream that dies before its first event must still be replayed from there.
        self.last_event_at = Some(from);
        let since = from
            .checked_sub(SUBSCRIBE_OVERLAP)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        // The stream is polled (and so subscribed) as soon as this handler returns, before the listing's
        // request; `since` covers any race between the two requests. (Not `add_stream`: a panic inside the
        // stream must be caught like any other.)
        let events = docker
            .events(since)
            .into_actor(self)
            .map(|item, watcher, ctx| watcher.event(item, ctx))
            .finish()
            .map(|(), watcher, ctx| watcher.fail(ctx, &"the event stream ended"));
        ctx.spawn(events.catch_panic("follow Docker's events"));
        self.docker = Some(docker);
        self.list(ctx);
        ctx.run_interval(self.resync_interval, |watcher, ctx| watcher.list(ctx));
    }

    fn list(&mut self, ctx: &mut Context<Self>) {
        if self.held.is_some() {
            debug!("a listing is still in flight; skipping this resync");
            return;
        }
        let Some(docker) = self.docker.clone() else {
            return;
        };
        self.held = Some(Vec::new());
        let listing = async move { docker.list_running().await }
            .into_actor(self)
            .map(|result, watcher, ctx| match result {
                Ok(containers) => watcher.listed(containers),
                Err(error) => watcher.fail(ctx, &error),
            });
        ctx.spawn(listing.catch_panic("list Docker's containers"));
    }

    /// One item of the event stream: an event is held while a listing is in flight, else forwarded.
    fn event(&mut self, item: Result<TimedEvent, DockerError>, ctx: &mut Context<Self>) {
        if ctx.state().stopping() {
            // This incarnation has failed; the next one lists what the engine holds anyway.
            return;
        }
        match item {
            Ok(TimedEvent { event, at }) => {
                // The engine's time, not the delivery's: events queued behind this one (behind a slow
                // inspection, say) when the stream dies happened after `at`, and must be replayed.
                self.last_event_at = Some(at.min(SystemTime::now()));
                match self.held.as_mut() {
                    Some(held) => held.push(event),
                    None => self.events.do_send(Event(event)),
                }
            }
            Err(error) => self.fail(ctx, &error),
        }
    }

    fn listed(&mut self, containers: Vec<ContainerInfo>) {
        debug!(containers = containers.len(), "listed running containers");
        self.snapshots.do_send(Snapshot(containers));
        for event in self.held.take().unwrap_or_default() {
            self.events.do_send(Event(event));
        }
        if self.backoff.attempts() > 0 {
            info!("Docker reconnected and reconciled");
            self.stats.docker_reconnects.inc();
        }
        self.backoff.reset();
        self.status.connected(Instant::now());
    }
}

impl Actor for DockerWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if !self.restarted {
            self.connect(ctx);
            return;
        }
        let delay = self.backoff.next_delay();
        debug!(
            delay_ms = delay.as_millis() as u64,
            attempt = self.backoff.attempts(),
            "reconnecting to Docker"
        );
        ctx.run_later(delay, |watcher, ctx| watcher.connect(ctx));
    }
}

impl Handler<Resync> for DockerWatcher {
    type Result = ();

    /// Lists now (a listing in flight, or no engine yet, makes this a no-op: a snapshot is coming anyway).
    fn handle(&mut self, _: Resync, ctx: &mut Context<Self>) {
        self.list(ctx);
    }
}

impl Supervised for DockerWatcher {
    /// Every stop is a failure (an error, the stream's end, or a panic): the next incarnation waits for the
    /// backoff, and the engine counts as disconnected until it has listed again.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        // The context has dropped the stream, the timers and the futures of the last incarnation.
        self.status.disconnected(Instant::now());
        self.stats.actor_restarted("docker_watcher");
        self.restarted = true;
        self.docker = None;
        self.held = None;
    }
}

impl Handler<crate::supervise::Ping> for DockerWatcher {
    type Result = ();

    fn handle(&mut self, _: crate::supervise::Ping, _: &mut Context<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::stream::{self, BoxStream, StreamExt};
    use tokio::sync::{mpsc, Semaphore};

    use super::*;
    use crate::testing::{wait_until, Recorder, Recording, WatcherMessage};

    fn container(id: &str) -> ContainerInfo {
        ContainerInfo::plain(id)
    }

    /// A Docker whose listings wait for a permit the test hands out, and whose event streams the test feeds.
    /// Its first `panicking_lists` listings and the first `panicking_streams` event streams (when polled)
    /// panic, as a client with a bug would.
    struct FakeDocker {
        containers: Mutex<Vec<ContainerInfo>>,
        list_permits: Semaphore,
        streams: Mutex<Vec<mpsc::UnboundedSender<Result<TimedEvent, DockerError>>>>,
        lists: AtomicUsize,
        panicking_lists: AtomicUsize,
        panicking_streams: AtomicUsize,
        /// The `since` of every subscription, in order.
        sinces: Mutex<Vec<SystemTime>>,
    }

    impl FakeDocker {
        fn new() -> Self {
            FakeDocker {
                containers: Mutex::new(Vec::new()),
                list_permits: Semaphore::new(0),
                streams: Mutex::new(Vec::new()),
                lists: AtomicUsize::new(0),
                panicking_lists: AtomicUsize::new(0),
                panicking_streams: AtomicUsize::new(0),
                sinces: Mutex::new(Vec::new()),
            }
        }

        /// Takes one from `counter` if it is not zero: whether this call should panic.
        fn take(counter: &AtomicUsize) -> bool {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }

        /// Delivers `event` now, as having happened now.
        fn send(&self, event: ContainerEvent) {
            self.send_at(event, SystemTime::now());
        }

        /// Delivers `event` now, as having happened at `at` (in the engine's clock).
        fn send_at(&self, event: ContainerEvent, at: SystemTime) {
            let streams = self.streams.lock().unwrap();
            streams
                .last()
                .expect("subscribed")
                .send(Ok(TimedEvent { event, at }))
                .expect("stream open");
        }

        fn end_stream(&self) {
            self.streams.lock().unwrap().clear();
        }

        fn subscriptions(&self) -> usize {
            self.streams.lock().unwrap().len()
        }
    }

    #[async_trait::async_trait]
    impl DockerApi for FakeDocker {
        async fn list_running(&self) -> Result<Vec<ContainerInfo>, DockerError> {
            self.list_permits.acquire().await.expect("open").forget();
            self.lists.fetch_add(1, Ordering::SeqCst);
            if FakeDocker::take(&self.panicking_lists) {
                panic!("test: the listing panics");
            }
            Ok(self.containers.lock().unwrap().clone())
        }

        async fn inspect(&self, id: &str) -> Result<Option<ContainerInfo>, DockerError> {
            Ok(self
                .containers
                .lock()
                .unwrap()
                .iter()
                .find(|c| c.id == id)
                .cloned())
        }

        fn events(&self, since: SystemTime) -> BoxStream<'static, Result<TimedEvent, DockerError>> {
            self.sinces.lock().unwrap().push(since);
            let (sender, receiver) = mpsc::unbounded_channel();
            self.streams.lock().unwrap().push(sender);
            let panics = FakeDocker::take(&self.panicking_streams);
            stream::unfold(receiver, move |mut receiver| async move {
                if panics {
                    panic!("test: the event stream panics");
                }
                receiver.recv().await.map(|item| (item, receiver))
            })
            .boxed()
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Seen {
        Snapshot(Vec<String>),
        Event(ContainerEvent),
    }

    const WAIT: Duration = Duration::from_secs(10);

    struct Harness {
        docker: Arc<FakeDocker>,
        seen: Recording<WatcherMessage>,
        status: Arc<DockerStatus>,
        connects: Arc<AtomicUsize>,
        _watcher: Addr<DockerWatcher>,
    }

    /// A supervised watcher over `docker`; its first `failures` connection attempts fail.
    fn start(docker: Arc<FakeDocker>, failures: usize, resync: Duration) -> Harness {
        let seen = Recorder::start();
        let recorder = seen.clone();
        let status = Arc::new(DockerStatus::new(Instant::now()));
        let connects = Arc::new(AtomicUsize::new(0));
        let (fake, counter) = (Arc::clone(&docker), Arc::clone(&connects));
        let connect: Connect = Box::new(move || {
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            let fake = Arc::clone(&fake);
            async move {
                if attempt < failures {
                    Err(DockerError::Malformed("engine down".into()))
                } else {
                    Ok(fake as Arc<dyn DockerApi>)
                }
            }
            .boxed_local()
        });
        let status_for_watcher = Arc::clone(&status);
        let watcher = Supervisor::start(move |_| {
            DockerWatcher::new(
                connect,
                resync,
                recorder.recipient(),
                recorder.recipient(),
                status_for_watcher,
            )
            .with_reconnect_policy(RetryPolicy {
                min_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            })
        });
        Harness {
            docker,
            seen,
            status,
            connects,
            _watcher: watcher,
        }
    }

    impl Harness {
        /// What the watcher sent, its snapshots as container ids.
        fn seen(&self) -> Vec<Seen> {
            let seen = self.seen.seen().into_iter();
            seen.map(|sent| match sent {
                WatcherMessage::Snapshot(containers) => {
                    Seen::Snapshot(containers.into_iter().map(|c| c.id).collect())
                }
                WatcherMessage::Event(event) => Seen::Event(event),
            })
            .collect()
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[actix_rt::test]
    async fn events_during_a_listing_follow_its_snapshot_in_order() {
        let docker = Arc::new(FakeDocker::new());
        docker.containers.lock().unwrap().push(container("a"));
        let h = start(Arc::clone(&docker), 0, HOUR);

        wait_until(WAIT, "subscribed", || h.docker.subscriptions() == 1).await;
        // The listing is blocked: these events must wait for its snapshot.
        docker.send(ContainerEvent::Started(container("b")));
        docker.send(ContainerEvent::Kill {
            id: "a".into(),
            signal: "15".into(),
        });
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            h.seen(),
            vec![],
            "nothing is forwarded before the first snapshot"
        );
        assert!(
            h.status.down_for(Instant::now()).is_some(),
            "not connected before the first snapshot"
        );

        docker.list_permits.add_permits(1);
        wait_until(WAIT, "the held events are forwarded", || {
            h.seen().len() == 3
        })
        .await;
        assert_eq!(
            h.seen(),
            vec![
                Seen::Snapshot(vec!["a".into()]),
                Seen::Event(ContainerEvent::Started(container("b"))),
                Seen::Event(ContainerEvent::Kill {
                    id: "a".into(),
                    signal: "15".into()
                }),
            ]
        );
        assert!(matches!(
            h.status.connection(),
            Connection::Connected { .. }
        ));

        // Once listed, events go straight through.
        docker.send(ContainerEvent::Die { id: "a".into() });
        wait_until(WAIT, "the die event is forwarded", || h.seen().len() == 4).await;
        assert_eq!(
            h.seen()[3],
            Seen::Event(ContainerEvent::Die { id: "a".into() })
        );
    }

    #[actix_rt::test]
    async fn a_stream_that_ends_is_resubscribed_and_listed_again() {
        let docker = Arc::new(FakeDocker::new());
        docker.containers.lock().unwrap().push(container("a"));
        docker.list_permits.add_permits(10);
        let h = start(Arc::clone(&docker), 0, HOUR);
        wait_until(WAIT, "the first snapshot", || h.seen().len() == 1).await;

        // The engine restarts: the stream ends, and what runs changed meanwhile.
        *docker.containers.lock().unwrap() = vec![container("c")];
        docker.end_stream();
        wait_until(WAIT, "a second snapshot", || h.seen().len() == 2).await;
        assert_eq!(
            h.seen()[1],
            Seen::Snapshot(vec!["c".into()]),
            "the reconnect reconciles"
        );
        assert_eq!(h.connects.load(Ordering::SeqCst), 2);
        wait_until(WAIT, "connected again", || {
            h.status.down_for(Instant::now()).is_none()
        })
        .await;

        // The new stream is live.
        docker.send(ContainerEvent::Destroy { id: "c".into() });
        wait_until(WAIT, "an event on the new stream", || h.seen().len() == 3).await;
    }

    /// What happened while the stream was down is replayed: the new subscription starts from the last
    /// event the old one delivered, not from the reconnection.
    #[actix_rt::test]
    async fn a_resubscription_replays_from_the_last_event_seen() {
        let docker = Arc::new(FakeDocker::new());
        docker.list_permits.add_permits(10);
        let h = start(Arc::clone(&docker), 0, HOUR);
        wait_until(WAIT, "the first snapshot", || h.seen().len() == 1).await;
        let first = docker.sinces.lock().unwrap()[0];
        assert!(first <= SystemTime::now() - SUBSCRIBE_OVERLAP);

        docker.send(ContainerEvent::Die { id: "a".into() });
        wait_until(WAIT, "the event is forwarded", || h.seen().len() == 2).await;
        let seen_by = SystemTime::now();
        docker.end_stream();
        wait_until(WAIT, "a second subscription", || {
            h.docker.subscriptions() == 1
        })
        .await;
        wait_until(WAIT, "a second snapshot", || h.seen().len() == 3).await;
        let second = docker.sinces.lock().unwrap()[1];
        assert!(
            second <= seen_by - SUBSCRIBE_OVERLAP,
            "the replay starts before the last event ({second:?} > {seen_by:?} - 1 s)"
        );
    }

    /// The replay starts from the engine's time for the last event, not from when it was delivered: an
    /// event delivered late (behind a slow inspection) may have others queued behind it, which happened
    /// before its delivery, when the stream dies.
    #[actix_rt::test]
    async fn a_resubscription_replays_from_the_engines_time_of_the_last_event() {
        let docker = Arc::new(FakeDocker::new());
        docker.list_permits.add_permits(10);
        let h = start(Arc::clone(&docker), 0, HOUR);
        wait_until(WAIT, "the first snapshot", || h.seen().len() == 1).await;

        let happened = SystemTime::now() - Duration::from_secs(30);
        docker.send_at(ContainerEvent::Die { id: "a".into() }, happened);
        wait_until(WAIT, "the event is forwarded", || h.seen().len() == 2).await;
        docker.end_stream();
        wait_until(WAIT, "a second snapshot", || h.seen().len() == 3).await;
        let second = docker.sinces.lock().unwrap()[1];
        assert!(
            second <= happened - SUBSCRIBE_OVERLAP,
            "the replay starts a second before the event happened ({second:?} > {happened:?} - 1 s)"
        );
    }

    /// A stream that ends before delivering any event is replayed from its own subscription, not from the
    /// reconnection: the outage may hold a stop-signal kill.
    #[actix_rt::test]
    async fn a_quiet_stream_is_replayed_from_its_subscription() {
        let docker = Arc::new(FakeDocker::new());
        docker.list_permits.add_permits(10);
        let h = start(Arc::clone(&docker), 0, HOUR);
        wait_until(WAIT, "the first snapshot", || h.seen().len() == 1).await;
        docker.end_stream();
        wait_until(WAIT, "a second snapshot", || h.seen().len() == 2).await;
        let sinces = docker.sinces.lock().unwrap().clone();
        assert_eq!(sinces.len(), 2);
        assert!(
            sinces[1] <= sinces[0],
            "the replay starts where the first subscription did ({:?} > {:?})",
            sinces[1],
            sinces[0]
        );
    }

    #[actix_rt::test]
    async fn an_unreachable_engine_is_retried_until_it_answers() {
        let docker = Arc::new(FakeDocker::new());
        docker.list_permits.add_permits(10);
        let h = start(Arc::clone(&docker), 3, HOUR);
        wait_until(WAIT, "a snapshot after the failures", || {
            h.seen().len() == 1
        })
        .await;
        assert_eq!(
            h.connects.load(Ordering::SeqCst),
            4,
            "three failed attempts, then one that worked"
        );
        assert_eq!(h.seen(), vec![Seen::Snapshot(vec![])]);
        assert_eq!(
            h.status.last_error().as_deref(),
            Some("Docker answered an inspection of engine down without a container id"),
            "why the engine was lost is kept for /healthz and --once"
        );
    }

    /// A panic in the Docker client would kill the watcher's task (and its supervisor with it): the
    /// classifier would never hear of a container again. It must restart the watcher instead, which
    /// subscribes and lists again.
    #[actix_rt::test]
    async fn a_panicking_stream_or_listing_restarts_the_watcher() {
        for panicking_stream in [true, false] {
            let docker = Arc::new(FakeDocker::new());
            docker.containers.lock().unwrap().push(container("a"));
            docker.list_permits.add_permits(10);
            if panicking_stream {
                docker.panicking_streams.store(1, Ordering::SeqCst);
            } else {
                docker.panicking_lists.store(1, Ordering::SeqCst);
            }
            let h = start(Arc::clone(&docker), 0, HOUR);
            wait_until(WAIT, "a snapshot after the panic", || {
                h.seen().contains(&Seen::Snapshot(vec!["a".into()]))
            })
            .await;
            assert_eq!(
                h.connects.load(Ordering::SeqCst),
                2,
                "stream panics: {panicking_stream}; reconnected once"
            );
            assert_eq!(h.docker.subscriptions(), 2, "subscribed again");
            wait_until(WAIT, "connected", || {
                h.status.down_for(Instant::now()).is_none()
            })
            .await;

            // The new incarnation's stream is live.
            docker.send(ContainerEvent::Die { id: "a".into() });
            wait_until(WAIT, "an event on the new stream", || {
                h.seen()
                    .contains(&Seen::Event(ContainerEvent::Die { id: "a".into() }))
            })
            .await;
        }
    }

    #[actix_rt::test]
    async fn resyncs_list_again_on_the_interval() {
        let docker = Arc::new(FakeDocker::new());
        docker.list_permits.add_permits(100);
        let h = start(Arc::clone(&docker), 0, Duration::from_millis(20));
        wait_until(WAIT, "three snapshots", || {
            h.seen()
                .iter()
                .filter(|s| matches!(s, Seen::Snapshot(_)))
                .count()
                >= 3
        })
        .await;
        assert_eq!(
            h.docker.subscriptions(),
            1,
            "a resync lists without resubscribing"
        );
    }

    #[test]
    fn status_keeps_the_start_of_an_outage() {
        let t0 = Instant::now();
        let status = DockerStatus::new(t0);
        assert_eq!(
            status.down_for(t0 + Duration::from_secs(3)),
            Some(Duration::from_secs(3))
        );
        status.connected(t0 + Duration::from_secs(5));
        status.connected(t0 + Duration::from_secs(6));
        assert_eq!(
            status.connection(),
            Connection::Connected {
                since: t0 + Duration::from_secs(5)
            }
        );
        assert_eq!(status.down_for(t0 + Duration::from_secs(7)), None);
        status.disconnected(t0 + Duration::from_secs(10));
        status.disconnected(t0 + Duration::from_secs(20));
        assert_eq!(
            status.down_for(t0 + Duration::from_secs(30)),
            Some(Duration::from_secs(20))
        );
    }
}
