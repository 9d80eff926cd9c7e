//! One end-to-end test's world: the project's Route53 emulator with one private zone of the test's own,
//! served over HTTP, and a Docker network for the test's service containers; and what the tests ask of it (a
//! name's published IPs, waiting until one is published or withdrawn).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use route53_emulator::{spawn_server, Emulator, Operation, ServerHandle};
use route53_registrator::route53::RecordSet;

use super::daemon::Daemon;
use super::docker::{require_test_image, ContainerSpec, Network, SLEEP_UNTIL_TERM};
use super::{unique, unique_zone, wait_until};

/// Long enough for Docker, the daemon's debounce and one resync on a loaded machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// One test's world: an emulator with one private zone, served over HTTP, and a Docker network.
pub struct World {
    pub emulator: Emulator,
    pub server: ServerHandle,
    pub zone_id: String,
    pub zone: String,
    pub network: Network,
}

impl World {
    pub fn new() -> World {
        require_test_image();
        let emulator = Emulator::new();
        let zone = unique_zone();
        let hosted = emulator.create_zone(&zone, true);
        let server = spawn_server(emulator.clone(), 0).expect("emulator server");
        World {
            emulator,
            server,
            zone_id: hosted.id,
            zone,
            network: Network::create(&unique("net")),
        }
    }

    /// A daemon config for this zone with short timings, publishing `ip` (so no metadata request).
    pub fn config(&self, ip: &str) -> String {
        self.config_without_ip() + &format!("[host]\nip = \"{ip}\"\n")
    }

    /// The same, with the IP left to the metadata service.
    pub fn config_without_ip(&self) -> String {
        format!(
            "[route53]\nzone_id = \"{}\"\ndebounce = \"50ms\"\nmax_delay = \"300ms\"\n\
             max_requests_per_second = 50\n[docker]\nresync_interval = \"1s\"\n[http]\nlisten = \"\"\n",
            self.zone_id
        )
    }

    pub fn daemon(&self, ip: &str) -> Daemon {
        Daemon::builder(&self.server.endpoint())
            .config(&self.config(ip))
            .label(ip)
            .spawn()
    }

    pub fn fqdn(&self, name: &str) -> String {
        format!("{name}.{}.", self.zone)
    }

    /// The A record sets under `name`.
    pub fn a_records(&self, name: &str) -> Vec<RecordSet> {
        let fqdn = self.fqdn(name);
        self.emulator
            .record_sets(&self.zone_id)
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

    /// How many ownership markers (simple routing) stand beside `name`.
    pub fn markers(&self, name: &str) -> usize {
        let marker = format!("_route53-registrator.{}", self.fqdn(name));
        self.emulator
            .record_sets(&self.zone_id)
            .iter()
            .filter(|rs| rs.name == marker && rs.rtype == "TXT")
            .count()
    }

    pub fn wait_published(&self, name: &str, ip: &str) {
        wait_until(DEADLINE, &format!("{name} publishes {ip}"), || {
            self.ips(name).contains(ip)
        });
    }

    pub fn wait_withdrawn(&self, name: &str, ip: &str) {
        wait_until(
            DEADLINE,
            &format!("{name} no longer publishes {ip}"),
            || !self.ips(name).contains(ip),
        );
    }

    /// A service container (ECS labels, family ending in `-service`) on this world's network.
    pub fn service(&self, name: &str) -> ContainerSpec {
        ContainerSpec::new(&unique(name))
            .network(&self.network)
            .ecs(&format!("{name}-service"), name)
            .shell(SLEEP_UNTIL_TERM)
    }

    /// Asserts that whether `name` is published does not change from `published` for `period`, however
    /// often the daemon resyncs meanwhile.
    pub fn assert_stays(&self, name: &str, published: bool, period: Duration) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            assert_eq!(
                !self.ips(name).is_empty(),
                published,
                "{name}: {:?}",
                self.a_records(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn change_requests(&self) -> usize {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.operation == Operation::ChangeResourceRecordSets)
            .count()
    }
}
