//! The daemon's metrics in the Prometheus text format (`GET /metrics`, the
//! `prometheus-client` crate): what the flows count and time as they run,
//! and what is read at each scrape (workspaces by state, connections,
//! forwards, channels, the process's own CPU and memory).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Label `method`: a JSON-RPC method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// The method, e.g. `workspace.create`.
    pub method: String,
}

/// Labels `method` and `kind`: a failed request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The method.
    pub method: String,
    /// The error's `data.kind`, e.g. `not_found`.
    pub kind: String,
}

/// Label `state`: a workspace state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `creating`, `running`, `stopped`, `removing`.
    pub state: String,
}

/// Label `workspace`: a workspace name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkspaceLabel {
    /// The workspace.
    pub workspace: String,
}

/// Label `result`: `ok` or `failed`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `failed`.
    pub result: String,
}

/// Every metric, registered once; clones share the values.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Workspaces by state, set at each scrape.
    pub workspaces: Family<StateLabel, Gauge>,
    /// Seconds a successful `workspace.create` took.
    pub create_seconds: Histogram,
    /// Seconds a successful `workspace.start` took.
    pub start_seconds: Histogram,
    /// Seconds an `exec.run` or `exec.stream` took, from the request to
    /// the exit.
    pub exec_seconds: Histogram,
    /// API requests by method.
    pub requests: Family<MethodLabel, Counter>,
    /// Failed API requests by method and error kind.
    pub errors: Family<ErrorLabels, Counter>,
    /// Pooled SSH connections to agents, set at each scrape.
    pub agent_connections: Gauge,
    /// Port forwards running, set at each scrape.
    pub port_forwards: Gauge,
    /// Exec and tunnel channels open through the daemon by workspace
    /// (tunnels carry `nexus workspace ssh` sessions), set at each scrape.
    pub channels: Family<WorkspaceLabel, Gauge>,
    /// Image builds by result.
    pub image_builds: Family<ResultLabel, Counter>,
    /// CPU seconds this process used (user and system), set at each scrape.
    pub cpu_seconds: Gauge<f64, AtomicU64>,
    /// This process's resident memory in bytes, set at each scrape.
    pub resident_bytes: Gauge,
    /// This process's open file descriptors, set at each scrape.
    pub open_fds: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// Buckets from 5 ms to about 3 minutes.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

impl Metrics {
    /// Every metric at zero, registered under the `nexus_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nexus");
        let m = Metrics {
            workspaces: Family::default(),
            create_seconds: seconds_histogram(),
            start_seconds: seconds_histogram(),
            exec_seconds: seconds_histogram(),
            requests: Family::default(),
            errors: Family::default(),
            agent_connections: Gauge::default(),
            port_forwards: Gauge::default(),
            channels: Family::default(),
            image_builds: Family::default(),
            cpu_seconds: Gauge::default(),
            resident_bytes: Gauge::default(),
            open_fds: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("workspaces", "Workspaces by state", m.workspaces.clone());
        registry.register(
            "create_duration_seconds",
            "Seconds a successful workspace.create took",
            m.create_seconds.clone(),
        );
        registry.register(
            "start_duration_seconds",
            "Seconds a successful workspace.start took",
            m.start_seconds.clone(),
        );
        registry.register(
            "exec_duration_seconds",
            "Seconds an exec.run or exec.stream took, request to exit",
            m.exec_seconds.clone(),
        );
        registry.register("api_requests", "API requests by method", m.requests.clone());
        registry.register(
            "api_errors",
            "Failed API requests by method and error kind",
            m.errors.clone(),
        );
        registry.register(
            "agent_connections",
            "Pooled SSH connections to workspace agents",
            m.agent_connections.clone(),
        );
        registry.register("port_forwards", "Port forwards running", m.port_forwards.clone());
        registry.register(
            "channels",
            "Exec and tunnel channels open through the daemon, by workspace",
            m.channels.clone(),
        );
        registry.register("image_builds", "Image builds by result", m.image_builds.clone());
        registry.register(
            "process_cpu_seconds",
            "CPU seconds the daemon used, user and system",
            m.cpu_seconds.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "The daemon's resident memory",
            m.resident_bytes.clone(),
        );
        registry.register(
            "process_open_fds",
            "The daemon's open file descriptors",
            m.open_fds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts a request of `method`, and its error kind when it failed.
    pub fn request(&self, method: &str, error_kind: Option<nexus_sdk::ErrorKind>) {
        self.requests
            .get_or_create(&MethodLabel {
                method: method.to_string(),
            })
            .inc();
        if let Some(kind) = error_kind {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.errors
                .get_or_create(&ErrorLabels {
                    method: method.to_string(),
                    kind,
                })
                .inc();
        }
    }

    /// Counts an image build.
    pub fn image_build(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.image_builds
            .get_or_create(&ResultLabel { result: result.into() })
            .inc();
    }

    /// Sets the process gauges from `/proc/self`.
    pub fn read_process(&self) {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
        {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 = [11, 12]
                .iter()
                .filter_map(|i| f.get(*i).and_then(|v| v.parse::<u64>().ok()))
                .sum();
            // SAFETY: sysconf reads a constant of the system; no memory is touched.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
            self.cpu_seconds.set(ticks as f64 / hz);
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status")
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        {
            self.resident_bytes.set(kib * 1024);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(fds.count() as i64);
        }
    }

    /// The text exposition of every metric (OpenMetrics text, which
    /// Prometheus reads).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
