//! Rebuilds the daemon when the dashboard's build (`web/dist`, embedded by
//! `src/api/dashboard.rs`) changes or first appears.

fn main() {
    let dist = std::path::Path::new("../web/dist");
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../web/dist");
    } else {
        // `web/` changes when `dist` is made in it
        println!("cargo:rerun-if-changed=../web");
    }
}
