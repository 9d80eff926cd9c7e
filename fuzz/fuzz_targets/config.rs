//! Fuzz target `config`: the property is `route53_registrator::fuzzing::check_config` (its doc says the input's shape), which
//! tests replay on stable over fuzz/corpus/config/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| route53_registrator::fuzzing::check_config(data));
