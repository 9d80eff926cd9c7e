//! Fuzz target `emulator_request`: the property is `route53_emulator::fuzzing::check_request_body` (its doc says the input's shape), which
//! tests replay on stable over fuzz/corpus/emulator_request/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| route53_emulator::fuzzing::check_request_body(data));
