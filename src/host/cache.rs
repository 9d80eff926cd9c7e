//! `MetadataCache`: knows the host IP and tells the writer ([`HostIp`]) when it is first known and whenever it
//! changes; and who the instance is ([`HostIdentity`]), for its ledger.
//!
//! | `host.ip`   | what happens                                                                             |
//! |-------------|------------------------------------------------------------------------------------------|
//! | set         | that IP is sent at start; no metadata client is even built, so no request is ever made    |
//! |             | (and no identity is known: the ledger says the owner id and the IP)                       |
//! | empty       | `local-ipv4` is read from the instance metadata service, retried with backoff until it    |
//! |             | answers, sent, then read again every few minutes and sent again only when it changed;     |
//! |             | beside it the instance identity document, until it is read once (sent before the IP)      |
//!
//! The writer writes nothing before it has the IP, so a metadata service that is down at start-up delays
//! publication, and nothing else. Reads run as futures on the actor's context, each bounded by a timeout:
//! a slow or hanging service never blocks this actor's mailbox or any other actor, and a failure only
//! schedules the next attempt. A refresh that fails keeps the IP already known. A panic in the client stops
//! the cache ([`crate::supervise::CatchPanic`]); started with [`MetadataCache::start_supervised`], it is
//! restarted and reads again after the same backoff, keeping the IP it knew.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tracing::{debug, info, warn};

use crate::backoff::{Backoff, RetryPolicy};
use crate::config::HostSettings;
use crate::host::metadata::{MetadataApi, MetadataError};
use crate::host::{HostIdentity, HostIp, Identity};
use crate::stats::Stats;
use crate::supervise::CatchPanic;

/// How often a known IP is read again (an instance's private IP does not change while it runs; this only
/// repairs a wrong first answer).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Retries of a failed read: 500 ms, doubling up to 30 s (plus jitter).
pub const RETRY_POLICY: RetryPolicy = RetryPolicy {
    min_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(30),
};

/// The longest one read may take, whatever the client's own timeouts say.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the host IP comes from.
pub enum HostIpSource {
    /// `host.ip`.
    Fixed(Ipv4Addr),
    /// The instance metadata service.
    Metadata(Arc<dyn MetadataApi>),
}

/// Knows the host IP; sends [`HostIp`] to the writer.
pub struct MetadataCache {
    source: HostIpSource,
    recipient: Recipient<HostIp>,
    /// Who is told the identity, when anyone is.
    identity_recipient: Option<Recipient<HostIdentity>>,
    /// The identity, once read.
    identity: Option<Identity>,
    /// A failed read of the identity was logged (it is logged once, and asked again at each refresh).
    identity_failure_logged: bool,
    refresh_interval: Duration,
    fetch_timeout: Duration,
    backoff: Backoff,
    current: Option<Ipv4Addr>,
    /// Whether this start is a restart after a panic (and so waits for the backoff).
    restarted: bool,
    /// Counts restarts.
    stats: Stats,
}

impl MetadataCache {
    /// A cache of `source` that tells `recipient`.
    pub fn new(source: HostIpSource, recipient: Recipient<HostIp>) -> Self {
        MetadataCache {
            source,
            recipient,
            identity_recipient: None,
            identity: None,
            identity_failure_logged: false,
            refresh_interval: REFRESH_INTERVAL,
            fetch_timeout: FETCH_TIMEOUT,
            backoff: Backoff::new(RETRY_POLICY, rand::random()),
            current: None,
            restarted: false,
            stats: Stats::new(),
        }
    }

    /// From the `[host]` settings: `host.ip` when set (and `metadata` is never called), else the metadata
    /// service that `metadata` builds (in production `ImdsMetadata::from_env`).
    pub fn from_settings(
        host: &HostSettings,
        recipient: Recipient<HostIp>,
        metadata: impl FnOnce() -> Result<Arc<dyn MetadataApi>, MetadataError>,
    ) -> Result<Self, MetadataError> {
        let ip = host.ip.trim();
        let source = if ip.is_empty() {
            HostIpSource::Metadata(metadata()?)
        } else {
            HostIpSource::Fixed(ip.parse().map_err(|_| MetadataError::HostIp {
                value: host.ip.clone(),
            })?)
        };
        Ok(MetadataCache::new(source, recipient))
    }

    /// Starts the cache under an actix `Supervisor`, which restarts it after a panic.
    pub fn start_supervised(self) -> Addr<Self> {
        Supervisor::start(move |_| self)
    }

    /// Counts in `stats` (the daemon's shared handle) rather than in one of its own.
    pub fn with_stats(mut self, stats: Stats) -> Self {
        self.stats = stats;
        self
    }

    /// Tells `recipient` the instance's identity once it is read (the metadata service only).
    pub fn telling_identity(mut self, recipient: Recipient<HostIdentity>) -> Self {
        self.identity_recipient = Some(recipient);
        self
    }

    /// Replaces the refresh interval (tests use short ones).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Replaces the retry backoff and the timeout of each read (tests use short ones).
    pub fn with_retries(mut self, policy: RetryPolicy, fetch_timeout: Duration) -> Self {
        self.backoff = Backoff::new(policy, rand::random());
        self.fetch_timeout = fetch_timeout;
        self
    }

    fn fetch(&mut self, ctx: &mut Context<Self>) {
        let HostIpSource::Metadata(api) = &self.source else {
            return;
        };
        let api = Arc::clone(api);
        let timeout = self.fetch_timeout;
        let want_identity = self.identity_recipient.is_some() && self.identity.is_none();
        let read = async move {
            let ip = tokio::time::timeout(timeout, api.local_ipv4());
            let identity = async {
                if want_identity {
                    Some(tokio::time::timeout(timeout, api.identity()).await)
                } else {
                    None
                }
            };
            tokio::join!(ip, identity)
        }
        .into_actor(self)
        .map(move |(ip, identity), cache, ctx| {
            if let Some(identity) = identity {
                cache.identity_fetched(flatten(identity, timeout));
            }
            cache.fetched(flatten(ip, timeout), ctx);
        });
        ctx.spawn(read.catch_panic("read the host IP"));
    }

    /// The identity read, or why not: sent to the writer when read; logged once when not (the ledger then
    /// says the owner id and the IP only, and the next refresh asks again).
    fn identity_fetched(&mut self, result: Result<Identity, String>) {
        match result {
            Ok(identity) => {
                info!(
                    instance_id = identity.instance_id,
                    account = identity.account,
                    region = identity.region,
                    "instance identity from the instance metadata service"
                );
                if let Some(recipient) = &self.identity_recipient {
                    recipient.do_send(HostIdentity(identity.clone()));
                }
                self.identity = Some(identity);
            }
            Err(error) if !self.identity_failure_logged => {
                self.identity_failure_logged = true;
                warn!(
                    %error,
                    "cannot read the instance identity document; the ledger says the owner id and the IP only until it is read"
                );
            }
            Err(_) => {}
        }
    }

    fn fetched(&mut self, result: Result<Ipv4Addr, String>, ctx: &mut Context<Self>) {
        match result {
            Ok(ip) => {
                match self.current {
                    Some(old) if old == ip => debug!(%ip, "host IP unchanged"),
                    Some(old) => {
                        info!(%old, new = %ip, "host IP changed");
                        self.recipient.do_send(HostIp(ip));
                    }
                    None => {
                        info!(%ip, "host IP from the instance metadata service");
                        self.recipient.do_send(HostIp(ip));
                    }
                }
                self.current = Some(ip);
                self.backoff.reset();
                ctx.run_later(self.refresh_interval, |cache, ctx| cache.fetch(ctx));
            }
            Err(error) => {
                let delay = self.backoff.next_delay();
                let retry_in_ms = delay.as_millis() as u64;
                match self.current {
                    None => warn!(
                        %error,
                        retry_in_ms,
                        attempt = self.backoff.attempts(),
                        "cannot read the host IP from the instance metadata service; nothing is published until it is known"
                    ),
                    Some(ip) => {
                        warn!(%error, %ip, retry_in_ms, "cannot refresh the host IP; keeping the one known")
                    }
                }
                ctx.run_later(delay, |cache, ctx| cache.fetch(ctx));
            }
        }
    }
}

/// A read bounded by `timeout`, its error said in words.
fn flatten<T>(
    read: Result<Result<T, MetadataError>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> Result<T, String> {
    match read {
        Ok(read) => read.map_err(|error| error.to_string()),
        Err(_elapsed) => Err(format!("no answer within {timeout:?}")),
    }
}

impl Actor for MetadataCache {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        match self.source {
            HostIpSource::Fixed(ip) => {
                info!(%ip, "host IP from host.ip; the instance metadata service is not asked");
                self.current = Some(ip);
                self.recipient.do_send(HostIp(ip));
            }
            HostIpSource::Metadata(_) if self.restarted => {
                let delay = self.backoff.next_delay();
                ctx.run_later(delay, |cache, ctx| cache.fetch(ctx));
            }
            HostIpSource::Metadata(_) => self.fetch(ctx),
        }
    }
}

impl Supervised for MetadataCache {
    /// Only a panic stops the cache: the next read waits for the backoff; the IP known is kept (and not
    /// sent again unless it changes).
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats.actor_restarted("metadata_cache");
        self.restarted = true;
    }
}

impl Handler<crate::supervise::Ping> for MetadataCache {
    type Result = ();

    fn handle(&mut self, _: crate::supervise::Ping, _: &mut Context<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::testing::{wait_until, Recorder};

    /// Answers from a script: one entry per read (`None`: hang forever), then the last entry again. The
    /// first `panics` reads panic instead (and do not count as reads).
    struct ScriptedMetadata {
        script: Vec<Option<Result<Ipv4Addr, ()>>>,
        reads: AtomicUsize,
        panics: AtomicUsize,
        /// The first this many reads of the identity fail.
        identity_failures: usize,
        identity_reads: AtomicUsize,
    }

    impl ScriptedMetadata {
        fn new(script: Vec<Option<Result<Ipv4Addr, ()>>>) -> Arc<Self> {
            Arc::new(ScriptedMetadata::of(script))
        }

        fn of(script: Vec<Option<Result<Ipv4Addr, ()>>>) -> Self {
            ScriptedMetadata {
                script,
                reads: AtomicUsize::new(0),
                panics: AtomicUsize::new(0),
                identity_failures: 0,
                identity_reads: AtomicUsize::new(0),
            }
        }
    }

    #[async_trait::async_trait]
    impl MetadataApi for ScriptedMetadata {
        async fn local_ipv4(&self) -> Result<Ipv4Addr, MetadataError> {
            if self
                .panics
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                panic!("test: the metadata client panics");
            }
            let read = self.reads.fetch_add(1, Ordering::SeqCst);
            match self.script[read.min(self.script.len() - 1)] {
                None => std::future::pending().await,
                Some(Ok(ip)) => Ok(ip),
                Some(Err(())) => Err(MetadataError::Disabled),
            }
        }

        async fn item(&self, _path: &'static str) -> crate::host::lifecycle::Item {
            crate::host::lifecycle::Item::Absent
        }

        async fn identity(&self) -> Result<Identity, MetadataError> {
            let read = self.identity_reads.fetch_add(1, Ordering::SeqCst);
            if read < self.identity_failures {
                return Err(MetadataError::Disabled);
            }
            Ok(identity())
        }
    }

    fn identity() -> Identity {
        Identity {
            instance_id: "i-0123".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
        }
    }

    /// What the writer is told, in the order it is told.
    #[derive(Clone, Debug, PartialEq)]
    enum Told {
        Ip(Ipv4Addr),
        Identity(Identity),
    }

    impl From<HostIp> for Told {
        fn from(HostIp(ip): HostIp) -> Self {
            Told::Ip(ip)
        }
    }

    impl From<HostIdentity> for Told {
        fn from(HostIdentity(identity): HostIdentity) -> Self {
            Told::Identity(identity)
        }
    }

    /// The identity is read beside the first IP and told first; a failed read is asked again at the next
    /// refresh, and once read it is not asked again.
    #[actix_rt::test]
    async fn the_identity_is_told_before_the_ip_and_read_until_it_answers_once() {
        let told = Recorder::<Told>::start();
        let api = ScriptedMetadata::new(vec![Some(Ok(A))]);
        cache(Arc::clone(&api), told.recipient())
            .telling_identity(told.recipient())
            .start();
        wait_until(WAIT, "the IP and the identity", || told.len() == 2).await;
        assert_eq!(told.seen(), vec![Told::Identity(identity()), Told::Ip(A)]);

        let failing = Arc::new(ScriptedMetadata {
            identity_failures: 2,
            ..ScriptedMetadata::of(vec![Some(Ok(B))])
        });
        let later = Recorder::<Told>::start();
        cache(Arc::clone(&failing), later.recipient())
            .telling_identity(later.recipient())
            .start();
        wait_until(WAIT, "the identity at the third read", || later.len() == 2).await;
        assert_eq!(later.seen(), vec![Told::Ip(B), Told::Identity(identity())]);
        let reads = failing.reads.load(Ordering::SeqCst);
        wait_until(WAIT, "a few more refreshes", || {
            failing.reads.load(Ordering::SeqCst) >= reads + 3
        })
        .await;
        assert_eq!(
            failing.identity_reads.load(Ordering::SeqCst),
            3,
            "two failures, then one answer, then never again"
        );
    }

    const WAIT: Duration = Duration::from_secs(10);

    const FAST: RetryPolicy = RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn cache(api: Arc<ScriptedMetadata>, recipient: Recipient<HostIp>) -> MetadataCache {
        MetadataCache::new(HostIpSource::Metadata(api), recipient)
            .with_retries(FAST, Duration::from_millis(50))
            .with_refresh_interval(Duration::from_millis(10))
    }

    #[actix_rt::test]
    async fn host_ip_is_sent_at_start_and_metadata_is_never_built() {
        let seen = Recorder::<HostIp>::start();
        let host = HostSettings {
            ip: "10.9.8.7".into(),
            owner_id: String::new(),
        };
        let cache = MetadataCache::from_settings(&host, seen.recipient(), || {
            panic!("no metadata client with host.ip")
        });
        cache.unwrap().start();
        wait_until(WAIT, "the IP is sent", || seen.len() == 1).await;
        assert_eq!(seen.seen()[0], HostIp(Ipv4Addr::new(10, 9, 8, 7)));
    }

    #[actix_rt::test]
    async fn an_invalid_host_ip_is_refused() {
        let host = HostSettings {
            ip: "10.9.8".into(),
            owner_id: String::new(),
        };
        let seen = Recorder::<HostIp>::start();
        let error = MetadataCache::from_settings(&host, seen.recipient(), || panic!("not asked"))
            .err()
            .unwrap();
        assert!(error.to_string().contains("10.9.8"), "{error}");
    }

    #[actix_rt::test]
    async fn failures_and_hangs_are_retried_until_an_answer() {
        let api = ScriptedMetadata::new(vec![Some(Err(())), None, Some(Err(())), Some(Ok(A))]);
        let seen = Recorder::<HostIp>::start();
        cache(Arc::clone(&api), seen.recipient()).start();
        wait_until(WAIT, "the IP arrives", || !seen.is_empty()).await;
        assert_eq!(seen.seen()[0], HostIp(A));
        assert!(
            api.reads.load(Ordering::SeqCst) >= 4,
            "a failure, a hang (timed out), a failure, then the IP"
        );
    }

    #[actix_rt::test]
    async fn a_panicking_client_restarts_the_cache_which_reads_again() {
        let api = ScriptedMetadata::new(vec![Some(Ok(A)), Some(Ok(B))]);
        api.panics.store(2, Ordering::SeqCst);
        let seen = Recorder::<HostIp>::start();
        let cache = cache(Arc::clone(&api), seen.recipient())
            .with_refresh_interval(Duration::from_secs(3600))
            .start_supervised();
        wait_until(WAIT, "the IP arrives", || !seen.is_empty()).await;
        assert_eq!(seen.seen(), vec![HostIp(A)]);
        assert_eq!(api.panics.load(Ordering::SeqCst), 0, "both panics happened");
        assert!(cache.connected(), "restarted, not gone");
    }

    #[actix_rt::test]
    async fn refreshes_send_the_ip_again_only_when_it_changed() {
        let api = ScriptedMetadata::new(vec![
            Some(Ok(A)),
            Some(Ok(A)),
            Some(Err(())),
            Some(Ok(A)),
            Some(Ok(B)),
        ]);
        let seen = Recorder::<HostIp>::start();
        cache(Arc::clone(&api), seen.recipient()).start();
        wait_until(WAIT, "the changed IP arrives", || seen.len() == 2).await;
        // Later refreshes keep answering B: nothing more is sent.
        let reads = api.reads.load(Ordering::SeqCst);
        wait_until(WAIT, "a few more refreshes", || {
            api.reads.load(Ordering::SeqCst) >= reads + 3
        })
        .await;
        assert_eq!(seen.seen(), vec![HostIp(A), HostIp(B)]);
    }
}
