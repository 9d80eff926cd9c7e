//! Fuzz target `classify`: the property is `route53_registrator::fuzzing::check_classify` (its doc says the input's shape), which
//! tests replay on stable over fuzz/corpus/classify/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| route53_registrator::fuzzing::check_classify(data));
