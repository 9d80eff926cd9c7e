//! Reading Route53 through any [`Route53Api`]: the whole zone (paginated, guarded against a page token that
//! does not advance), only some names (verification), and the zone itself at start-up.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use tracing::{error, info, warn};

use super::{
    marker_name, HostedZone, Meaning, RecordPage, RecordPosition, RecordSet, Route53Api,
    Route53Error,
};
use crate::backoff::{Backoff, RetryClass, RetryPolicy};
use crate::route53::rate::START_THROTTLE_WINDOW;

/// Record sets per page when reading one name: Route53 allows at most 100 weighted or multivalue record
/// sets of one name and type, so one page holds every A record set of a name.
pub const PAGE_PER_NAME: i32 = 100;

/// Throttles in a row on one page of a read that the read retries in place before it fails. Each retry
/// passes the rate limiter, which slows the instance at every throttle (`route53::limited`), so the retries
/// are paced as any request is. A read that failed at its first throttle would start over at its first page
/// when the writer tries again: a listing of a zone of 20 pages, in an account busy enough to throttle a
/// third of the requests, then rarely reached its last page, and its attempts cost more than the listing.
pub const PAGE_THROTTLES_RETRIED: u32 = 10;

/// One page of the zone from `start`, asked again while Route53 throttles it, up to
/// [`PAGE_THROTTLES_RETRIED`] times in a row; any other failure is returned at once.
async fn page_from(
    api: &dyn Route53Api,
    zone_id: &str,
    start: Option<&RecordPosition>,
    max_items: Option<i32>,
) -> Result<RecordPage, Route53Error> {
    let mut throttles = 0;
    loop {
        match api.list_record_sets(zone_id, start, max_items).await {
            Err(e) if e.meaning() == Meaning::Throttled && throttles < PAGE_THROTTLES_RETRIED => {
                throttles += 1;
            }
            answer => return answer,
        }
    }
}

/// Every record set of the zone, following `NextRecordName`/`Type`/`Identifier` until the last page.
///
/// A server that answers "truncated" with a position it already gave (moto never returns
/// `NextRecordIdentifier`, so its next page starts over at the same name and type) would make a naive loop
/// run forever: the read stops there with a warning and returns what it has, without duplicates. What it
/// missed heals itself: a CREATE of a record set that exists is refused, and the writer re-reads that name.
pub async fn read_all(api: &dyn Route53Api, zone_id: &str) -> Result<Vec<RecordSet>, Route53Error> {
    let mut out = Vec::new();
    let mut seen: HashSet<(String, String, Option<String>)> = HashSet::new();
    let mut positions: HashSet<RecordPosition> = HashSet::new();
    let mut start: Option<RecordPosition> = None;
    loop {
        let page = page_from(api, zone_id, start.as_ref(), None).await?;
        for rs in page.record_sets {
            if seen.insert((rs.name.clone(), rs.rtype.clone(), rs.set_identifier.clone())) {
                out.push(rs);
            }
        }
        match page.next {
            None => return Ok(out),
            Some(next) if !positions.insert(next.clone()) => {
                warn!(zone_id, next = ?next, read = out.len(), "record set listing does not advance; stopped there");
                return Ok(out);
            }
            Some(next) => start = Some(next),
        }
    }
}

/// The A record sets under each of `fqdns` (fully qualified names), every owner's, read by
/// `StartRecordName` rather than by listing the zone: one request per name in practice. A name with no A
/// record set maps to an empty list. With `markers`, each name's ownership marker (the TXT record
/// `_route53-registrator.<name>`) is added when it exists: Route53 lists a name's children right after the
/// name, so it is usually in the same page; when it is not, one more request looks for it.
pub async fn read_names(
    api: &dyn Route53Api,
    zone_id: &str,
    fqdns: &BTreeSet<String>,
    markers: bool,
) -> Result<BTreeMap<String, Vec<RecordSet>>, Route53Error> {
    let mut out = BTreeMap::new();
    for name in fqdns {
        let marker = marker_name(name);
        let is_marker = |rs: &RecordSet| rs.name == marker && rs.rtype == "TXT";
        let mut marker_found: Option<RecordSet> = None;
        let mut found: Vec<RecordSet> = Vec::new();
        let mut positions: HashSet<RecordPosition> = HashSet::new();
        let mut start = RecordPosition {
            name: name.clone(),
            rtype: Some("A".into()),
            identifier: None,
        };
        loop {
            let page = page_from(api, zone_id, Some(&start), Some(PAGE_PER_NAME)).await?;
            let mut past = false;
            for rs in page.record_sets {
                if markers && marker_found.is_none() && is_marker(&rs) {
                    marker_found = Some(rs.clone());
                }
                if rs.name == *name && rs.rtype == "A" {
                    if !found.iter().any(|f| f.set_identifier == rs.set_identifier) {
                        found.push(rs);
                    }
                } else {
                    past = true;
                }
            }
            match page.next {
                Some(next) if !past && next.name == *name && next.rtype.as_deref() == Some("A") => {
                    if !positions.insert(next.clone()) {
                        warn!(
                            zone_id,
                            name, "record set listing does not advance; stopped there"
                        );
                        break;
                    }
                    start = next;
                }
                _ => break,
            }
        }
        if markers && marker_found.is_none() {
            marker_found = read_record(api, zone_id, &marker, "TXT")
                .await?
                .filter(is_marker);
        }
        found.extend(marker_found);
        out.insert(name.clone(), found);
    }
    Ok(out)
}

/// How many record sets that `counts` stand under `parent` (the writer counts the fleet's ledgers so):
/// [`read_under`]'s.
pub async fn count_under(
    api: &dyn Route53Api,
    zone_id: &str,
    parent: &str,
    counts: impl Fn(&RecordSet) -> bool,
) -> Result<usize, Route53Error> {
    Ok(read_under(api, zone_id, parent, counts).await?.len())
}

/// The record sets that `keep` under `parent` (the clean-up reads the fleet's ledgers so). Route53 lists a
/// name's descendants right after it, so this reads from `parent` on, a page of [`ZONE_PAGE`] at a time,
/// until the listing leaves them (or the next page would start past them): one request per 300 record sets.
pub async fn read_under(
    api: &dyn Route53Api,
    zone_id: &str,
    parent: &str,
    keep: impl Fn(&RecordSet) -> bool,
) -> Result<Vec<RecordSet>, Route53Error> {
    let descendant = format!(".{parent}");
    let mut kept = Vec::new();
    let mut positions: HashSet<RecordPosition> = HashSet::new();
    let mut start = RecordPosition {
        name: parent.to_string(),
        rtype: None,
        identifier: None,
    };
    loop {
        let page = page_from(api, zone_id, Some(&start), None).await?;
        let mut past = false;
        for rs in page.record_sets {
            if rs.name.ends_with(&descendant) {
                if keep(&rs) {
                    kept.push(rs);
                }
            } else if rs.name != parent {
                past = true;
            }
        }
        // A page full of descendants (exactly 300 of them, say) is the last one when the next page starts
        // past them: its first name says so without asking for it.
        let more = |next: &RecordPosition| next.name == parent || next.name.ends_with(&descendant);
        match page.next {
            Some(next) if !past && more(&next) && positions.insert(next.clone()) => start = next,
            _ => return Ok(kept),
        }
    }
}

/// The record set of type `rtype` under `name` that has no SetIdentifier (the first one Route53 lists
/// there), or `None`: one request.
pub async fn read_record(
    api: &dyn Route53Api,
    zone_id: &str,
    name: &str,
    rtype: &str,
) -> Result<Option<RecordSet>, Route53Error> {
    let start = RecordPosition {
        name: name.to_string(),
        rtype: Some(rtype.to_string()),
        identifier: None,
    };
    let page = page_from(api, zone_id, Some(&start), Some(1)).await?;
    Ok(page
        .record_sets
        .into_iter()
        .find(|rs| rs.name == name && rs.rtype == rtype))
}

/// How some names are read again: with their ownership markers or not, and whether a whole-zone listing
/// is cheaper than one read per name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RereadPlan {
    /// Read each name's ownership marker too (simple routing).
    pub markers: bool,
    /// Record sets in the zone at the last whole-zone read: what listing it costs ([`ZONE_PAGE`] a page).
    pub zone_size: usize,
}

/// Record sets per page of a whole-zone read (Route53's default `MaxItems`).
pub const ZONE_PAGE: usize = 300;

/// Whether listing a zone of `zone_size` record sets takes fewer requests than reading `names` names one by
/// one (one request each).
pub fn listing_is_cheaper(names: usize, zone_size: usize) -> bool {
    names > zone_size / ZONE_PAGE + 1
}

impl RereadPlan {
    /// Reads `fqdns` again: name by name ([`read_names`]), or the whole zone ([`read_all`]) when that takes
    /// fewer requests (many names refused at once, in a small zone).
    pub async fn read(
        self,
        api: &dyn Route53Api,
        zone_id: &str,
        fqdns: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<RecordSet>>, Route53Error> {
        if !listing_is_cheaper(fqdns.len(), self.zone_size) {
            return read_names(api, zone_id, fqdns, self.markers).await;
        }
        let listing = read_all(api, zone_id).await?;
        Ok(fqdns
            .iter()
            .map(|name| {
                let marker = marker_name(name);
                let found = listing
                    .iter()
                    .filter(|rs| {
                        (rs.name == *name && rs.rtype == "A")
                            || (self.markers && rs.name == marker && rs.rtype == "TXT")
                    })
                    .cloned()
                    .collect();
                (name.clone(), found)
            })
            .collect())
    }
}

/// The hosted zone `zone_id`, asked with GetHostedZone until Route53 answers, the first time after
/// `delay` (a start's share of `route53.startup_spread`, `writer::pacing::startup_delay`): retriable
/// failures (throttling, 5xx, unreachable) are retried with backoff for as long as it takes; a fatal one
/// (`NoSuchHostedZone`, `AccessDenied`, anything else) is returned, for `main` to exit 1 naming the zone.
pub async fn resolve_zone(
    api: &dyn Route53Api,
    zone_id: &str,
    policy: RetryPolicy,
    delay: Duration,
) -> Result<HostedZone, Route53Error> {
    if !delay.is_zero() {
        info!(zone_id, wait = ?delay, "waiting before the first Route53 request (route53.startup_spread)");
        tokio::time::sleep(delay).await;
    }
    let mut backoff = Backoff::new(policy, rand::random());
    backoff.set_throttle_window(START_THROTTLE_WINDOW);
    loop {
        match api.get_hosted_zone(zone_id).await {
            Ok(zone) => return Ok(zone),
            Err(e) if e.is_retriable() => {
                let delay = match e.meaning() {
                    Meaning::Throttled => backoff.next_delay_for(RetryClass::Throttled),
                    _ => backoff.next_delay(),
                };
                warn!(zone_id, error = %e, attempt = backoff.attempts(), retry_in = ?delay, "hosted zone not read yet");
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                error!(zone_id, error = %e, "hosted zone cannot be used");
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fail, pass, Double};

    fn rs(name: &str, id: Option<&str>) -> RecordSet {
        let set = RecordSet::a(format!("{name}.zone."), "10.0.0.1");
        match id {
            Some(id) => set.multivalue(id),
            None => set,
        }
    }

    fn key(r: &RecordSet) -> (String, String, String) {
        (
            r.name.clone(),
            r.rtype.clone(),
            r.set_identifier.clone().unwrap_or_default(),
        )
    }

    /// A zone listed in pages of `page` record sets, sorted by (name, type, identifier); `stuck` answers
    /// like moto: the next position never carries the identifier.
    fn paged(mut records: Vec<RecordSet>, page: usize, stuck: bool) -> Double {
        records.sort_by_key(key);
        Double::scripted().answer_lists(move |start, max_items| {
            let from = match start {
                None => 0,
                Some(p) => {
                    let k = (
                        p.name.clone(),
                        p.rtype.clone().unwrap_or_default(),
                        p.identifier.clone().unwrap_or_default(),
                    );
                    records
                        .iter()
                        .position(|r| key(r) >= k)
                        .unwrap_or(records.len())
                }
            };
            let n = max_items.map_or(page, |m| m as usize).min(page);
            let record_sets: Vec<RecordSet> = records.iter().skip(from).take(n).cloned().collect();
            let next = records.get(from + n).map(|r| RecordPosition {
                name: r.name.clone(),
                rtype: Some(r.rtype.clone()),
                identifier: if stuck {
                    None
                } else {
                    r.set_identifier.clone()
                },
            });
            Ok(RecordPage { record_sets, next })
        })
    }

    /// A zone that answers GetHostedZone with `answers`, one per call, and nothing else.
    fn answering(answers: Vec<Result<HostedZone, Route53Error>>) -> Double {
        Double::scripted().answer_zone(move |n| answers[n - 1].clone())
    }

    fn many(n: usize) -> Vec<RecordSet> {
        (0..n)
            .map(|i| rs(&format!("n{:03}", i / 3), Some(&format!("h{}", i % 3))))
            .collect()
    }

    #[tokio::test]
    async fn read_all_follows_every_page() {
        let api = paged(many(250), 100, false);
        let all = read_all(&api, "Z").await.unwrap();
        assert_eq!(all.len(), 250);
        assert_eq!(api.lists(), 3);
    }

    /// `paged(many(250), 100, false)` whose lists numbered in `failing` (from 1) answer `error` first.
    fn failing_lists(
        failing: impl Fn(usize) -> bool + Send + Sync + 'static,
        error: Route53Error,
    ) -> Double {
        paged(many(250), 100, false).before_list(move |n| {
            if failing(n) {
                fail(error.clone())
            } else {
                pass()
            }
        })
    }

    #[tokio::test]
    async fn a_throttled_page_is_asked_again_where_the_read_was() {
        let throttle = Route53Error::Throttling("Rate exceeded".into());
        let api = failing_lists(|n| n == 2 || n == 3, throttle);
        let all = read_all(&api, "Z").await.unwrap();
        assert_eq!(all.len(), 250);
        assert_eq!(api.lists(), 5, "three pages and two throttles");
        let starts = api.list_starts();
        assert!(starts[0].is_none());
        assert!(
            starts[1].is_some() && starts[1] == starts[2] && starts[2] == starts[3],
            "the second page, asked three times: {starts:?}"
        );
        assert_ne!(starts[3], starts[4], "then the third");
    }

    #[tokio::test]
    async fn a_page_throttled_too_often_or_failing_otherwise_fails_the_read() {
        let throttle = Route53Error::Throttling("Rate exceeded".into());
        let api = failing_lists(|n| n >= 2, throttle.clone());
        assert_eq!(read_all(&api, "Z").await, Err(throttle));
        assert_eq!(api.lists(), 2 + PAGE_THROTTLES_RETRIED as usize);

        let down = Route53Error::Server {
            status: 503,
            message: String::new(),
        };
        let api = failing_lists(|n| n == 2, down.clone());
        assert_eq!(
            read_all(&api, "Z").await,
            Err(down),
            "the writer's backoff retries it"
        );
        assert_eq!(api.lists(), 2);
    }

    #[tokio::test]
    async fn read_all_stops_when_the_page_token_does_not_advance() {
        // Ten record sets under one name, pages of 4, and a next position without identifier: every page
        // after the first starts over at the name's first record set.
        let records: Vec<RecordSet> = (0..10).map(|i| rs("web", Some(&format!("h{i}")))).collect();
        let api = paged(records, 4, true);
        let all = read_all(&api, "Z").await.unwrap();
        assert!(api.lists() <= 3, "it did not loop");
        assert_eq!(all.len(), 4, "no duplicates: {all:?}");
    }

    #[tokio::test]
    async fn read_names_reads_only_the_names_asked() {
        let mut records = many(30);
        records.push(rs("n004", None));
        let api = paged(records, 300, false);
        let names: BTreeSet<String> = ["n004.zone.", "n009.zone.", "absent.zone."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = read_names(&api, "Z", &names, false).await.unwrap();
        assert_eq!(api.lists(), 3, "one request per name");
        assert_eq!(
            got["n004.zone."].len(),
            4,
            "three owners and one plain record set"
        );
        assert_eq!(got["n009.zone."].len(), 3);
        assert_eq!(got["absent.zone."], vec![]);
        let first = api.list_starts()[0].clone().unwrap();
        assert_eq!(
            (first.name.as_str(), first.rtype.as_deref()),
            ("absent.zone.", Some("A"))
        );
    }

    #[tokio::test]
    async fn read_names_follows_a_name_over_pages() {
        let records: Vec<RecordSet> = (0..10)
            .map(|i| rs("web", Some(&format!("h{i}"))))
            .chain([rs("x", None)])
            .collect();
        let api = paged(records, 4, false);
        let names: BTreeSet<String> = ["web.zone.".to_string()].into();
        let got = read_names(&api, "Z", &names, false).await.unwrap();
        assert_eq!(got["web.zone."].len(), 10);
        assert_eq!(api.lists(), 3);
    }

    #[tokio::test]
    async fn resolve_zone_retries_retriable_errors_and_returns_fatal_ones() {
        let zone = HostedZone {
            id: "Z".into(),
            name: "zone.".into(),
            private: true,
            record_sets: None,
        };
        let api = answering(vec![
            Err(Route53Error::Throttling("slow".into())),
            Err(Route53Error::Transport("refused".into())),
            Err(Route53Error::Server {
                status: 503,
                message: String::new(),
            }),
            Ok(zone.clone()),
        ]);
        let fast = RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        assert_eq!(
            resolve_zone(&api, "Z", fast, Duration::ZERO).await,
            Ok(zone)
        );

        assert_eq!(api.zones(), 4, "every answer taken");

        let api = answering(vec![
            Err(Route53Error::Throttling("slow".into())),
            Err(Route53Error::NoSuchHostedZone("Z".into())),
        ]);
        assert_eq!(
            resolve_zone(&api, "Z", fast, Duration::ZERO).await,
            Err(Route53Error::NoSuchHostedZone("Z".into()))
        );
        assert_eq!(api.zones(), 2, "every answer taken");
    }

    /// A start spread over `route53.startup_spread` sends nothing before its share of it has passed, then
    /// asks at once.
    #[tokio::test(start_paused = true)]
    async fn resolve_zone_asks_first_after_the_start_delay() {
        let zone = HostedZone {
            id: "Z".into(),
            name: "zone.".into(),
            private: true,
            record_sets: None,
        };
        let api = std::sync::Arc::new(answering(vec![Ok(zone.clone())]));
        let asking = api.clone();
        let started = tokio::time::Instant::now();
        let task = tokio::spawn(async move {
            let zone = resolve_zone(
                asking.as_ref(),
                "Z",
                RetryPolicy::default(),
                Duration::from_secs(30),
            )
            .await;
            (zone, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(29_900)).await;
        assert_eq!(api.zones(), 0, "asked before the delay passed");
        let (answer, after) = task.await.unwrap();
        assert_eq!(answer, Ok(zone));
        assert_eq!(after, Duration::from_secs(30));
    }
}
