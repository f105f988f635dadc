//! POSIX signals by the names SSH gives them (RFC 4254 section 6.10: the
//! "signal" and "exit-signal" requests name a signal without its `SIG`
//! prefix), with their Linux numbers: the one table the agent, the daemon
//! and the API share, so a signal crosses every hop under one name and a
//! process killed by it exits 128 + its number everywhere.

/// A signal of RFC 4254's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `ABRT`, 6.
    Abrt,
    /// `ALRM`, 14.
    Alrm,
    /// `FPE`, 8.
    Fpe,
    /// `HUP`, 1.
    Hup,
    /// `ILL`, 4.
    Ill,
    /// `INT`, 2.
    Int,
    /// `KILL`, 9.
    Kill,
    /// `PIPE`, 13.
    Pipe,
    /// `QUIT`, 3.
    Quit,
    /// `SEGV`, 11.
    Segv,
    /// `TERM`, 15.
    Term,
    /// `USR1`, 10.
    Usr1,
    /// `USR2`, 12.
    Usr2,
}

/// Each signal with its RFC 4254 name and Linux number.
const TABLE: [(Signal, &str, i32); 13] = [
    (Signal::Hup, "HUP", 1),
    (Signal::Int, "INT", 2),
    (Signal::Quit, "QUIT", 3),
    (Signal::Ill, "ILL", 4),
    (Signal::Abrt, "ABRT", 6),
    (Signal::Fpe, "FPE", 8),
    (Signal::Kill, "KILL", 9),
    (Signal::Usr1, "USR1", 10),
    (Signal::Segv, "SEGV", 11),
    (Signal::Usr2, "USR2", 12),
    (Signal::Pipe, "PIPE", 13),
    (Signal::Alrm, "ALRM", 14),
    (Signal::Term, "TERM", 15),
];

impl Signal {
    /// Every signal, by number.
    pub const ALL: [Signal; 13] = {
        let mut all = [Signal::Hup; 13];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    fn row(self) -> (Signal, &'static str, i32) {
        TABLE.into_iter().find(|r| r.0 == self).unwrap_or(TABLE[0])
    }

    /// The RFC 4254 name: `TERM`, `USR2`.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The Linux signal number: 15 for `TERM`.
    pub fn number(self) -> i32 {
        self.row().2
    }

    /// The signal named `name`, with or without `SIG` (`TERM`, `SIGTERM`).
    pub fn from_name(name: &str) -> Option<Signal> {
        let name = name.strip_prefix("SIG").unwrap_or(name);
        TABLE.into_iter().find(|r| r.1 == name).map(|r| r.0)
    }

    /// The signal numbered `number` on Linux.
    pub fn from_number(number: i32) -> Option<Signal> {
        TABLE.into_iter().find(|r| r.2 == number).map(|r| r.0)
    }

    /// The names, comma-separated, for errors that list them.
    pub fn names() -> String {
        TABLE.iter().map(|r| r.1).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for s in Signal::ALL {
            assert_eq!(Signal::from_name(s.name()), Some(s));
            assert_eq!(Signal::from_name(&format!("SIG{}", s.name())), Some(s));
            assert_eq!(Signal::from_number(s.number()), Some(s));
        }
        assert_eq!(Signal::from_name("USR2").map(Signal::number), Some(12));
        assert_eq!(Signal::from_number(12), Some(Signal::Usr2));
        assert_eq!(Signal::from_name("WINCH"), None);
        assert_eq!(Signal::from_number(0), None);
        assert!(Signal::names().starts_with("HUP, INT, QUIT"));
    }
}
