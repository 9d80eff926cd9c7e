//! Pure: what the instance metadata service says of the instance's end, and what the daemon makes of it.
//!
//! EC2 says in advance when it is about to take an instance away: a Spot interruption notice about two minutes
//! before, and the Auto Scaling group's target lifecycle state as soon as the group decides (with a
//! termination lifecycle hook, the instance stays up until the hook completes). Optionally, a Spot rebalance
//! recommendation, the earlier warning that a Spot instance is at elevated risk.
//!
//! | item (under `meta-data/`)             | answer                                           | means        |
//! |---------------------------------------|--------------------------------------------------|--------------|
//! | `spot/instance-action`                | 404                                              | nothing      |
//! |                                       | `{"action": "terminate"/"stop"/"hibernate", …}`  | **leaving**  |
//! | `autoscaling/target-lifecycle-state`  | 404 (the instance is in no group)                | nothing      |
//! |                                       | `InService`, `Detached`, `Standby`               | staying      |
//! |                                       | `Terminated`, `Warmed:*`                         | **leaving**  |
//! | `events/recommendations/rebalance`    | 404                                              | nothing      |
//! | (read only when `lifecycle.rebalance`)| `{"noticeTime": …}`                              | **leaving**  |
//! | any of them                           | an error, a timeout, a body not understood       | unknown      |
//!
//! Any item that says leaving makes the instance leave. Otherwise an item unknown makes the whole answer
//! unknown: a metadata error is never taken for a notice, nor for the end of one.

use serde::Deserialize;

/// The path of the Spot interruption notice.
pub const SPOT_ACTION_PATH: &str = "/latest/meta-data/spot/instance-action";
/// The path of the Auto Scaling target lifecycle state.
pub const TARGET_STATE_PATH: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";
/// The path of the Spot rebalance recommendation.
pub const REBALANCE_PATH: &str = "/latest/meta-data/events/recommendations/rebalance";

/// One metadata item as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// The service answered 404: the item does not exist (nothing planned).
    Absent,
    /// The item's text.
    Text(String),
    /// Nothing known: the read failed (why).
    Failed(String),
}

/// The items read at one poll; `rebalance` only when it is followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readings {
    pub spot: Item,
    pub target_state: Item,
    pub rebalance: Option<Item>,
}

/// What the daemon makes of one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Nothing says the instance is going.
    Staying,
    /// The instance is going: what said so, for the log and `/healthz`.
    Leaving(String),
    /// Nothing could be told: why (the first item that failed or was not understood).
    Unknown(String),
}

/// The Spot interruption notice's document.
#[derive(Deserialize)]
struct SpotAction {
    action: String,
    #[serde(default)]
    time: String,
}

/// The rebalance recommendation's document.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rebalance {
    notice_time: String,
}

/// What one item says: `Ok(Some(why))` leaving, `Ok(None)` nothing, `Err(why)` unknown.
type Says = Result<Option<String>, String>;

fn spot(item: &Item) -> Says {
    let text = match item {
        Item::Absent => return Ok(None),
        Item::Failed(why) => return Err(format!("spot/instance-action: {why}")),
        Item::Text(text) => text,
    };
    let not_understood = || format!("spot/instance-action answered {text:?}, not a notice");
    let notice: SpotAction = serde_json::from_str(text).map_err(|_| not_understood())?;
    match notice.action.as_str() {
        "terminate" | "stop" | "hibernate" => Ok(Some(format!(
            "Spot interruption notice: {} at {}",
            notice.action, notice.time
        ))),
        _ => Err(not_understood()),
    }
}

fn target_state(item: &Item) -> Says {
    let state = match item {
        Item::Absent => return Ok(None),
        Item::Failed(why) => return Err(format!("autoscaling/target-lifecycle-state: {why}")),
        Item::Text(text) => text.trim(),
    };
    match state {
        "InService" | "Detached" | "Standby" => Ok(None),
        "Terminated" => Ok(Some(
            "Auto Scaling target lifecycle state: Terminated".into(),
        )),
        warmed if warmed.starts_with("Warmed:") => Ok(Some(format!(
            "Auto Scaling target lifecycle state: {warmed} (to the warm pool)"
        ))),
        other => Err(format!(
            "autoscaling/target-lifecycle-state answered {other:?}, not a state"
        )),
    }
}

fn rebalance(item: &Item) -> Says {
    let text = match item {
        Item::Absent => return Ok(None),
        Item::Failed(why) => return Err(format!("events/recommendations/rebalance: {why}")),
        Item::Text(text) => text,
    };
    let notice: Rebalance = serde_json::from_str(text).map_err(|_| {
        format!("events/recommendations/rebalance answered {text:?}, not a recommendation")
    })?;
    Ok(Some(format!(
        "Spot rebalance recommendation at {}",
        notice.notice_time
    )))
}

/// What `readings` say of the instance's end (see the module's table).
pub fn fate(readings: &Readings) -> Fate {
    let says = [
        spot(&readings.spot),
        target_state(&readings.target_state),
        readings.rebalance.as_ref().map_or(Ok(None), rebalance),
    ];
    if let Some(why) = says.iter().find_map(|s| s.clone().ok().flatten()) {
        return Fate::Leaving(why);
    }
    match says.into_iter().find_map(Result::err) {
        Some(why) => Fate::Unknown(why),
        None => Fate::Staying,
    }
}

/// What the watch has told the writer, and what a new poll changes.
#[derive(Debug, Default)]
pub struct Watch {
    /// The writer was told at least once (it writes nothing before, so that a notice that stands at start-up
    /// is seen before the first write).
    told: bool,
    /// What said the instance is going, while it is.
    leaving: Option<String>,
}

impl Watch {
    /// A poll found `fate`: what to tell the writer, if anything (`Some(leaving)`, `leaving` being what
    /// said the instance is going, or `None` for staying). Nothing known tells the writer to go on as
    /// before, staying the first time: a metadata service that never answers must not keep it from
    /// publishing.
    pub fn heard(&mut self, fate: &Fate) -> Option<Option<String>> {
        let leaving = match fate {
            Fate::Leaving(why) if self.leaving.is_none() => Some(why.clone()),
            Fate::Leaving(_) => return None,
            Fate::Staying if self.leaving.is_some() => None,
            Fate::Staying | Fate::Unknown(_) if self.told => return None,
            Fate::Staying | Fate::Unknown(_) => None,
        };
        self.told = true;
        self.leaving.clone_from(&leaving);
        Some(leaving)
    }

    /// What said the instance is going, while it is.
    pub fn leaving(&self) -> Option<&str> {
        self.leaving.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Item {
        Item::Text(s.into())
    }

    fn failed() -> Item {
        Item::Failed("timed out".into())
    }

    fn readings(spot: Item, target_state: Item, rebalance: Option<Item>) -> Readings {
        Readings {
            spot,
            target_state,
            rebalance,
        }
    }

    const TERMINATE: &str = r#"{"action": "terminate", "time": "2026-12-07T08:22:00Z"}"#;
    const STOP: &str = r#"{"action": "stop", "time": "2026-12-07T08:22:00Z"}"#;
    const HIBERNATE: &str = r#"{"action":"hibernate","time":"2026-12-07T08:22:00Z"}"#;
    const REBALANCE: &str = r#"{"noticeTime": "2026-12-07T08:17:00Z"}"#;

    #[test]
    fn each_answer_means_what_the_table_says() {
        use Item::Absent;
        // (spot, target state, rebalance when followed, leaving / staying / unknown)
        let cases: Vec<(Item, Item, Option<Item>, &str)> = vec![
            (Absent, Absent, None, "staying"),
            (Absent, text("InService"), None, "staying"),
            (Absent, text("Detached"), None, "staying"),
            (Absent, text("Standby\n"), None, "staying"),
            (text(TERMINATE), Absent, None, "leaving"),
            (text(STOP), text("InService"), None, "leaving"),
            (text(HIBERNATE), Absent, None, "leaving"),
            (Absent, text("Terminated"), None, "leaving"),
            (Absent, text("Warmed:Running"), None, "leaving"),
            (Absent, text("Warmed:Hibernated"), None, "leaving"),
            (Absent, text("Warmed:Stopped"), None, "leaving"),
            (Absent, text("Warmed:Terminated"), None, "leaving"),
            (Absent, Absent, Some(text(REBALANCE)), "leaving"),
            (Absent, Absent, Some(Absent), "staying"),
            // A notice stands whatever else failed.
            (text(TERMINATE), failed(), None, "leaving"),
            (failed(), text("Terminated"), None, "leaving"),
            // Nothing known is never a notice, nor the end of one.
            (failed(), Absent, None, "unknown"),
            (Absent, failed(), None, "unknown"),
            (Absent, Absent, Some(failed()), "unknown"),
            (text("{not json"), Absent, None, "unknown"),
            (
                text(r#"{"action": "reboot", "time": "x"}"#),
                Absent,
                None,
                "unknown",
            ),
            (text(""), Absent, None, "unknown"),
            (Absent, text("Pending:Wait"), None, "unknown"),
            (Absent, text(""), None, "unknown"),
            (Absent, Absent, Some(text("[]")), "unknown"),
        ];
        for (spot, state, rebalance, want) in cases {
            let r = readings(spot, state, rebalance);
            let got = match fate(&r) {
                Fate::Staying => "staying",
                Fate::Leaving(_) => "leaving",
                Fate::Unknown(_) => "unknown",
            };
            assert_eq!(got, want, "{r:?}");
        }
    }

    #[test]
    fn the_writer_is_told_the_first_answer_and_every_change() {
        let leaving = |why: &str| Fate::Leaving(why.into());
        let unknown = || Fate::Unknown("timed out".into());
        // (what a poll found, what the writer is told: None nothing, Some(None) staying, Some(Some) leaving)
        let polls: Vec<(Fate, Option<Option<&str>>)> = vec![
            (unknown(), Some(None)),
            (unknown(), None),
            (Fate::Staying, None),
            (leaving("spot"), Some(Some("spot"))),
            (leaving("spot"), None),
            (leaving("and auto scaling"), None),
            (unknown(), None),
            (Fate::Staying, Some(None)),
            (Fate::Staying, None),
        ];
        let mut watch = Watch::default();
        for (i, (fate, want)) in polls.into_iter().enumerate() {
            let told = watch.heard(&fate);
            assert_eq!(
                told.as_ref().map(Option::as_deref),
                want,
                "poll {i}: {fate:?}"
            );
        }
        let mut first = Watch::default();
        assert_eq!(
            first.heard(&leaving("warm pool")),
            Some(Some("warm pool".into()))
        );
        assert_eq!(
            first.leaving(),
            Some("warm pool"),
            "a notice that stands at start-up"
        );
        let mut staying = Watch::default();
        assert_eq!(staying.heard(&Fate::Staying), Some(None));
    }

    #[test]
    fn a_fate_says_what_was_seen() {
        let leaving = fate(&readings(text(TERMINATE), Item::Absent, None));
        assert_eq!(
            leaving,
            Fate::Leaving("Spot interruption notice: terminate at 2026-12-07T08:22:00Z".into())
        );
        let unknown = fate(&readings(Item::Absent, failed(), None));
        assert_eq!(
            unknown,
            Fate::Unknown("autoscaling/target-lifecycle-state: timed out".into())
        );
        let warmed = fate(&readings(Item::Absent, text("Warmed:Running"), None));
        assert!(
            matches!(&warmed, Fate::Leaving(why) if why.contains("Warmed:Running")),
            "{warmed:?}"
        );
    }
}
