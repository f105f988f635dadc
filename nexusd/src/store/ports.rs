//! Host port allocation: the lowest port of the range that no record holds and
//! that binds on 127.0.0.1 right now (so a port any other process holds is
//! skipped). The caller runs this inside the store's write transaction, so two
//! concurrent creates never get the same port.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};

/// Whether `port` can be bound on 127.0.0.1 at this moment.
pub fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The lowest port in `range` (inclusive) not in `taken` for which `probe` is true.
pub fn pick(range: (u16, u16), taken: &HashSet<u16>, probe: impl Fn(u16) -> bool) -> Option<u16> {
    (range.0..=range.1).find(|p| !taken.contains(p) && probe(*p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_taken_and_unbindable_ports() {
        let taken: HashSet<u16> = [100, 101].into_iter().collect();
        assert_eq!(pick((100, 105), &taken, |p| p != 102), Some(103));
        assert_eq!(pick((100, 101), &taken, |_| true), None);
    }

    #[test]
    fn a_held_port_is_not_bindable() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = held.local_addr().expect("addr").port();
        assert!(!bindable(port));
        drop(held);
        assert!(bindable(port));
    }
}
