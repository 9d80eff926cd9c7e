//! What every actor of the daemon shares: a panic turned into a stop that its supervisor restarts, and the
//! [`Ping`] that `/healthz` sends each.
//!
//! # Panics
//!
//! What actix 0.13 on actix-rt 2 (tokio's `LocalSet`) does with a panic, checked by experiment: a panic in a
//! handler, in a future spawned on the actor's context, or in a `run_later` closure unwinds out of the
//! actor's task. Tokio catches it at the task boundary, so the `System` and every other actor keep running;
//! but the task held the actor, its context *and* its [`Supervisor`](actix::Supervisor) (the supervisor is
//! only a future that polls the context and calls `restarting()` when the actor *stops*). All three are
//! dropped: no restart, no log line beyond the panic message on stderr, and the mailbox is closed, so a
//! `do_send` to the actor is silently dropped and a `send` answers `MailboxError::Closed`. A daemon whose
//! writer panicked once would run on and never write again.
//!
//! So every future these actors spawn goes through [`CatchPanic::catch_panic`], and synchronous work that
//! could panic through [`stop_on_panic`]: a panic becomes an error in the log and a `ctx.stop()`, which
//! the supervisor turns into a restart, and the restarted actor reconciles (the writer reads the zone
//! again, the watcher subscribes and lists again, the metadata cache reads the IP again, the classifier
//! waits for the next snapshot). `panic = "unwind"` in the release profile is what makes this possible.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

use actix::fut::ActorFuture;
use actix::{Actor, ActorContext, Context, Message};
use tracing::error;

/// Answered at once by every actor: `/healthz` asks each whether it answers (its mailbox is open and it is
/// not stuck).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Ping;

/// The message a panic was raised with (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| message.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Runs `f` on the actor. If it panics, logs the panic with `what` was being done, stops the actor (so that
/// its supervisor restarts it) and returns `None`.
///
/// The actor's state may be half-updated after the panic; that is fine because the actor stops, and its
/// `restarting()` throws that state away.
pub fn stop_on_panic<A, R>(
    act: &mut A,
    ctx: &mut Context<A>,
    what: &str,
    f: impl FnOnce(&mut A, &mut Context<A>) -> R,
) -> Option<R>
where
    A: Actor<Context = Context<A>>,
{
    match catch_unwind(AssertUnwindSafe(|| f(&mut *act, &mut *ctx))) {
        Ok(result) => Some(result),
        Err(payload) => {
            let actor = std::any::type_name::<A>().rsplit("::").next().unwrap_or("");
            error!(
                panic = %panic_message(&*payload),
                actor,
                "panicked while trying to {what}; restarting the actor"
            );
            ctx.stop();
            None
        }
    }
}

/// An actor future whose panics stop the actor instead of killing its task: see [`CatchPanic`].
pub struct PanicSafe<A: Actor> {
    inner: Pin<Box<dyn ActorFuture<A, Output = ()>>>,
    what: &'static str,
}

impl<A> ActorFuture<A> for PanicSafe<A>
where
    A: Actor<Context = Context<A>>,
{
    type Output = ();

    fn poll(
        mut self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut Context<A>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        let what = self.what;
        let inner = self.inner.as_mut();
        // After a panic the inner future is never polled again: the actor is stopping.
        stop_on_panic(act, ctx, what, |act, ctx| inner.poll(act, ctx, task))
            .unwrap_or(Poll::Ready(()))
    }
}

/// `fut.catch_panic("read the zone")`: the future to hand to `ctx.spawn`, with its I/O and its
/// continuation (`into_actor(..).map(..)`) both guarded by [`stop_on_panic`].
pub trait CatchPanic<A: Actor>: ActorFuture<A, Output = ()> + Sized + 'static {
    /// This future, made panic-safe; `what` names what it does in the log line ("read the zone").
    fn catch_panic(self, what: &'static str) -> PanicSafe<A> {
        PanicSafe {
            inner: Box::pin(self),
            what,
        }
    }
}

impl<A: Actor, F: ActorFuture<A, Output = ()> + 'static> CatchPanic<A> for F {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use actix::prelude::*;

    use super::*;

    /// Counts its starts and restarts; `Boom` spawns a future that panics, with or without the guard.
    struct Fragile {
        starts: Arc<AtomicUsize>,
    }

    impl Actor for Fragile {
        type Context = Context<Self>;
        fn started(&mut self, _: &mut Context<Self>) {
            self.starts.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Supervised for Fragile {}

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Boom {
        guarded: bool,
    }

    impl Handler<Boom> for Fragile {
        type Result = ();
        fn handle(&mut self, Boom { guarded }: Boom, ctx: &mut Context<Self>) {
            let fut = async { panic!("test: boom") }.into_actor(self);
            if guarded {
                ctx.spawn(fut.catch_panic("explode"));
            } else {
                ctx.spawn(fut);
            }
        }
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Ping;

    impl Handler<Ping> for Fragile {
        type Result = ();
        fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
    }

    fn start() -> (Addr<Fragile>, Arc<AtomicUsize>) {
        let starts = Arc::new(AtomicUsize::new(0));
        let actor = Fragile {
            starts: Arc::clone(&starts),
        };
        (Supervisor::start(move |_| actor), starts)
    }

    #[actix_rt::test]
    async fn a_guarded_panic_restarts_the_actor() {
        let (addr, starts) = start();
        addr.send(Boom { guarded: true }).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while starts.load(Ordering::SeqCst) < 2 {
            assert!(std::time::Instant::now() < deadline, "not restarted");
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        addr.send(Ping).await.expect("the restarted actor answers");
    }

    /// Why the guard exists: without it, the supervisor dies with the actor (actix 0.13, actix-rt 2).
    #[actix_rt::test]
    async fn an_unguarded_panic_kills_actor_and_supervisor() {
        let (addr, starts) = start();
        addr.send(Boom { guarded: false }).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while addr.connected() {
            assert!(std::time::Instant::now() < deadline, "still alive");
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(addr.send(Ping).await.is_err(), "the mailbox is closed");
        assert_eq!(starts.load(Ordering::SeqCst), 1, "never restarted");
    }

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("formatted")), "formatted");
        assert_eq!(panic_message(&42_u8), "(no message)");
    }
}
