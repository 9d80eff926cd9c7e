//! The HTTP endpoint on `http.listen`: `/healthz` for ECS's health check and `/metrics` for Prometheus, and
//! the client the `healthcheck` subcommand asks `/healthz` with.
//!
//! `/healthz` answers 200 while every actor answers a [`Ping`] and the Docker event stream is connected, or
//! has been down for less than `http.docker_grace`; 503 otherwise. The body says why, line by line. Route53
//! trouble (unreachable, throttled, not reconciled yet) is in the body and in `/metrics` but never fails it:
//! restarting every registrator of a fleet does not fix Route53.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix::Recipient;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use futures_util::future::join_all;

use crate::docker::watcher::DockerStatus;
use crate::stats::Stats;
use crate::supervise::Ping;

/// How long an actor has to answer a [`Ping`] before it counts as not answering.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/healthz` looks at. The endpoint starts before the hosted zone is read (Route53 may be unreachable
/// for a long time, which must not fail the health check); the actors and the watcher's status are handed
/// over once they run ([`Health::running`]).
pub struct Health {
    running: OnceLock<Running>,
    docker_grace: Duration,
    stats: Stats,
}

/// The running actors, to ping, and the Docker event stream's state, as the watcher reports it.
pub struct Running {
    pub actors: Vec<(&'static str, Recipient<Ping>)>,
    pub docker: Arc<DockerStatus>,
}

impl Health {
    /// Nothing running yet; `docker_grace` is `http.docker_grace`; `stats` gives Route53's state and
    /// `/metrics`.
    pub fn new(docker_grace: Duration, stats: Stats) -> Self {
        Health {
            running: OnceLock::new(),
            docker_grace,
            stats,
        }
    }

    /// The actors run now (called once).
    pub fn running(&self, running: Running) {
        let _ = self.running.set(running);
    }
}

/// Pure: the verdict from what was observed. `Ok` carries the body of a 200, `Err` the body of a 503.
///
/// | actors that did not answer | Docker stream down for     | verdict |
/// |----------------------------|----------------------------|---------|
/// | none                       | connected                  | 200     |
/// | none                       | less than `docker_grace`   | 200     |
/// | none                       | `docker_grace` or more     | 503     |
/// | any                        | anything                   | 503     |
pub fn verdict(
    silent: &[&str],
    docker_down_for: Option<Duration>,
    docker_error: Option<&str>,
    docker_grace: Duration,
    route53: &str,
) -> Result<String, String> {
    let mut problems = Vec::new();
    if !silent.is_empty() {
        problems.push(format!("actors not answering: {}", silent.join(", ")));
    }
    // Why it is down, when the watcher knows: the first thing an operator reading the body needs.
    let why = docker_error.map(|e| format!(": {e}")).unwrap_or_default();
    let docker = match docker_down_for {
        None => "docker: event stream connected".to_string(),
        Some(down) if down < docker_grace => format!(
            "docker: event stream down for {:.0} s (within the grace of {:.0} s){why}",
            down.as_secs_f64(),
            docker_grace.as_secs_f64()
        ),
        Some(down) => {
            problems.push(format!(
                "Docker event stream down for {:.0} s (grace {:.0} s)",
                down.as_secs_f64(),
                docker_grace.as_secs_f64()
            ));
            format!(
                "docker: event stream down for {:.0} s{why}",
                down.as_secs_f64()
            )
        }
    };
    let details = format!("{docker}\nroute53: {route53}\n");
    if problems.is_empty() {
        Ok(format!("ok\n{details}"))
    } else {
        Err(format!("unhealthy: {}\n{details}", problems.join("; ")))
    }
}

async fn healthz(health: web::Data<Health>) -> HttpResponse {
    let now = Instant::now();
    let route53 = health.stats.route53_summary(now);
    let Some(running) = health.running.get() else {
        // Still reading the hosted zone: Route53's trouble, not the daemon's.
        return HttpResponse::Ok().content_type("text/plain").body(format!(
            "ok\nnot ready: waiting for the hosted zone\nroute53: {route53}\n"
        ));
    };
    let pings = running.actors.iter().map(|(name, actor)| async move {
        let answered = tokio::time::timeout(PING_TIMEOUT, actor.send(Ping)).await;
        (*name, matches!(answered, Ok(Ok(()))))
    });
    let silent: Vec<&str> = join_all(pings)
        .await
        .into_iter()
        .filter(|(_, answered)| !answered)
        .map(|(name, _)| name)
        .collect();
    match verdict(
        &silent,
        running.docker.down_for(Instant::now()),
        running.docker.last_error().as_deref(),
        health.docker_grace,
        &route53,
    ) {
        Ok(body) => HttpResponse::Ok().content_type("text/plain").body(body),
        Err(body) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(body),
    }
}

async fn metrics(health: web::Data<Health>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(health.stats.render())
}

/// Starts the endpoint on `listen` (one worker thread: it answers a probe every few seconds), on the running
/// actix system. The returned server runs until the process ends; main spawns it.
pub fn serve(listen: SocketAddr, health: Arc<Health>) -> std::io::Result<Server> {
    let health = web::Data::from(health);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(health.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .bind(listen)?
    .run();
    Ok(server)
}

/// The address `healthcheck` asks: `listen`, with an unspecified address (`0.0.0.0`, `[::]`) replaced by
/// loopback.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr
}

/// `GET /healthz` on `addr` (ureq, plain HTTP): the status code and the body.
pub fn get_healthz(addr: SocketAddr, timeout: Duration) -> Result<(u16, String), String> {
    get(&addr.to_string(), "/healthz", timeout)
}

/// `GET http://{addr}{path}` (plain HTTP), giving up after `timeout`: the status code and the body, whatever
/// the status; an error when there is no answer.
pub fn get(addr: &str, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("http://{addr}{path}"))
        .call()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_table() {
        let grace = Duration::from_secs(30);
        let secs = Duration::from_secs;
        // (actors not answering, Docker down for, healthy)
        let cases: Vec<(Vec<&str>, Option<Duration>, bool)> = vec![
            (vec![], None, true),
            (vec![], Some(secs(29)), true),
            (vec![], Some(secs(30)), false),
            (vec![], Some(secs(300)), false),
            (vec!["writer"], None, false),
            (vec!["writer", "classifier"], Some(secs(1)), false),
        ];
        for (silent, down, healthy) in cases {
            let got = verdict(&silent, down, Some("socket gone"), grace, "throttled");
            assert_eq!(got.is_ok(), healthy, "{silent:?} {down:?}: {got:?}");
            let body = got.unwrap_or_else(|e| e);
            assert!(
                body.contains("route53: throttled"),
                "Route53 is said: {body}"
            );
            assert_eq!(
                body.contains("socket gone"),
                down.is_some(),
                "why Docker is down is said while it is down: {body}"
            );
            for name in &silent {
                assert!(body.contains(name), "{name} is named: {body}");
            }
        }
    }

    #[test]
    fn the_probe_asks_loopback_for_an_unspecified_address() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(probe_address(addr("0.0.0.0:9753")), addr("127.0.0.1:9753"));
        assert_eq!(probe_address(addr("[::]:9753")), addr("[::1]:9753"));
        assert_eq!(probe_address(addr("10.0.0.5:80")), addr("10.0.0.5:80"));
    }
}
