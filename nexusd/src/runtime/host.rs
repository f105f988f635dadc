//! What this host has, for devcontainer.json's `hostRequirements` check
//! ([`nexus_devcontainer::container_options::host_warnings`]).

use nexus_devcontainer::container_options::HostResources;

/// This machine's: cores, `MemTotal` of `/proc/meminfo`, and free space
/// of the file system holding `disk` (statvfs). What cannot be read is
/// `u64::MAX` (no warning).
pub fn of_this_host(disk: &std::path::Path) -> HostResources {
    let cpus = std::thread::available_parallelism().map_or(u64::MAX, |n| n.get() as u64);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kib| kib * 1024);
    let storage = free_bytes(disk).unwrap_or(u64::MAX);
    HostResources { cpus, memory, storage }
}

fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid out-pointer.
    (unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
