//! `EndWatch`: polls the instance metadata service for the instance's end (a Spot interruption notice, the
//! Auto Scaling target lifecycle state, optionally a rebalance recommendation: [`crate::host::lifecycle`])
//! and tells the writer ([`InstanceFate`]) its first answer and every change, so that a leaving instance
//! withdraws its records before EC2 takes it away.
//!
//! Each poll reads the items at once, each bounded by a timeout, as a future on the actor's context: a slow
//! service delays only the next answer. A poll still under way when the next is due is not doubled. Where
//! there is no metadata service to ask (`AWS_EC2_METADATA_DISABLED=true`, or an endpoint that cannot be
//! used), it says so once, tells the writer to go on, and polls nothing.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tracing::{info, warn};

use crate::host::lifecycle::{self, Fate, Item, Readings, Watch};
use crate::host::metadata::MetadataApi;
use crate::host::InstanceFate;
use crate::stats::Stats;
use crate::supervise::{CatchPanic, Ping};

/// The longest one read of an item may take, whatever the client's own timeouts say.
pub const ITEM_TIMEOUT: Duration = Duration::from_secs(10);

/// Watches for the instance's end; tells the writer.
pub struct EndWatch {
    /// The metadata service, or why there is none to ask.
    metadata: Result<Arc<dyn MetadataApi>, String>,
    recipient: Recipient<InstanceFate>,
    interval: Duration,
    /// Whether a rebalance recommendation counts as a notice (`lifecycle.rebalance`).
    rebalance: bool,
    watch: Watch,
    /// A poll is under way.
    polling: bool,
    /// Nothing known was logged since the last answer that was understood.
    unknown_logged: bool,
    /// The Auto Scaling target lifecycle state last seen, logged when it changes.
    target_state: Option<String>,
    stats: Stats,
}

impl EndWatch {
    /// A watch of `metadata` (or why there is none) every `interval`, telling `recipient`.
    pub fn new(
        metadata: Result<Arc<dyn MetadataApi>, String>,
        recipient: Recipient<InstanceFate>,
        interval: Duration,
        rebalance: bool,
        stats: Stats,
    ) -> Self {
        EndWatch {
            metadata,
            recipient,
            interval,
            rebalance,
            watch: Watch::default(),
            polling: false,
            unknown_logged: false,
            target_state: None,
            stats,
        }
    }

    /// Starts the watch under an actix `Supervisor`, which restarts it after a panic.
    pub fn start_supervised(self) -> Addr<Self> {
        Supervisor::start(move |_| self)
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        let Ok(api) = &self.metadata else {
            return;
        };
        if self.polling {
            return;
        }
        self.polling = true;
        let api = Arc::clone(api);
        let rebalance = self.rebalance;
        let read = async move {
            let item = |path| {
                let api = Arc::clone(&api);
                async move {
                    match tokio::time::timeout(ITEM_TIMEOUT, api.item(path)).await {
                        Ok(item) => item,
                        Err(_) => Item::Failed(format!("no answer within {ITEM_TIMEOUT:?}")),
                    }
                }
            };
            let optional = async {
                match rebalance {
                    true => Some(item(lifecycle::REBALANCE_PATH).await),
                    false => None,
                }
            };
            let (spot, target_state, rebalance) = tokio::join!(
                item(lifecycle::SPOT_ACTION_PATH),
                item(lifecycle::TARGET_STATE_PATH),
                optional
            );
            Readings {
                spot,
                target_state,
                rebalance,
            }
        }
        .into_actor(self)
        .map(|readings, watch, _ctx| {
            watch.polling = false;
            watch.state_seen(&readings.target_state);
            watch.heard(&lifecycle::fate(&readings));
        });
        ctx.spawn(read.catch_panic("read the instance's lifecycle"));
    }

    /// The Auto Scaling target lifecycle state, logged when it changes: `Detached` and `Standby` are no end,
    /// and the instance keeps serving.
    fn state_seen(&mut self, item: &Item) {
        if let Item::Text(state) = item {
            if self.target_state.as_deref() != Some(state.as_str()) {
                info!(state, "Auto Scaling target lifecycle state");
                self.target_state = Some(state.clone());
            }
        }
    }

    /// A poll found `fate`: logged and counted, and the writer told when it is news.
    fn heard(&mut self, fate: &Fate) {
        match fate {
            Fate::Unknown(why) => {
                self.stats.lifecycle_unknown.inc();
                if !self.unknown_logged {
                    self.unknown_logged = true;
                    warn!(
                        error = why,
                        "cannot tell from the instance metadata service whether the instance is going; \
                         going on as before (said once until it answers)"
                    );
                }
            }
            Fate::Staying | Fate::Leaving(_) => self.unknown_logged = false,
        }
        let was_leaving = self.watch.leaving().is_some();
        let Some(leaving) = self.watch.heard(fate) else {
            return;
        };
        match &leaving {
            Some(why) => {
                warn!(
                    notice = why,
                    "the instance is going: withdrawing every record of its own, publishing nothing more"
                );
                self.stats.lifecycle_notices.inc();
                self.stats.instance_leaving(Some(why.clone()));
            }
            None if was_leaving => {
                info!("the instance's end is called off: publishing again what runs");
                self.stats.instance_leaving(None);
            }
            None => {}
        }
        self.recipient.do_send(InstanceFate { leaving });
    }
}

impl Handler<Ping> for EndWatch {
    type Result = ();

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}

impl Supervised for EndWatch {
    /// After a panic in a poll: the next poll goes as usual; what was told the writer is kept.
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.polling = false;
    }
}

impl Actor for EndWatch {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        match &self.metadata {
            Err(why) => {
                info!(
                    reason = why,
                    "not watching for the instance's end (Spot interruption, Auto Scaling termination)"
                );
                let _ = self.watch.heard(&Fate::Staying);
                self.recipient.do_send(InstanceFate { leaving: None });
            }
            Ok(_) => {
                self.poll(ctx);
                ctx.run_interval(self.interval, |watch, ctx| watch.poll(ctx));
            }
        }
    }
}
