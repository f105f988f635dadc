//! Checkpoint rows: one per git checkpoint of a workspace, written in state
//! `recording` before its ref and set `done` after, so `reconcile` can
//! remove what a daemon killed in between left (`workspace/checkpoint.rs`).

use super::{Result, Store};
use rusqlite::{OptionalExtension, params};

/// A checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// The workspace's id.
    pub workspace_id: String,
    /// Its number in the workspace, from 1, never reused while a higher one exists.
    pub n: u32,
    /// Its name (unique in the workspace; the number when none was given).
    pub name: String,
    /// The git ref holding it (`refs/nexus/checkpoints/<workspace id>/<n>`).
    pub reference: String,
    /// Whether its ref (and image) is complete.
    pub done: bool,
    /// A full checkpoint's image (`nexus/checkpoint:<workspace id>-<n>`),
    /// named before it is committed.
    pub image: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRecord> {
    Ok(CheckpointRecord {
        workspace_id: r.get("workspace_id")?,
        n: r.get("n")?,
        name: r.get("name")?,
        reference: r.get("reference")?,
        done: r.get::<_, String>("state")? == "done",
        image: r.get("image")?,
        created_at: r.get("created_at")?,
    })
}

/// What adding a checkpoint row can fail with.
#[derive(Debug)]
pub enum NewCheckpoint {
    /// Added, in state `recording`.
    Added(CheckpointRecord),
    /// The workspace has a checkpoint of that name.
    NameTaken,
}

impl Store {
    /// Adds checkpoint row `name` (else its number) of workspace
    /// `workspace_id` in state `recording`, its ref from `reference(n)`.
    pub fn insert_checkpoint(
        &self,
        workspace_id: &str,
        name: Option<&str>,
        created_at: i64,
        reference: impl Fn(u32) -> String,
    ) -> Result<NewCheckpoint> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<u32> = tx.query_row(
            "SELECT MAX(n) FROM checkpoints WHERE workspace_id = ?1",
            [workspace_id],
            |r| r.get(0),
        )?;
        let n = last.unwrap_or(0) + 1;
        let name = name.map_or_else(|| n.to_string(), str::to_string);
        let taken: Option<u32> = tx
            .query_row(
                "SELECT n FROM checkpoints WHERE workspace_id = ?1 AND name = ?2",
                params![workspace_id, name],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Ok(NewCheckpoint::NameTaken);
        }
        let record = CheckpointRecord {
            workspace_id: workspace_id.to_string(),
            n,
            name,
            reference: reference(n),
            done: false,
            image: None,
            created_at,
        };
        tx.execute(
            "INSERT INTO checkpoints (workspace_id, n, name, reference, state, created_at)
             VALUES (?1, ?2, ?3, ?4, 'recording', ?5)",
            params![
                record.workspace_id,
                record.n,
                record.name,
                record.reference,
                record.created_at
            ],
        )?;
        tx.commit()?;
        Ok(NewCheckpoint::Added(record))
    }

    /// Names the image of full checkpoint `n` of workspace `workspace_id`,
    /// before it is committed.
    pub fn set_checkpoint_image(&self, workspace_id: &str, n: u32, image: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE checkpoints SET image = ?3 WHERE workspace_id = ?1 AND n = ?2",
            params![workspace_id, n, image],
        )?;
        Ok(())
    }

    /// Marks checkpoint `n` of workspace `workspace_id` complete.
    pub fn finish_checkpoint(&self, workspace_id: &str, n: u32) -> Result<()> {
        self.conn().execute(
            "UPDATE checkpoints SET state = 'done' WHERE workspace_id = ?1 AND n = ?2",
            params![workspace_id, n],
        )?;
        Ok(())
    }

    /// The checkpoints of workspace `workspace_id` (complete or not), oldest first.
    pub fn checkpoints(&self, workspace_id: &str) -> Result<Vec<CheckpointRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM checkpoints WHERE workspace_id = ?1 ORDER BY n")?;
        let rows = stmt.query_map([workspace_id], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every checkpoint still `recording`, of all workspaces.
    pub fn unfinished_checkpoints(&self) -> Result<Vec<CheckpointRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM checkpoints WHERE state = 'recording'")?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes checkpoint row `n` of workspace `workspace_id`.
    pub fn delete_checkpoint(&self, workspace_id: &str, n: u32) -> Result<()> {
        self.conn().execute(
            "DELETE FROM checkpoints WHERE workspace_id = ?1 AND n = ?2",
            params![workspace_id, n],
        )?;
        Ok(())
    }
}
