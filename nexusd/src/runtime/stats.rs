//! A container's resource use from Docker's stats (`GET
//! /containers/{id}/stats`), and the arithmetic of `docker stats`: CPU
//! percent from the CPU and system deltas, memory without the page cache
//! (cgroup v1's `total_inactive_file`, v2's `inactive_file`), and the
//! per-second rates of the network and block I/O counters.

use bollard::models::ContainerStatsResponse;
use nexus_sdk::StatsSample;

/// What one stats reading holds, the engine's structs left behind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawStats {
    /// When it was read, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The container's CPU time, nanoseconds, now and at the reading before
    /// (Docker's `precpu_stats`; 0 for the first reading of a stream).
    pub cpu_total: u64,
    /// See [`RawStats::cpu_total`].
    pub pre_cpu_total: u64,
    /// The host's CPU time, nanoseconds, now and at the reading before.
    pub system: u64,
    /// See [`RawStats::system`].
    pub pre_system: u64,
    /// CPUs the container may use.
    pub online_cpus: u32,
    /// Memory charged to the container, bytes (cache included).
    pub memory_usage: u64,
    /// Its limit, bytes.
    pub memory_limit: u64,
    /// The page cache not recently used (v1 `total_inactive_file`, v2 `inactive_file`).
    pub inactive_file: Option<u64>,
    /// Bytes received and sent, summed over its networks.
    pub rx: u64,
    /// See [`RawStats::rx`].
    pub tx: u64,
    /// Bytes read from and written to block devices.
    pub block_read: u64,
    /// See [`RawStats::block_read`].
    pub block_write: u64,
}

impl RawStats {
    /// A reading of Docker's stats API (either cgroup version).
    pub fn from_docker(s: &ContainerStatsResponse) -> RawStats {
        let cpu = s.cpu_stats.as_ref();
        let pre = s.precpu_stats.as_ref();
        let total = |c: Option<&bollard::models::ContainerCpuStats>| {
            c.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.total_usage)
                .unwrap_or(0)
        };
        let online = cpu.and_then(|c| c.online_cpus).filter(|n| *n > 0).unwrap_or_else(|| {
            // older engines: as many CPUs as per-CPU counters
            cpu.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as u32)
                .unwrap_or(1)
        });
        let memory = s.memory_stats.as_ref();
        let stat = |k: &str| memory.and_then(|m| m.stats.as_ref()).and_then(|st| st.get(k).copied());
        let networks = s.networks.iter().flat_map(|n| n.values());
        let (rx, tx) = networks.fold((0u64, 0u64), |(r, t), n| {
            (r + n.rx_bytes.unwrap_or(0), t + n.tx_bytes.unwrap_or(0))
        });
        let io = s
            .blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref())
            .into_iter()
            .flatten();
        let (block_read, block_write) = io.fold((0u64, 0u64), |(r, w), e| {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => (r + e.value.unwrap_or(0), w),
                Some("write") => (r, w + e.value.unwrap_or(0)),
                _ => (r, w),
            }
        });
        RawStats {
            time_ms: s
                .read
                .as_ref()
                // RFC 3339 whichever date type bollard was built with
                .and_then(|t| serde_json::to_value(t).ok())
                .and_then(|v| v.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()))
                .map(|t| t.timestamp_millis().max(0) as u64)
                .unwrap_or(0),
            cpu_total: total(cpu),
            pre_cpu_total: total(pre),
            system: cpu.and_then(|c| c.system_cpu_usage).unwrap_or(0),
            pre_system: pre.and_then(|c| c.system_cpu_usage).unwrap_or(0),
            online_cpus: online,
            memory_usage: memory.and_then(|m| m.usage).unwrap_or(0),
            memory_limit: memory.and_then(|m| m.limit).unwrap_or(0),
            // cgroup v1 names it total_inactive_file, v2 inactive_file
            inactive_file: stat("total_inactive_file").or_else(|| stat("inactive_file")),
            rx,
            tx,
            block_read,
            block_write,
        }
    }
}

/// The sample of reading `cur`, with `prev` the reading before it of the
/// same container (`None` for the first): CPU as `docker stats` computes
/// it, the container's CPU time over the host's since `prev` (else since
/// the reading's own `precpu` values; 0 without either, or when a counter
/// went back), rates per second since `prev` (0 without it, and for a
/// counter that went back, as after a restart).
pub fn sample(prev: Option<&RawStats>, cur: &RawStats) -> StatsSample {
    let (pre_cpu, pre_system) = match prev {
        Some(p) => (p.cpu_total, p.system),
        None => (cur.pre_cpu_total, cur.pre_system),
    };
    let cpu_delta = cur.cpu_total.checked_sub(pre_cpu).filter(|_| pre_cpu > 0).unwrap_or(0) as f64;
    let system_delta = cur
        .system
        .checked_sub(pre_system)
        .filter(|_| pre_system > 0)
        .unwrap_or(0) as f64;
    let cpu_percent = if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * f64::from(cur.online_cpus) * 100.0
    } else {
        0.0
    };
    let memory_bytes = match cur.inactive_file {
        Some(cache) if cache < cur.memory_usage => cur.memory_usage - cache,
        _ => cur.memory_usage,
    };
    let rate = |now: u64, before: Option<u64>| -> f64 {
        let Some(p) = prev else { return 0.0 };
        let secs = cur.time_ms.saturating_sub(p.time_ms) as f64 / 1000.0;
        match before.and_then(|b| now.checked_sub(b)) {
            Some(delta) if secs > 0.0 => delta as f64 / secs,
            _ => 0.0,
        }
    };
    StatsSample {
        time: cur.time_ms,
        cpu_percent,
        memory_bytes,
        memory_limit_bytes: cur.memory_limit,
        network_rx_per_sec: rate(cur.rx, prev.map(|p| p.rx)),
        network_tx_per_sec: rate(cur.tx, prev.map(|p| p.tx)),
        block_read_per_sec: rate(cur.block_read, prev.map(|p| p.block_read)),
        block_write_per_sec: rate(cur.block_write, prev.map(|p| p.block_write)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading of Docker 20.10 on cgroup v1 (trimmed to what is used).
    const V1: &str = r#"{
      "read": "2026-12-01T03:00:01.000000000Z",
      "cpu_stats": {"cpu_usage": {"total_usage": 2500000000, "percpu_usage": [1250000000, 1250000000]},
                    "system_cpu_usage": 120000000000},
      "precpu_stats": {"cpu_usage": {"total_usage": 2000000000, "percpu_usage": [1000000000, 1000000000]},
                       "system_cpu_usage": 118000000000},
      "memory_stats": {"usage": 209715200, "limit": 8589934592,
                       "stats": {"cache": 62914560, "total_inactive_file": 52428800}},
      "networks": {"eth0": {"rx_bytes": 4096, "tx_bytes": 1024}, "eth1": {"rx_bytes": 4096, "tx_bytes": 0}},
      "blkio_stats": {"io_service_bytes_recursive": [
        {"major": 8, "minor": 0, "op": "Read", "value": 1048576},
        {"major": 8, "minor": 0, "op": "Write", "value": 2097152},
        {"major": 8, "minor": 0, "op": "Total", "value": 3145728}]}
    }"#;

    /// A reading on cgroup v2: online_cpus, inactive_file, lowercase ops.
    const V2: &str = r#"{
      "read": "2026-12-01T03:00:02.000000000Z",
      "cpu_stats": {"cpu_usage": {"total_usage": 3000000000}, "system_cpu_usage": 122000000000, "online_cpus": 4},
      "precpu_stats": {"cpu_usage": {"total_usage": 2500000000}, "system_cpu_usage": 120000000000, "online_cpus": 4},
      "memory_stats": {"usage": 104857600, "limit": 1073741824,
                       "stats": {"file": 20971520, "inactive_file": 10485760}},
      "networks": {"eth0": {"rx_bytes": 10240, "tx_bytes": 3072}},
      "blkio_stats": {"io_service_bytes_recursive": [
        {"major": 254, "minor": 0, "op": "read", "value": 1572864},
        {"major": 254, "minor": 0, "op": "write", "value": 2097152}]}
    }"#;

    fn raw(json: &str) -> RawStats {
        RawStats::from_docker(&serde_json::from_str(json).expect("a stats fixture"))
    }

    #[test]
    fn cgroup_v1_reads_as_docker_stats_shows_it() {
        let r = raw(V1);
        assert_eq!(
            (r.online_cpus, r.rx, r.tx),
            (2, 8192, 1024),
            "CPUs from percpu_usage, networks summed"
        );
        assert_eq!(
            (r.block_read, r.block_write),
            (1048576, 2097152),
            "Total is not counted twice"
        );
        let s = sample(None, &r);
        // 0.5 s of CPU over 2 s of the host's 2 CPUs: 25 % of one CPU × 2
        assert!((s.cpu_percent - 50.0).abs() < 1e-9, "{}", s.cpu_percent);
        assert_eq!(
            s.memory_bytes,
            209715200 - 52428800,
            "usage without total_inactive_file"
        );
        assert_eq!(s.memory_limit_bytes, 8589934592);
        assert_eq!(s.time, 1796094001000);
        assert_eq!(s.network_rx_per_sec, 0.0, "no rate without a reading before");
    }

    #[test]
    fn cgroup_v2_reads_as_docker_stats_shows_it() {
        let (before, now) = (raw(V1), raw(V2));
        assert_eq!(now.online_cpus, 4);
        let s = sample(Some(&before), &now);
        // 0.5 s of CPU over 2 s of host CPU time, 4 CPUs
        assert!((s.cpu_percent - 100.0).abs() < 1e-9, "{}", s.cpu_percent);
        assert_eq!(s.memory_bytes, 104857600 - 10485760, "usage without inactive_file");
        // one second after the v1 reading
        assert_eq!(s.network_rx_per_sec, 2048.0);
        assert_eq!(s.network_tx_per_sec, 2048.0);
        assert_eq!(s.block_read_per_sec, 524288.0);
        assert_eq!(s.block_write_per_sec, 0.0);
    }

    #[test]
    fn a_first_reading_and_a_counter_reset_give_zero_not_garbage() {
        // the first reading of a stream: no precpu values
        let mut first = raw(V2);
        first.pre_cpu_total = 0;
        first.pre_system = 0;
        assert_eq!(sample(None, &first).cpu_percent, 0.0);
        // the container restarted: its counters start again below the reading before
        let mut restarted = raw(V2);
        restarted.time_ms += 1000;
        restarted.rx = 100;
        restarted.block_write = 0;
        restarted.cpu_total = 1000;
        let s = sample(Some(&raw(V2)), &restarted);
        assert_eq!((s.network_rx_per_sec, s.block_write_per_sec), (0.0, 0.0));
        assert_eq!(s.cpu_percent, 0.0, "CPU time below the reading before");
        // CPU time that went back (a restart between readings)
        let mut back = raw(V2);
        back.cpu_total = back.pre_cpu_total - 1;
        assert_eq!(sample(None, &back).cpu_percent, 0.0);
        // no cache figure, or one above the usage: the usage itself
        let mut odd = raw(V2);
        odd.inactive_file = Some(odd.memory_usage + 1);
        assert_eq!(sample(None, &odd).memory_bytes, odd.memory_usage);
    }
}
