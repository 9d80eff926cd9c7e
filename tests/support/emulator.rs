//! The project's Route53 emulator served over HTTP on loopback, with one hosted zone of a name no other test
//! uses, and what a daemon test asks of it: the record sets under a name, their IPs, the ownership markers
//! of simple routing, the requests that arrived. The end-to-end tests that start containers build their
//! worlds on it (`tests/e2e_daemon.rs`, `tests/e2e_storm.rs`).
//!
//! ```ignore
//! let zone = EmulatedZone::private();
//! zone.seed_own_record("stale", "10.1.2.3"); // so that the daemon has a change to send
//! let (status, output) = Daemon::builder(&zone.endpoint())
//!     .config(&zone.config(Some("10.1.2.3")))
//!     .arg("--once")
//!     .run(Duration::from_secs(30));
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

use route53_emulator::{spawn_server, Emulator, LoggedRequest, Operation, ServerHandle};
use route53_registrator::route53::{Change, ChangeAction, RecordSet};
use route53_registrator::writer::ledger::ledger_owner;

use super::unique_zone;

/// An emulator with one zone, and its HTTP server (stopped on drop).
pub struct EmulatedZone {
    pub emulator: Emulator,
    pub server: ServerHandle,
    pub zone_id: String,
    /// The zone's domain, without the trailing dot.
    pub zone: String,
}

impl EmulatedZone {
    /// A private hosted zone with a unique name.
    pub fn private() -> EmulatedZone {
        let emulator = Emulator::new();
        let zone = unique_zone();
        let hosted = emulator.create_zone(&zone, true);
        let server = spawn_server(emulator.clone(), 0).expect("emulator server");
        EmulatedZone {
            emulator,
            server,
            zone_id: hosted.id,
            zone,
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` ([`super::daemon::Daemon::builder`]).
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// A daemon config for this zone with short timings; with `ip`, `host.ip` is set (and the metadata
    /// service is not asked for it).
    pub fn config(&self, ip: Option<&str>) -> String {
        let mut config = format!(
            "[route53]\nzone_id = \"{}\"\ndebounce = \"50ms\"\nmax_delay = \"300ms\"\n\
             max_requests_per_second = 50\n[http]\nlisten = \"\"\n",
            self.zone_id
        );
        if let Some(ip) = ip {
            config.push_str(&format!("[host]\nip = \"{ip}\"\n"));
        }
        config
    }

    /// Writes a multivalue record set under `name` owned by the instance `ip` (its default owner id), as a
    /// daemon on that instance would have: with no container of that name running, the daemon withdraws it.
    pub fn seed_own_record(&self, name: &str, ip: &str) {
        let record_set = RecordSet::a(format!("{name}.{}.", self.zone), ip).multivalue(ip);
        self.emulator
            .apply_directly(
                &self.zone_id,
                &[Change {
                    action: ChangeAction::Create,
                    record_set,
                }],
            )
            .expect("seed the zone");
    }

    /// `name.<zone>.`: the fully qualified name a daemon publishes the service `name` under.
    pub fn fqdn(&self, name: &str) -> String {
        format!("{name}.{}.", self.zone)
    }

    /// `_route53-registrator.name.<zone>.`: where simple routing's ownership marker of `name` stands.
    pub fn marker_fqdn(&self, name: &str) -> String {
        format!("_route53-registrator.{}", self.fqdn(name))
    }

    /// The owner ids of the ledgers (membership records) the zone holds.
    pub fn ledger_owners(&self) -> BTreeSet<String> {
        let zone = format!("{}.", self.zone);
        self.record_sets()
            .iter()
            .filter(|rs| rs.rtype == "TXT")
            .filter_map(|rs| ledger_owner(&rs.name, &zone))
            .collect()
    }

    /// Every record set of the zone, in Route53's order (the apex's SOA and NS included).
    pub fn record_sets(&self) -> Vec<RecordSet> {
        self.emulator.record_sets(&self.zone_id)
    }

    /// The A record sets under `name`, every owner's.
    pub fn a_records(&self, name: &str) -> Vec<RecordSet> {
        let fqdn = self.fqdn(name);
        self.record_sets()
            .into_iter()
            .filter(|rs| rs.name == fqdn && rs.rtype == "A")
            .collect()
    }

    /// Every IP published under `name`, across all owners.
    pub fn ips(&self, name: &str) -> BTreeSet<String> {
        self.a_records(name)
            .into_iter()
            .flat_map(|rs| rs.values)
            .collect()
    }

    /// How many ownership markers (simple routing: TXT records at [`EmulatedZone::marker_fqdn`]) stand
    /// beside `name`.
    pub fn markers(&self, name: &str) -> usize {
        let marker = self.marker_fqdn(name);
        self.record_sets()
            .iter()
            .filter(|rs| rs.name == marker && rs.rtype == "TXT")
            .count()
    }

    /// How many ChangeResourceRecordSets requests arrived, whatever their answer.
    pub fn change_requests(&self) -> usize {
        self.operations()
            .into_iter()
            .filter(|operation| *operation == Operation::ChangeResourceRecordSets)
            .count()
    }

    /// The operations of every request the server got, in order.
    pub fn operations(&self) -> Vec<Operation> {
        self.emulator
            .requests()
            .into_iter()
            .map(|request| request.operation)
            .collect()
    }
}

/// A request log as TSV, for reading by hand: one request a line, with the milliseconds since `t0`, the
/// operation, the status, then each change as `ACTION TYPE name SetIdentifier [values]`.
pub fn request_log_tsv(log: &[LoggedRequest], t0: Instant) -> String {
    let mut tsv = String::from("ms\toperation\tstatus\tchanges\n");
    for request in log {
        let changes: Vec<String> = request
            .changes
            .iter()
            .map(|c| {
                let rs = &c.record_set;
                let id = rs.set_identifier.as_deref().unwrap_or("-");
                format!(
                    "{:?} {} {} {id} {:?}",
                    c.action, rs.rtype, rs.name, rs.values
                )
            })
            .collect();
        let _ = writeln!(
            tsv,
            "{:.1}\t{:?}\t{}\t{}",
            request.at.saturating_duration_since(t0).as_secs_f64() * 1000.0,
            request.operation,
            request.status,
            changes.join("; ")
        );
    }
    tsv
}
