#![forbid(unsafe_code)]

fn main() {
    println!("route53-registrator {}", env!("CARGO_PKG_VERSION"));
}
