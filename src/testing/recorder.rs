//! [`Recorder`]: an actor that records every message it is sent, in the order it receives them, for a
//! test to read ([`Recording`]).

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr, Context, Handler, Message, MessageResult, Recipient};

use crate::docker::container::{ContainerEvent, ContainerInfo};
use crate::docker::{Event, Snapshot};

/// A message a [`Recorder`] records: one the daemon's actors send each other (a test records what an actor
/// sends downstream).
pub trait Recordable: Message<Result = ()> + Send + 'static {}

impl Recordable for Event {}
impl Recordable for Snapshot {}
impl Recordable for crate::desired::DesiredRecords {}
impl Recordable for crate::host::HostIp {}
impl Recordable for crate::host::HostIdentity {}

/// What a `DockerWatcher` sends, in order: one `Recorder<WatcherMessage>` records both its messages.
#[derive(Clone, Debug, PartialEq)]
pub enum WatcherMessage {
    Snapshot(Vec<ContainerInfo>),
    Event(ContainerEvent),
}

impl From<Event> for WatcherMessage {
    fn from(Event(event): Event) -> Self {
        WatcherMessage::Event(event)
    }
}

impl From<Snapshot> for WatcherMessage {
    fn from(Snapshot(containers): Snapshot) -> Self {
        WatcherMessage::Snapshot(containers)
    }
}

/// Records every message `M` it receives as a `T` (`M` itself, or a test's enum of the several messages
/// it records, in one order), through `From`.
pub struct Recorder<T> {
    log: Arc<Mutex<Vec<T>>>,
}

impl<T: Unpin + 'static> Actor for Recorder<T> {
    type Context = Context<Self>;
}

impl<T, M> Handler<M> for Recorder<T>
where
    T: Unpin + 'static,
    M: Recordable + Into<T>,
{
    type Result = ();

    fn handle(&mut self, message: M, _: &mut Context<Self>) {
        self.log.lock().unwrap().push(message.into());
    }
}

/// Hands over what was recorded so far, and forgets it.
struct Take<T>(PhantomData<T>);

impl<T: 'static> Message for Take<T> {
    type Result = Vec<T>;
}

impl<T: Unpin + 'static> Handler<Take<T>> for Recorder<T> {
    type Result = MessageResult<Take<T>>;

    fn handle(&mut self, _: Take<T>, _: &mut Context<Self>) -> Self::Result {
        MessageResult(std::mem::take(&mut *self.log.lock().unwrap()))
    }
}

/// A started [`Recorder`] and what it has recorded.
pub struct Recording<T: Unpin + 'static> {
    addr: Addr<Recorder<T>>,
    log: Arc<Mutex<Vec<T>>>,
}

impl<T: Unpin + 'static> Clone for Recording<T> {
    fn clone(&self) -> Self {
        Recording {
            addr: self.addr.clone(),
            log: Arc::clone(&self.log),
        }
    }
}

impl<T: Unpin + Send + 'static> Recorder<T> {
    /// Starts a recorder (in the current actix system).
    pub fn start() -> Recording<T> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = Actor::start(Recorder {
            log: Arc::clone(&log),
        });
        Recording { addr, log }
    }
}

impl<T: Unpin + Send + 'static> Recording<T> {
    /// Where an actor under test sends its `M`s.
    pub fn recipient<M: Recordable + Into<T>>(&self) -> Recipient<M> {
        self.addr.clone().recipient()
    }

    /// How many messages it has received so far.
    pub fn len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Whether it has received none so far.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What it has received so far, in order.
    pub fn seen(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.log.lock().unwrap().clone()
    }

    /// What it received before this request reached it, since the last `take`: the request is queued behind
    /// every message sent to the recorder before it (by an actor whose handling of a message has been
    /// answered, say), so no waiting is needed.
    pub async fn take(&self) -> Vec<T> {
        self.addr
            .send(Take(PhantomData))
            .await
            .expect("the recorder runs")
    }
}
