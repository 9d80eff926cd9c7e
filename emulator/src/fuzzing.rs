//! The property the fuzz target `emulator_request` checks (`fuzz/fuzz_targets/`), as a plain function, so that
//! the fuzzer (on nightly) and the corpus replay (the top-level `tests/fuzz_corpus.rs`, on stable) run the same code.
//! It panics, with the broken property, when the emulator breaks one; libFuzzer then records the input as a
//! crash.
//!
//! Not an API: the module is hidden from the docs and only the fuzz crate and the tests call it.

use route53_registrator::route53::{RecordPosition, RecordSet};

use crate::emulator::ApiError;
use crate::rules::{BatchError, ZoneRecords};
use crate::{ec2, xml};

/// The zone the fuzzed batches are applied to.
const APEX: &str = "zone.example.";

/// Target `emulator_request`: a request body, read the ways the server reads one.
///
/// The body is read as a ChangeResourceRecordSets request by [`xml::change_batch`], what the server does with
/// one, and the batch applied to a new zone; as a CreateHostedZone request; and as EC2's Query API form.
///
/// Properties: no panic; a body that cannot be read is `InvalidInput` with a message, answered with Route53's
/// error document; a batch the rules refuse leaves the zone as it was (batches are atomic) and says why; and
/// the zone, applied or not, lists every record set once, in order, when read a page at a time.
pub fn check_request_body(body: &[u8]) {
    match xml::change_batch(body) {
        Ok((changes, _comment)) => {
            let mut zone = ZoneRecords::new(APEX);
            let before = zone.clone();
            match zone.apply(&changes) {
                Ok(()) => {}
                Err(BatchError::InvalidChangeBatch(messages)) => {
                    assert_eq!(zone, before, "a refused batch changed the zone");
                    assert!(!messages.is_empty(), "a refused batch without a message");
                    assert!(messages.iter().all(|m| !m.is_empty()), "{messages:?}");
                    check_answer(&ApiError::InvalidChangeBatch(messages));
                }
                Err(BatchError::InvalidInput(message)) => {
                    assert_eq!(zone, before, "an invalid batch changed the zone");
                    assert!(!message.is_empty(), "InvalidInput without a message");
                    check_answer(&ApiError::InvalidInput(message));
                }
            }
            check_paging(&zone);
        }
        Err(error) => {
            assert!(
                matches!(&error, ApiError::InvalidInput(m) if !m.is_empty()),
                "an unreadable batch is {error:?}"
            );
            check_answer(&error);
        }
    }

    if let Err(error) = xml::parse::<xml::CreateHostedZoneRequest>(body) {
        assert!(
            matches!(&error, ApiError::InvalidInput(m) if !m.is_empty()),
            "an unreadable CreateHostedZone is {error:?}"
        );
    }

    if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        if let Err(error) = ec2::parse_form(&pairs) {
            assert!(
                error.status == 400 && !error.message.is_empty(),
                "{error:?}"
            );
        }
    }
}

/// The error document the server answers `error` with (both of Route53's shapes) serialises, with its code.
fn check_answer(error: &ApiError) {
    let document = xml::document(&xml::ErrorResponse::of(error, "rid"));
    assert!(document.contains(&format!("<Code>{}</Code>", error.code())));
    if let ApiError::InvalidChangeBatch(messages) = error {
        xml::document(&xml::LegacyInvalidChangeBatch::of(messages, "rid"));
    }
}

/// ListResourceRecordSets a page of `size` at a time, from each page's next position, gives every record set
/// once and in order, for a few page sizes.
fn check_paging(zone: &ZoneRecords) {
    let all = zone.record_sets();
    for size in [1, 2, 7] {
        let mut listed: Vec<RecordSet> = Vec::new();
        let mut start: Option<RecordPosition> = None;
        loop {
            let page = zone
                .page(start.as_ref(), Some(size))
                .unwrap_or_else(|e| panic!("page from {start:?}: {e}"));
            listed.extend(page.record_sets);
            assert!(listed.len() <= all.len(), "paging repeats record sets");
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        assert_eq!(listed, all, "pages of {size}");
    }
}
