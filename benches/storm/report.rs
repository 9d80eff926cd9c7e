//! The bench's output: Markdown tables and the summary lines against PRODUCT.md's targets.

use std::time::Duration;

/// One line of the final summary.
pub struct Verdict {
    /// What is measured.
    pub number: String,
    pub measured: String,
    /// PRODUCT.md's target.
    pub target: String,
    pub met: bool,
}

/// Prints a Markdown table with aligned columns.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Milliseconds, rounded.
pub fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

/// Seconds, two decimals.
pub fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

/// KiB as MiB, one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Writes a request log as TSV ([`crate::support::emulator::request_log_tsv`]) to `file` under Cargo's target
/// tmp dir's `dir`, for reading by hand; returns where, or `None` when it could not be written.
pub fn write_request_log(
    dir: &str,
    file: &str,
    log: &[route53_emulator::LoggedRequest],
    t0: std::time::Instant,
) -> Option<std::path::PathBuf> {
    let text = crate::support::emulator::request_log_tsv(log, t0);
    crate::support::write_tmp(dir, file, &text).ok()
}
