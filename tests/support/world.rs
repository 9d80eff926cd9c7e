//! One end-to-end test's world: the project's Route53 emulator with one private zone of the test's own,
//! served over HTTP ([`EmulatedZone`], whose helpers it offers through `Deref`: `fqdn`, `a_records`, `ips`,
//! `markers`, ...), and a Docker network for the test's service containers; and what the tests ask of it
//! with containers running (waiting until a name is published or withdrawn).

use std::ops::Deref;
use std::time::{Duration, Instant};

use super::daemon::Daemon;
use super::docker::{require_test_image, ContainerSpec, Network, SLEEP_UNTIL_TERM};
use super::emulator::EmulatedZone;
use super::{unique, wait_until};

/// Long enough for Docker, the daemon's debounce and one resync on a loaded machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Appended to [`EmulatedZone::config`]: a resync every second, so that tests of what a resync must not
/// undo see several.
const RESYNC_EVERY_SECOND: &str = "[docker]\nresync_interval = \"1s\"\n";

/// One test's world: an emulator with one private zone, served over HTTP, and a Docker network.
pub struct World {
    pub emulated: EmulatedZone,
    pub network: Network,
}

impl Deref for World {
    type Target = EmulatedZone;

    fn deref(&self) -> &EmulatedZone {
        &self.emulated
    }
}

impl World {
    pub fn new() -> World {
        require_test_image();
        World {
            emulated: EmulatedZone::private(),
            network: Network::create(&unique("net")),
        }
    }

    /// A daemon config for this zone with short timings, publishing `ip` (so no metadata request).
    pub fn config(&self, ip: &str) -> String {
        self.emulated.config(Some(ip)) + RESYNC_EVERY_SECOND
    }

    /// The same, with the IP left to the metadata service.
    pub fn config_without_ip(&self) -> String {
        self.emulated.config(None) + RESYNC_EVERY_SECOND
    }

    pub fn daemon(&self, ip: &str) -> Daemon {
        Daemon::builder(&self.server.endpoint())
            .config(&self.config(ip))
            .label(ip)
            .spawn()
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
}
