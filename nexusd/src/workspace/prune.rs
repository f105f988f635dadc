//! `image.prune`: removing the images Nexus built that nothing needs any
//! more, on request and after each remove and rebuild. Only images labelled
//! `dev.nexus.build` or `dev.nexus.template` are ever looked at, and (but
//! with `all`) only those this daemon built (`dev.nexus.daemon`), so
//! daemons sharing an engine leave each other's alone; an image a
//! container uses (any container of the engine, any state) or a workspace
//! record names is never a candidate, and removal is never forced.

use super::*;
use crate::runtime::docker::{ImageSummary, LABEL_DAEMON};
use crate::workspace::image::{LABEL_BUILD, LABEL_REPOSITORY, LABEL_TEMPLATE};
use nexus_sdk::{ImagePruneResult, PruneReason, PrunedImage};
use std::collections::{BTreeMap, HashSet};

/// Images younger than this are spared by the automatic pass: another
/// daemon on the same engine may have just built (or found) one and not yet
/// made its container.
const AUTOMATIC_GRACE_SECS: i64 = 600;

/// What stays whatever else holds, and how much of the rest.
pub(crate) struct Rules<'a> {
    /// Ids of images containers use.
    pub in_use: &'a HashSet<String>,
    /// Images (tags or ids) workspace records name.
    pub named: &'a HashSet<String>,
    /// This daemon's id: without `all`, images another daemon built stay.
    pub daemon: &'a str,
    /// Images kept per repository, newest first.
    pub keep: usize,
    /// Every unused image Nexus built goes.
    pub all: bool,
    /// Images made after this (seconds since the epoch) stay.
    pub spare_after: Option<i64>,
}

/// Which images of `built` go, and why: see [`Manager::image_prune`].
/// `exists` says whether a repository directory is still there.
pub(crate) fn choose(
    built: Vec<ImageSummary>,
    rules: &Rules<'_>,
    exists: impl Fn(&str) -> bool,
) -> Vec<(ImageSummary, PruneReason)> {
    let Rules {
        in_use,
        named,
        daemon,
        keep,
        all,
        spare_after,
    } = *rules;
    let unused = built.into_iter().filter(|i| {
        (all || i.labels.get(LABEL_DAEMON).is_some_and(|d| d == daemon))
            && !i.labels.contains_key(super::checkpoint::LABEL_CHECKPOINT)
            && !in_use.contains(&i.id)
            && !named.contains(&i.id)
            && !i.tags.iter().any(|t| named.contains(t))
            && spare_after.is_none_or(|after| i.created <= after)
    });
    if all {
        return unused.map(|i| (i, PruneReason::Unused)).collect();
    }
    let mut chosen = Vec::new();
    // devcontainer.json images by repository, newest first
    let mut by_repository: BTreeMap<String, Vec<ImageSummary>> = BTreeMap::new();
    for i in unused {
        if i.labels.contains_key(LABEL_BUILD) {
            let repository = i.labels.get(LABEL_REPOSITORY).cloned().unwrap_or_default();
            by_repository.entry(repository).or_default().push(i);
        } else if i.tags.is_empty() {
            chosen.push((i, PruneReason::Replaced));
        }
    }
    for (repository, mut images) in by_repository {
        if !repository.is_empty() && !exists(&repository) {
            chosen.extend(images.into_iter().map(|i| (i, PruneReason::RepositoryGone)));
            continue;
        }
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        chosen.extend(images.into_iter().skip(keep).map(|i| (i, PruneReason::Old)));
    }
    chosen
}

impl Manager {
    /// `image.prune`: removes (or, `dry_run`, lists) the images Nexus built
    /// that no container uses and no workspace names: template images a
    /// newer build of their tag replaced, devcontainer.json images of
    /// repositories gone from disk, and those beyond the newest
    /// `keep_images` of each repository; with `all`, every such image.
    /// An image the engine will not remove (a container took it meanwhile)
    /// is left out of the answer.
    pub async fn image_prune(&self, all: bool, dry_run: bool) -> Result<ImagePruneResult> {
        self.prune(all, dry_run, None).await
    }

    /// Starts the pass after a remove or rebuild in the background, unless
    /// one runs already.
    pub fn prune_in_background(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.pruning.swap(true, Ordering::AcqRel) {
            return;
        }
        let manager = self.clone();
        tokio::spawn(async move {
            manager.prune_automatically().await;
            manager.pruning.store(false, Ordering::Release);
        });
    }

    /// The pass after a remove or rebuild: [`Manager::image_prune`] without
    /// `all`, sparing images made in the last [`AUTOMATIC_GRACE_SECS`];
    /// faults are logged.
    async fn prune_automatically(&self) {
        let spare_after = now_secs() - AUTOMATIC_GRACE_SECS;
        match self.prune(false, false, Some(spare_after)).await {
            Ok(r) if !r.images.is_empty() => tracing::info!(
                "removed {} unused images ({} MiB)",
                r.images.len(),
                r.reclaimed_bytes >> 20
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("the image pass failed: {e}"),
        }
    }

    async fn prune(&self, all: bool, dry_run: bool, spare_after: Option<i64>) -> Result<ImagePruneResult> {
        let mut built = self.runtime.images_labelled(LABEL_BUILD).await?;
        let seen: HashSet<String> = built.iter().map(|i| i.id.clone()).collect();
        built.extend(
            self.runtime
                .images_labelled(LABEL_TEMPLATE)
                .await?
                .into_iter()
                .filter(|i| !seen.contains(&i.id)),
        );
        let in_use = self.runtime.images_in_use().await?;
        let named: HashSet<String> = self.store.list()?.into_iter().map(|r| r.image).collect();
        let rules = Rules {
            in_use: &in_use,
            named: &named,
            daemon: &self.daemon_id,
            keep: self.config.keep_images,
            all,
            spare_after,
        };
        let chosen = choose(built, &rules, |path| std::path::Path::new(path).is_dir());
        let mut images = Vec::new();
        for (i, reason) in chosen {
            if !dry_run && !self.remove_image(&i).await? {
                continue;
            }
            images.push(PrunedImage {
                id: i.id,
                tags: i.tags,
                size_bytes: i.size,
                reason,
            });
        }
        Ok(ImagePruneResult {
            reclaimed_bytes: images.iter().map(|i| i.size_bytes).sum(),
            images,
            dry_run,
        })
    }

    /// Removes image `i`: tag by tag (the last one takes the image), or by
    /// id when it has none. False when the engine refused.
    async fn remove_image(&self, i: &ImageSummary) -> Result<bool> {
        if i.tags.is_empty() {
            return Ok(self.runtime.remove_image(&i.id).await?);
        }
        let mut removed = true;
        for tag in &i.tags {
            removed &= self.runtime.remove_image(tag).await?;
        }
        Ok(removed)
    }
}

/// Seconds since the Unix epoch.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn image(id: &str, tags: &[&str], labels: &[(&str, &str)], created: i64) -> ImageSummary {
        ImageSummary {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            created,
            size: 10,
        }
    }

    fn ids(chosen: &[(ImageSummary, PruneReason)]) -> Vec<(String, PruneReason)> {
        chosen.iter().map(|(i, r)| (i.id.clone(), *r)).collect()
    }

    #[test]
    fn keeps_the_newest_per_repository_and_what_is_used_or_named() {
        let b = |id: &str, repo: &str, created| {
            image(
                id,
                &[id],
                &[(LABEL_BUILD, "h"), (LABEL_REPOSITORY, repo), (LABEL_DAEMON, "me")],
                created,
            )
        };
        let built = vec![
            b("a1", "/r/a", 1),
            b("a2", "/r/a", 2),
            b("a3", "/r/a", 3),
            b("a4", "/r/a", 4),
            b("gone1", "/r/gone", 5),
            b("used", "/r/a", 0),
            b("named", "/r/a", 0),
            image("tmpl-old", &[], &[(LABEL_TEMPLATE, "default"), (LABEL_DAEMON, "me")], 1),
            image(
                "tmpl",
                &["nexus/default:bookworm"],
                &[(LABEL_TEMPLATE, "default"), (LABEL_DAEMON, "me")],
                2,
            ),
            image("theirs", &["theirs"], &[(LABEL_BUILD, "h"), (LABEL_DAEMON, "other")], 0),
            // a full checkpoint's image, with the labels of the template it was committed from
            image(
                "checkpoint",
                &["nexus/checkpoint:w-1"],
                &[
                    (LABEL_TEMPLATE, "default"),
                    (LABEL_DAEMON, "me"),
                    (crate::workspace::checkpoint::LABEL_CHECKPOINT, "1"),
                ],
                0,
            ),
        ];
        let in_use = HashSet::from(["used".to_string()]);
        let named = HashSet::from(["named".to_string()]);
        let exists = |p: &str| p != "/r/gone";
        let rules = |all, spare_after| Rules {
            in_use: &in_use,
            named: &named,
            daemon: "me",
            keep: 2,
            all,
            spare_after,
        };
        let mut chosen = ids(&choose(built.clone(), &rules(false, None), exists));
        chosen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            chosen,
            vec![
                ("a1".to_string(), PruneReason::Old),
                ("a2".to_string(), PruneReason::Old),
                ("gone1".to_string(), PruneReason::RepositoryGone),
                ("tmpl-old".to_string(), PruneReason::Replaced),
            ]
        );
        // all: every unused one, the current template and another daemon's
        // too; never the used or named, nor a checkpoint's
        let all = choose(built.clone(), &rules(true, None), exists);
        assert_eq!(all.len(), 8);
        assert!(
            all.iter()
                .all(|(i, r)| *r == PruneReason::Unused && i.id != "used" && i.id != "named")
        );
        // the automatic pass spares what is recent
        let spared = ids(&choose(built, &rules(false, Some(3)), exists));
        assert!(!spared.iter().any(|(id, _)| id == "gone1"), "{spared:?}");
    }
}
