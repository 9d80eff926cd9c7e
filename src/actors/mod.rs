//! The actors: `DockerWatcher` → `Classifier` → `Route53Writer`, with `MetadataCache` supplying the host IP.
//! They hold state and move messages; the decisions are the pure modules' functions.

pub mod classifier;
pub mod docker_watcher;
pub mod messages;
pub mod metadata_cache;
pub mod writer;
