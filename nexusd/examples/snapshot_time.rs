//! Times Agent Trace snapshots of a worktree: `snapshot_time WORKTREE`.
fn main() {
    let wt = std::path::PathBuf::from(std::env::args().nth(1).expect("worktree"));
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = std::time::Instant::now();
        let tree = nexusd::git::trace::snapshot(&wt).expect("snapshot");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(tree);
    }
    times.sort_by(f64::total_cmp);
    println!("snapshot p50 {:.2} ms, min {:.2} ms", times[15], times[0]);
}
