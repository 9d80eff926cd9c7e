//! `Route53Writer`: the actor that performs what the [`Reconciler`] decides.
//!
//! Every decision (when to send, what, how to retry, when to verify) is the reconciler's, a pure state
//! machine documented in [`crate::writer::reconcile`]. This actor feeds it the inputs (desired records, host IP,
//! settle and shutdown requests), performs the action it returns ([`crate::writer::perform`]: a zone read, a read
//! of some names, a flush) with the Route53 client it was given (rate limited and counted by its caller),
//! hands back the outcome, and arms its one timer for the instant the reconciler names.
//!
//! Supervised: a panic anywhere in its Route53 calls or its scheduling stops the actor
//! ([`crate::supervise::CatchPanic`]: without it, actix would drop the writer and its supervisor together).
//! The supervisor restarts it, and `restarting()` tells the reconciler, which forgets what it knew of the
//! zone and reads it again after the backoff.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::desired::DesiredRecords;
use crate::gc::{Collect, GetOwners, Owners};
use crate::host::{HostIdentity, HostIp, InstanceFate};
use crate::route53::{HostedZone, Route53Api};
use crate::stats::Stats;
use crate::supervise::Ping;
use crate::supervise::{stop_on_panic, CatchPanic};
use crate::writer::ledger::ledger_parent;
use crate::writer::members;
use crate::writer::perform::{perform, read_ledgers};
use crate::writer::reconcile::{Action, Reconciler};
use crate::writer::{Settle, Shutdown, WriteReport};

pub use crate::writer::reconcile::{
    WriterSettings, SHUTDOWN_MAX_RETRY_DELAY, VERIFY_NAMES_PER_STEP,
};

/// The writer actor. See the module documentation.
pub struct Route53Writer {
    api: Arc<dyn Route53Api>,
    state: Reconciler,
    dry_run: bool,
    timer: Option<SpawnHandle>,
    waiters: Vec<oneshot::Sender<WriteReport>>,
    stats: Stats,
}

impl Route53Writer {
    /// A writer for `zone` (resolved by `main` before the actors start), sending through `api`: the caller
    /// wraps it in the shared rate limiter ([`crate::route53::limited::RateLimited`]).
    pub fn new(
        api: Arc<dyn Route53Api>,
        zone: HostedZone,
        settings: WriterSettings,
        stats: Stats,
    ) -> Self {
        let dry_run = settings.dry_run;
        Route53Writer {
            api,
            state: Reconciler::new(zone, settings, stats.clone(), rand::random()),
            dry_run,
            timer: None,
            waiters: Vec::new(),
            stats,
        }
    }

    /// Starts the writer under an actix `Supervisor`.
    pub fn start_supervised(self) -> Addr<Self> {
        Supervisor::start(move |_| self)
    }

    /// Asks the reconciler what to do and does it. Called after every input and outcome, and by the timer.
    /// A panic in it (in the plan, say) restarts the writer.
    fn poll(&mut self, ctx: &mut Context<Self>) {
        stop_on_panic(self, ctx, "decide what to send", Self::poll_now);
    }

    fn poll_now(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let now = Instant::now();
        match self.state.next(now) {
            Action::Idle { until, settled } => {
                if settled {
                    self.stats.reconciled_now();
                    self.resolve_waiters();
                }
                if let Some(at) = until {
                    self.timer = Some(ctx.run_later(
                        at.saturating_duration_since(now),
                        |act, ctx| {
                            act.timer = None;
                            act.poll(ctx);
                        },
                    ));
                }
            }
            action => {
                if self.state.can_write() {
                    // The limiter slows down on a throttle by as much as the fleet's size says.
                    self.api.fleet_seen(self.state.fleet_estimate());
                }
                let what = action.what();
                let (api, zone_id) = (self.api.clone(), self.state.zone().id.clone());
                let (reread, dry_run) = (self.state.reread_plan(), self.dry_run);
                let work =
                    async move { perform(api.as_ref(), &zone_id, action, reread, dry_run).await };
                let work = work.into_actor(self).map(|outcome, act, ctx| {
                    if let Some(outcome) = outcome {
                        act.state.outcome(Instant::now(), outcome);
                    }
                    act.poll(ctx);
                });
                ctx.spawn(work.catch_panic(what));
            }
        }
    }

    fn resolve_waiters(&mut self) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(self.state.report().clone());
        }
    }

    /// A reply that resolves when the reconciler is next settled.
    fn wait_settled(&mut self, ctx: &mut Context<Self>) -> ResponseFuture<WriteReport> {
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        self.poll(ctx);
        Box::pin(async move { rx.await.unwrap_or_default() })
    }
}

impl Actor for Route53Writer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.poll(ctx);
    }
}

impl Supervised for Route53Writer {
    /// The reconciler forgets what it knew of the zone and reads it again after the backoff; the waiters
    /// keep waiting.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats.actor_restarted("writer");
        self.timer = None;
        self.state.restart(Instant::now());
    }
}

impl Handler<HostIp> for Route53Writer {
    type Result = ();

    fn handle(&mut self, HostIp(ip): HostIp, ctx: &mut Context<Self>) {
        if self.state.host_ip(Instant::now(), ip) {
            self.poll(ctx);
        }
    }
}

impl Handler<HostIdentity> for Route53Writer {
    type Result = ();

    fn handle(&mut self, HostIdentity(identity): HostIdentity, ctx: &mut Context<Self>) {
        if self.state.host_identity(identity) {
            self.poll(ctx);
        }
    }
}

impl Handler<InstanceFate> for Route53Writer {
    type Result = ();

    /// The end watch's answer: a leaving instance withdraws everything at once.
    fn handle(&mut self, InstanceFate { leaving }: InstanceFate, ctx: &mut Context<Self>) {
        if leaving.is_some() {
            self.api.hurry();
        }
        if self.state.instance_fate(Instant::now(), leaving) {
            self.poll(ctx);
        }
    }
}

impl Handler<DesiredRecords> for Route53Writer {
    type Result = ();

    fn handle(&mut self, records: DesiredRecords, ctx: &mut Context<Self>) {
        if self.state.desired_records(Instant::now(), records) {
            self.poll(ctx);
        }
    }
}

impl Handler<GetOwners> for Route53Writer {
    type Result = ResponseFuture<Owners>;

    /// Reads the fleet's ledgers (through the rate limiter, as every request) once this instance's owner id
    /// is known, and answers with the members among them; a failed read answers no owner at all, so that
    /// nothing is collected on a guess. A panic in the read ends that read only (actix runs a handler's
    /// `ResponseFuture` as a task of its own): the collector gets no answer, and asks about no one.
    fn handle(&mut self, _: GetOwners, _: &mut Context<Self>) -> Self::Result {
        let seen = self.state.others_seen();
        let owner_id = self.state.owner_id();
        let identity = self.state.identity().cloned();
        let (api, zone) = (self.api.clone(), self.state.zone().clone());
        Box::pin(async move {
            if owner_id.is_none() {
                return Owners::default();
            }
            let parent = ledger_parent(&zone.name);
            match read_ledgers(api.as_ref(), &zone.id, &parent).await {
                Ok(ledgers) => {
                    let members = members::members(&ledgers, &zone.name, identity.as_ref());
                    members::to_ask(owner_id, identity.as_ref(), &seen, &members)
                }
                Err(error) => {
                    warn!(%error, "gc: cannot read the fleet's ledgers; asking about no one this round");
                    Owners::default()
                }
            }
        })
    }
}

impl Handler<Collect> for Route53Writer {
    type Result = ();

    fn handle(&mut self, Collect(gone): Collect, ctx: &mut Context<Self>) {
        if self.state.collect(gone) {
            self.poll(ctx);
        }
    }
}

impl Handler<Ping> for Route53Writer {
    type Result = ();

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}

impl Handler<Settle> for Route53Writer {
    type Result = ResponseFuture<WriteReport>;

    fn handle(&mut self, _: Settle, ctx: &mut Context<Self>) -> Self::Result {
        self.wait_settled(ctx)
    }
}

impl Handler<Shutdown> for Route53Writer {
    type Result = ResponseFuture<WriteReport>;

    fn handle(
        &mut self,
        Shutdown { deregister }: Shutdown,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        self.state.shutdown(deregister);
        if !self.state.can_write() {
            // Without the IP or the desired records nothing was ever written, and nothing can be.
            info!(
                "shutting down before the IP and the desired records were known; nothing to flush"
            );
            let report = self.state.report().clone();
            return Box::pin(async move { report });
        }
        self.wait_settled(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::route53::Routing;

    #[test]
    fn settings_from_the_configuration() {
        let mut settings = Settings::default();
        settings.route53.routing = Routing::Weighted;
        settings.route53.ttl = 5;
        settings.host.owner_id = " i-0123 ".into();
        let w = WriterSettings::from(&settings).with_dry_run(true);
        assert_eq!((w.routing, w.ttl, w.weight), (Routing::Weighted, 5, 50));
        assert_eq!(w.owner_id.as_deref(), Some("i-0123"));
        assert!(w.dry_run);
        assert_eq!(
            WriterSettings::from(&Settings::default()).owner_id,
            None,
            "empty: the host IP"
        );
        settings.route53.routing = Routing::Simple;
        assert_eq!(WriterSettings::from(&settings).routing, Routing::Simple);
    }
}
