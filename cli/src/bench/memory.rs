//! The peak resident memory of this process, where the server runs when the bench starts it:
//! Linux's high-water mark (`VmHWM`), reset when the measured phases begin.

/// Resets the high-water mark to what is resident now; false where the kernel does not allow it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The highest resident memory since the last reset (or since the start), in MiB.
pub fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_of(&status, "VmHWM:").map(|kib| kib / 1024.0)
}

/// The value in kB of the `field` line of a `/proc/<pid>/status` text.
fn kib_of(status: &str, field: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_is_read_in_mib() {
        let status =
            "Name:\tclassmate\nVmPeak:\t  900000 kB\nVmHWM:\t   52224 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(kib_of(status, "VmHWM:"), Some(52224.0));
        assert_eq!(kib_of(status, "VmSwap:"), None);
        // This process has a resident size, and after a reset the mark is at most what it was.
        let before = peak_mib().expect("Linux reports VmHWM");
        assert!(before > 1.0, "{before}");
        if reset_peak() {
            assert!(peak_mib().unwrap() <= before + 1.0);
        }
    }
}
