//! A builder for the containers tests make: `ContainerInfo::plain(id)` is a bridge-mode container with no
//! label, no healthcheck and no `StartedAt`; `ContainerInfo::ecs_service(id, name)` the container `name` of
//! the ECS service `<name>-service`; `.label(key, value)` and `.started_at(t)` add to either.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::docker::container::{ContainerInfo, Health};

/// The ECS agent's labels, as the default selection reads them.
const FAMILY_LABEL: &str = "com.amazonaws.ecs.task-definition-family";
const NAME_LABEL: &str = "com.amazonaws.ecs.container-name";

impl ContainerInfo {
    /// A container named `id`, on a bridge network, with no label, no healthcheck and no `StartedAt`.
    pub fn plain(id: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: id.into(),
            labels: BTreeMap::new(),
            network_mode: "bridge".into(),
            health: Health::NoCheck,
            stop_signal: None,
            started_at: None,
        }
    }

    /// The container `name` of the ECS service whose family is `<name>-service`, named as ECS names it.
    pub fn ecs_service(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo {
            name: format!("ecs-{name}-{id}"),
            ..ContainerInfo::plain(id)
        }
        .label(FAMILY_LABEL, &format!("{name}-service"))
        .label(NAME_LABEL, name)
    }

    /// With the label `key` = `value`.
    pub fn label(mut self, key: &str, value: &str) -> ContainerInfo {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Started at `at` (its `StartedAt`).
    pub fn started_at(self, at: Option<SystemTime>) -> ContainerInfo {
        ContainerInfo {
            started_at: at,
            ..self
        }
    }
}
