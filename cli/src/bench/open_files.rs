//! Room for the run's sockets: a run with a WebSocket per student holds tens of thousands of
//! connections, twice over when the server runs in this process, far past the usual soft limit
//! of open files.

/// Raises this process's limit of open files to at least `wanted` where the hard limit (or, for
/// root, the kernel's `nr_open`) allows; returns the limit now in force.
pub fn raise_to(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur >= wanted {
            return limit.rlim_cur;
        }
        let kernel = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(limit.rlim_max);
        // Only root may raise the hard limit; anyone may raise the soft one up to it.
        let raised = libc::rlimit {
            rlim_cur: wanted.min(kernel),
            rlim_max: limit.rlim_max.max(wanted.min(kernel)),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return raised.rlim_cur;
        }
        let soft = libc::rlimit {
            rlim_cur: wanted.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        match libc::setrlimit(libc::RLIMIT_NOFILE, &soft) {
            0 => soft.rlim_cur,
            _ => limit.rlim_cur,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_raised_or_kept_never_lowered() {
        let before = raise_to(0);
        assert!(before > 0);
        let after = raise_to(before + 1);
        assert!(after >= before, "{after} < {before}");
    }
}
