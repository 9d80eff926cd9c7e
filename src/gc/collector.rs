//! `GcCollector`: the clean-up of the record sets of instances that are gone (`[gc]`), beside the writer.
//!
//! When the pure [`decide::Collector`] says a check is due, it asks the writer whom it sees in the zone
//! ([`GetOwners`]: the owners of the reads the writer makes anyway, no extra Route53 request), asks EC2
//! about them and this instance ([`Ec2Api`]), hands the answer to the collector, and sends the owners it
//! finds gone to the writer ([`Collect`]), which withdraws their record sets like any other change. Alone
//! in the zone, it asks EC2 nothing.
//!
//! Supervised like the other actors: a panic stops it ([`CatchPanic`]), and the restarted actor keeps its
//! suspicions and arms its timer again.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tracing::{info, warn};

use crate::gc::decide::{self, GcTiming, Instance, Verdict};
use crate::gc::ec2::Ec2Api;
use crate::gc::{Collect, GetOwners, Owners};
use crate::stats::Stats;
use crate::supervise::CatchPanic;
use crate::supervise::Ping;

/// The clean-up actor. See the module documentation.
pub struct GcCollector {
    ec2: Arc<dyn Ec2Api>,
    owners: Recipient<GetOwners>,
    collect: Recipient<Collect>,
    state: decide::Collector,
    stats: Stats,
    timer: Option<SpawnHandle>,
}

impl GcCollector {
    /// A collector that asks `owners` (the writer) whom it sees, `ec2` about them, and sends `collect` (the
    /// writer) the owners found gone; its first check comes one jittered `gc.interval` after the start.
    pub fn new(
        ec2: Arc<dyn Ec2Api>,
        owners: Recipient<GetOwners>,
        collect: Recipient<Collect>,
        timing: GcTiming,
        stats: Stats,
    ) -> Self {
        GcCollector {
            ec2,
            owners,
            collect,
            state: decide::Collector::new(Instant::now(), timing, rand::random()),
            stats,
            timer: None,
        }
    }

    /// Starts the collector under an actix `Supervisor`.
    pub fn start_supervised(self) -> Addr<Self> {
        Supervisor::start(move |_| self)
    }

    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let wait = self.state.due().saturating_duration_since(Instant::now());
        self.timer = Some(ctx.run_later(wait, |act, ctx| {
            act.timer = None;
            act.check(ctx);
        }));
    }

    /// One check: whom the writer sees, what EC2 says of them, what that means.
    fn check(&mut self, ctx: &mut Context<Self>) {
        let (ec2, owners) = (self.ec2.clone(), self.owners.clone());
        let work = async move {
            let seen = owners.send(GetOwners).await.unwrap_or_default();
            if seen.others.is_empty() {
                return (seen, None);
            }
            let answer = describe(ec2.as_ref(), &seen).await;
            (seen, Some(answer))
        };
        let work = work
            .into_actor(self)
            .map(|(seen, answer), act, ctx| {
                let now = Instant::now();
                match answer {
                    None => act.state.nothing_to_check(now),
                    Some(answer) => {
                        act.stats.gc_checks.inc();
                        let verdict =
                            act.state
                                .checked(now, seen.me.as_deref(), &seen.others, answer);
                        act.act_on(verdict);
                    }
                }
                act.arm(ctx);
            })
            .catch_panic("check whether the zone's owners still run");
        ctx.spawn(work);
    }

    fn act_on(&mut self, verdict: Verdict) {
        if let Some(doubt) = verdict.doubt {
            self.stats.gc_doubtful_checks.inc();
            warn!(doubt, "gc: deleting nothing this round");
            return;
        }
        if !verdict.suspected.is_empty() {
            info!(owners = ?verdict.suspected, "gc: EC2 says these owners are gone; checking again after gc.grace");
        }
        if !verdict.gone.is_empty() {
            info!(owners = ?verdict.gone, "gc: gone in two checks; withdrawing their record sets");
            self.collect.do_send(Collect(verdict.gone));
        }
    }
}

/// Every instance EC2 describes for the queries about `seen`, or the first error.
async fn describe(ec2: &dyn Ec2Api, seen: &Owners) -> Result<Vec<Instance>, String> {
    let mut instances = Vec::new();
    for query in decide::queries(seen.me.as_deref(), &seen.others) {
        instances.extend(
            ec2.describe_instances(&query)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(instances)
}

impl Actor for GcCollector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.arm(ctx);
    }
}

impl Supervised for GcCollector {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.stats.actor_restarted("gc");
        self.timer = None;
    }
}

impl Handler<Ping> for GcCollector {
    type Result = ();

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}
