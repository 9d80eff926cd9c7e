//! `GcCollector`: the clean-up of the record sets of instances that are gone (`[gc]`), beside the writer.
//!
//! When the pure [`decide::Collector`] says a check is due, it asks the writer whom to ask about
//! ([`GetOwners`]: the fleet's members, as the ledgers the writer reads for it say, each by the name EC2
//! knows it by), asks EC2 about them and this instance ([`Ec2Api`]), hands the answer to the collector,
//! and sends the members it finds gone, with their ledgers, to the writer ([`Collect`]), which reads the
//! names each ledger lists, withdraws their record sets there like any other change, then deletes the
//! ledger. An owner seen in the zone with no membership record is never asked about (logged once). Alone
//! in the zone, it asks EC2 nothing.
//!
//! Supervised like the other actors: a panic stops it ([`CatchPanic`]), and the restarted actor keeps its
//! suspicions and arms its timer again.

use std::collections::BTreeSet;
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
    /// Owners with no membership record, already logged.
    strangers: BTreeSet<String>,
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
            strangers: BTreeSet::new(),
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
            let asked: BTreeSet<String> = seen.others.keys().cloned().collect();
            if asked.is_empty() {
                return (seen, asked, None);
            }
            let answer = describe(ec2.as_ref(), seen.me.as_deref(), &asked).await;
            (seen, asked, Some(answer))
        };
        let work = work
            .into_actor(self)
            .map(|(seen, asked, answer), act, ctx| {
                let now = Instant::now();
                act.notice_strangers(&seen.strangers);
                match answer {
                    None => act.state.nothing_to_check(now),
                    Some(answer) => {
                        act.stats.gc_checks.inc();
                        let verdict = act.state.checked(now, seen.me.as_deref(), &asked, answer);
                        act.act_on(verdict, &seen);
                    }
                }
                act.arm(ctx);
            })
            .catch_panic("check whether the zone's owners still run");
        ctx.spawn(work);
    }

    /// Logs each owner with no membership record once: its record sets are never collected.
    fn notice_strangers(&mut self, strangers: &BTreeSet<String>) {
        self.stats.gc_strangers.set(strangers.len() as i64);
        let new: Vec<&String> = strangers
            .iter()
            .filter(|owner| !self.strangers.contains(*owner))
            .collect();
        if !new.is_empty() {
            info!(
                owners = ?new,
                "gc: no membership record of this fleet (no ledger, or one of another account or region): never collected"
            );
        }
        self.strangers.clone_from(strangers);
    }

    /// Acts on a check's verdict about the members of `owners`, as EC2 knows them.
    fn act_on(&mut self, verdict: Verdict, owners: &Owners) {
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
            let gone = verdict
                .gone
                .iter()
                .filter_map(|name| owners.others.get(name))
                .map(|owner| (owner.clone(), owners.ledgers.get(owner).cloned()))
                .collect();
            self.collect.do_send(Collect(gone));
        }
    }
}

/// Every instance EC2 describes for the queries about this instance (`me`) and `asked`, or the first error.
async fn describe(
    ec2: &dyn Ec2Api,
    me: Option<&str>,
    asked: &BTreeSet<String>,
) -> Result<Vec<Instance>, String> {
    let mut instances = Vec::new();
    for query in decide::queries(me, asked) {
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
