//! The one test double of [`Route53Api`] (`src/testing/double.rs`, compiled for the unit tests and under the
//! `test-util` feature): [`Double`] passes every call to the implementation it wraps (the in-process
//! emulator, usually) or answers it from the test's script, counts the calls of each operation, and runs the
//! test's hook (if any) before each. A hook may count, wait at a gate, fail the call, or panic (as a client
//! with a bug would), so that each test states only the behaviour it changes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::future::{ready, BoxFuture, FutureExt};

use crate::route53::{
    Change, ChangeInfo, HostedZone, RecordPage, RecordPosition, Route53Api, Route53Error,
};

/// What a hook answers: `Ok` lets the call through; an error is the call's answer instead, and the call
/// then goes no further.
pub type HookFuture = BoxFuture<'static, Result<(), Route53Error>>;

/// Run before a call, with its number (from 1) among the calls of that operation.
type Hook = Box<dyn Fn(usize) -> HookFuture + Send + Sync>;

/// A hook's answer that lets the call through.
pub fn pass() -> HookFuture {
    ready(Ok(())).boxed()
}

/// A hook's answer that fails the call with `error`.
pub fn fail(error: Route53Error) -> HookFuture {
    ready(Err(error)).boxed()
}

type ZoneScript = Box<dyn Fn(usize) -> Result<HostedZone, Route53Error> + Send + Sync>;
type ListScript = Box<
    dyn Fn(Option<&RecordPosition>, Option<i32>) -> Result<RecordPage, Route53Error> + Send + Sync,
>;
type Refusal = Box<dyn Fn(&[Change]) -> Option<Route53Error> + Send + Sync>;

/// Calls of one operation: how many, and the hook run before each.
#[derive(Default)]
struct Operation {
    calls: AtomicUsize,
    before: Option<Hook>,
}

impl Operation {
    /// Counts the call and runs the hook, if there is one: the call's number, or the hook's error.
    async fn enter(&self) -> Result<usize, Route53Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(hook) = &self.before {
            hook(n).await?;
        }
        Ok(n)
    }
}

/// See the module doc. Built with [`Double::new`] (delegating) or [`Double::scripted`] (answering only
/// what the test scripts), then the hooks and scripts it needs.
pub struct Double {
    inner: Option<Arc<dyn Route53Api>>,
    zones: Operation,
    lists: Operation,
    changes: Operation,
    list_starts: Mutex<Vec<Option<RecordPosition>>>,
    zone_script: Option<ZoneScript>,
    list_script: Option<ListScript>,
    refuse: Option<Refusal>,
}

impl Double {
    /// Passes every call to `inner`.
    pub fn new(inner: impl Route53Api) -> Self {
        Double {
            inner: Some(Arc::new(inner)),
            ..Double::scripted()
        }
    }

    /// Answers only what [`answer_zone`](Self::answer_zone) and [`answer_lists`](Self::answer_lists)
    /// script; any other call panics, naming it.
    pub fn scripted() -> Self {
        Double {
            inner: None,
            zones: Operation::default(),
            lists: Operation::default(),
            changes: Operation::default(),
            list_starts: Mutex::default(),
            zone_script: None,
            list_script: None,
            refuse: None,
        }
    }

    /// Runs `hook` before each GetHostedZone.
    pub fn before_zone(
        mut self,
        hook: impl Fn(usize) -> HookFuture + Send + Sync + 'static,
    ) -> Self {
        self.zones.before = Some(Box::new(hook));
        self
    }

    /// Runs `hook` before each ListResourceRecordSets.
    pub fn before_list(
        mut self,
        hook: impl Fn(usize) -> HookFuture + Send + Sync + 'static,
    ) -> Self {
        self.lists.before = Some(Box::new(hook));
        self
    }

    /// Runs `hook` before each ChangeResourceRecordSets.
    pub fn before_change(
        mut self,
        hook: impl Fn(usize) -> HookFuture + Send + Sync + 'static,
    ) -> Self {
        self.changes.before = Some(Box::new(hook));
        self
    }

    /// Refuses the change batches `refusal` answers an error for (as an IAM policy would).
    pub fn refuse_changes(
        mut self,
        refusal: impl Fn(&[Change]) -> Option<Route53Error> + Send + Sync + 'static,
    ) -> Self {
        self.refuse = Some(Box::new(refusal));
        self
    }

    /// Answers GetHostedZone number `n` (from 1) with `script(n)`.
    pub fn answer_zone(
        mut self,
        script: impl Fn(usize) -> Result<HostedZone, Route53Error> + Send + Sync + 'static,
    ) -> Self {
        self.zone_script = Some(Box::new(script));
        self
    }

    /// Answers ListResourceRecordSets with `script(start, max_items)`.
    pub fn answer_lists(
        mut self,
        script: impl Fn(Option<&RecordPosition>, Option<i32>) -> Result<RecordPage, Route53Error>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.list_script = Some(Box::new(script));
        self
    }

    /// GetHostedZone calls so far.
    pub fn zones(&self) -> usize {
        self.zones.calls.load(Ordering::SeqCst)
    }

    /// ListResourceRecordSets calls so far.
    pub fn lists(&self) -> usize {
        self.lists.calls.load(Ordering::SeqCst)
    }

    /// ChangeResourceRecordSets calls so far.
    pub fn changes(&self) -> usize {
        self.changes.calls.load(Ordering::SeqCst)
    }

    /// Calls of every operation so far.
    pub fn calls(&self) -> usize {
        self.zones() + self.lists() + self.changes()
    }

    /// Where each ListResourceRecordSets started, in order.
    pub fn list_starts(&self) -> Vec<Option<RecordPosition>> {
        self.list_starts.lock().unwrap().clone()
    }

    fn inner(&self, call: &str) -> &dyn Route53Api {
        match &self.inner {
            Some(inner) => inner.as_ref(),
            None => panic!("test double: no answer scripted for {call}"),
        }
    }
}

#[async_trait]
impl Route53Api for Double {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error> {
        let n = self.zones.enter().await?;
        match &self.zone_script {
            Some(script) => script(n),
            None => self.inner("GetHostedZone").get_hosted_zone(zone_id).await,
        }
    }

    async fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, Route53Error> {
        self.list_starts.lock().unwrap().push(start.cloned());
        self.lists.enter().await?;
        match &self.list_script {
            Some(script) => script(start, max_items),
            None => {
                self.inner("ListResourceRecordSets")
                    .list_record_sets(zone_id, start, max_items)
                    .await
            }
        }
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
    ) -> Result<ChangeInfo, Route53Error> {
        self.changes.enter().await?;
        if let Some(error) = self.refuse.as_ref().and_then(|refuse| refuse(changes)) {
            return Err(error);
        }
        self.inner("ChangeResourceRecordSets")
            .change_record_sets(zone_id, changes)
            .await
    }

    fn fleet_seen(&self, owners: usize) {
        if let Some(inner) = &self.inner {
            inner.fleet_seen(owners);
        }
    }

    fn hurry(&self) {
        if let Some(inner) = &self.inner {
            inner.hurry();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> HostedZone {
        HostedZone {
            id: "Z".into(),
            name: "zone.".into(),
            private: true,
            record_sets: None,
        }
    }

    #[tokio::test]
    async fn a_hook_runs_before_each_call_and_its_error_is_the_answer() {
        let inner = Double::scripted().answer_zone(|_| Ok(zone()));
        let double = Double::new(inner).before_zone(|n| {
            if n == 2 {
                fail(Route53Error::Throttling("Rate exceeded".into()))
            } else {
                pass()
            }
        });
        assert_eq!(double.get_hosted_zone("Z").await, Ok(zone()));
        assert_eq!(
            double.get_hosted_zone("Z").await,
            Err(Route53Error::Throttling("Rate exceeded".into()))
        );
        assert_eq!(double.get_hosted_zone("Z").await, Ok(zone()));
        assert_eq!(
            (double.zones(), double.lists(), double.changes()),
            (3, 0, 0)
        );
    }

    #[tokio::test]
    async fn a_refused_change_goes_no_further() {
        let double = Double::scripted().refuse_changes(|changes| {
            changes
                .is_empty()
                .then(|| Route53Error::InvalidChangeBatch(vec!["empty".into()]))
        });
        assert_eq!(
            double.change_record_sets("Z", &[]).await,
            Err(Route53Error::InvalidChangeBatch(vec!["empty".into()]))
        );
        assert_eq!(double.changes(), 1);
    }

    #[tokio::test]
    #[should_panic(expected = "no answer scripted for ListResourceRecordSets")]
    async fn a_scripted_double_answers_only_its_script() {
        let _ = Double::scripted().list_record_sets("Z", None, None).await;
    }
}
