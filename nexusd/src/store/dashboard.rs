//! The web dashboard's sessions of single-user mode: a cookie's SHA-256
//! and when it lapses (seconds since the Unix epoch). The secret itself is
//! never stored.

use super::{Result, Store};
use rusqlite::{OptionalExtension, params};

impl Store {
    /// Records a session cookie by its `digest`, lapsing at `expires_at`.
    pub fn insert_dashboard_session(&self, digest: &[u8], expires_at: i64, now: i64) -> Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?1", [now])?;
        conn.execute(
            "INSERT INTO dashboard_sessions (sha256, expires_at, created_at) VALUES (?1, ?2, ?3)",
            params![digest, expires_at, now],
        )?;
        Ok(())
    }

    /// When the session of `digest` lapses, if it is recorded.
    pub fn dashboard_session_expiry(&self, digest: &[u8]) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT expires_at FROM dashboard_sessions WHERE sha256 = ?1",
                [digest],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Moves the lapse of the session of `digest` to `expires_at`.
    pub fn touch_dashboard_session(&self, digest: &[u8], expires_at: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE dashboard_sessions SET expires_at = ?2 WHERE sha256 = ?1",
            params![digest, expires_at],
        )?;
        Ok(())
    }

    /// Forgets the session of `digest` (signing out).
    pub fn remove_dashboard_session(&self, digest: &[u8]) -> Result<()> {
        self.conn()
            .execute("DELETE FROM dashboard_sessions WHERE sha256 = ?1", [digest])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_kept_by_digest_and_lapsed_ones_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state.db")).expect("open");
        store.insert_dashboard_session(b"old", 100, 50).expect("old");
        store.insert_dashboard_session(b"new", 500, 200).expect("new");
        let expiry = |d: &[u8]| store.dashboard_session_expiry(d).expect("read");
        assert_eq!(expiry(b"old"), None, "lapsed at 100, pruned at 200");
        assert_eq!(expiry(b"new"), Some(500));
        store.touch_dashboard_session(b"new", 900).expect("touch");
        assert_eq!(expiry(b"new"), Some(900));
        store.remove_dashboard_session(b"new").expect("remove");
        assert_eq!(expiry(b"new"), None);
    }
}
