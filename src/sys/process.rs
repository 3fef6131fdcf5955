//! This process's limits, and processes as /proc shows them: the
//! open-file limit raised, another process sampled (`bench
//! --server-pid`), this one as Prometheus's process collector shows it.

/// Raises the soft limit on open files to the hard limit (Unix, as Go does
/// at start) and returns the limit now in force. Windows has no such
/// limit on sockets: a generous fixed figure sizes the connection limit.
pub fn raise_fd_limit() -> u64 {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => limit,
            Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft),
        }
    }
    #[cfg(not(unix))]
    {
        65_536
    }
}

/// A process's resident memory and CPU time, as `bench --server-pid`
/// samples them.
#[derive(Clone, Copy, Debug)]
pub struct ProcessSample {
    /// Resident memory, bytes.
    pub rss: u64,
    /// User plus system CPU time, nanoseconds.
    pub cpu_ns: u64,
}

/// True where [`sample_process`] works (Linux: /proc).
pub fn can_sample_processes() -> bool {
    cfg!(target_os = "linux")
}

/// Samples `pid` (Linux: /proc/PID/status and stat).
pub fn sample_process(pid: u32) -> Result<ProcessSample, crate::setting::Words> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| {
            crate::words!(
                "cannot read /proc/{pid}/status: {e} (is {} right?)",
                crate::setting::Setting::ServerPid
            )
        })?;
        let rss_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
        // Fields after the command name, which is in parentheses and may
        // hold spaces.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after
        // the name.
        // SAFETY: sysconf has no preconditions.
        let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
            .unwrap_or(100)
            .max(1);
        Ok(ProcessSample {
            rss: rss_kb * 1024,
            cpu_ns: (ticks(11) + ticks(12)) * 1_000_000_000 / hz,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(crate::words!(
            "cannot sample process {pid}: {} needs Linux's /proc",
            crate::setting::Setting::ServerPid
        ))
    }
}

/// This process as Prometheus's process collector shows one (the
/// `process_*` metrics every official client exports).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident memory, bytes (what `ps` shows as RSS).
    pub resident_bytes: u64,
    /// Virtual memory, bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on them.
    pub max_fds: u64,
    /// When the process started, seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// This process's [`ProcessStats`] (Linux: /proc; `None` elsewhere, or
/// when /proc cannot be read).
pub fn this_process() -> Option<ProcessStats> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The fields after the command name, which is in parentheses and
        // may hold spaces; the first of them is proc(5)'s 3rd (state).
        // utime, stime, starttime, vsize and rss are its 14th, 15th,
        // 22nd, 23rd and 24th.
        let (_, after) = stat.rsplit_once(')')?;
        let fields: Vec<u64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let field = |at: usize| fields.get(at - 3).copied();
        let boot: u64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
        // SAFETY: sysconf has no preconditions.
        let (hz, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let hz = u64::try_from(hz).ok().filter(|&h| h > 0)? as f64;
        let page = u64::try_from(page).ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        let max_fds = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?.0;
        Some(ProcessStats {
            cpu_seconds: (field(14)? + field(15)?) as f64 / hz,
            resident_bytes: field(24)? * page,
            virtual_bytes: field(23)?,
            open_fds,
            max_fds,
            start_time_seconds: boot as f64 + field(22)? as f64 / hz,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
