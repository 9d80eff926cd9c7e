//! Fuzz target `error_body`: the property is `route53_registrator::fuzzing::check_error_body` (its doc says the input's shape), which
//! tests replay on stable over fuzz/corpus/error_body/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| route53_registrator::fuzzing::check_error_body(data));
