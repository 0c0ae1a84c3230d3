//! What a `convert` run does before it writes and after its last commit: the plan (the lake as
//! last committed, its orphans removed, the archive listed, what is still missing) and the
//! checkpoint a whole-archive run leaves.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;

use super::Lake;
use super::convert::{ConvertSummary, Step, commit, remove_orphans};
use super::manifest::{
    self, Checkpoint, HeldObject, LakeSnapshot, ListingMark, NewestFolder, SkippedRecord,
};
use crate::archive::layout::parse_key;
use crate::archive::{ArchiveSource, ObjectEntry, ObjectKind, Skipped, list_objects};
use crate::error::Result;

/// What a run converts, decided before it writes anything: the lake as last committed (its
/// orphans removed), the archive's listing in scope, and the objects still to convert.
pub(crate) struct Plan {
    pub(crate) snapshot: LakeSnapshot,
    pub(crate) summary: ConvertSummary,
    pub(crate) todo: Vec<ObjectEntry>,
    listing_started: chrono::DateTime<chrono::Utc>,
    newest: BTreeMap<(String, String), NaiveDate>,
    skipped: Vec<Skipped>,
}

impl Plan {
    pub(crate) async fn make(source: &ArchiveSource, lake: &Lake) -> Result<Plan> {
        let snapshot = manifest::load(lake).await?;
        let mut summary = ConvertSummary {
            version_before: snapshot.version,
            version: snapshot.version,
            orphans_removed: remove_orphans(&snapshot).await?,
            ..ConvertSummary::default()
        };
        let listing_started = chrono::Utc::now();
        let listing = list_objects(&source.location, ObjectKind::Log, &source.scope).await?;
        source.report_skipped(&listing.skipped)?;
        summary.objects_in_scope = listing.objects.len();
        let mut newest: BTreeMap<(String, String), NaiveDate> = BTreeMap::new();
        for o in &listing.objects {
            let day = newest
                .entry((o.parsed.account_id.clone(), o.parsed.region.clone()))
                .or_insert(o.parsed.date);
            *day = (*day).max(o.parsed.date);
        }
        let mut todo = Vec::new();
        for o in listing.objects {
            match snapshot.sources.get(&o.key) {
                Some(s) if s.size == o.size => summary.objects_already += 1,
                Some(_) => summary.changed.push(o.key),
                None => todo.push(o),
            }
        }
        Ok(Plan {
            snapshot,
            summary,
            todo,
            listing_started,
            newest,
            skipped: listing.skipped,
        })
    }

    /// After the run's commits: a run over the whole archive leaves a checkpoint of what it
    /// listed and could not convert (`unreadable`), unless nothing changed.
    pub(crate) async fn finish(
        mut self,
        source: &ArchiveSource,
        lake: &Lake,
        run: &str,
        mut unreadable: Vec<String>,
    ) -> Result<ConvertSummary> {
        let scope = &source.scope;
        let whole_archive = scope.from.is_none()
            && scope.to.is_none()
            && scope.accounts.is_empty()
            && scope.regions.is_empty();
        if !whole_archive {
            return Ok(self.summary);
        }
        unreadable.extend(self.summary.changed.iter().cloned());
        let mark = listing_mark(
            &self.snapshot,
            self.listing_started,
            self.newest,
            unreadable,
            &self.skipped,
        );
        // A run that found nothing new and nothing different writes nothing.
        let same = |c: &Checkpoint| *c == Checkpoint::from(mark.clone());
        if self.summary.commits > 0 || !self.snapshot.checkpoint.as_ref().is_some_and(same) {
            let mut commit = commit(&self.snapshot, run, Step::default());
            commit.listing = Some(mark);
            manifest::publish(lake, &commit).await?;
            self.summary.version = commit.version;
            self.snapshot.applied(commit);
        }
        Ok(self.summary)
    }
}

/// The checkpoint a whole-archive run leaves: what it listed, and what it could not convert.
fn listing_mark(
    snapshot: &LakeSnapshot,
    started: chrono::DateTime<chrono::Utc>,
    newest: BTreeMap<(String, String), NaiveDate>,
    mut read_raw: Vec<String>,
    skipped: &[Skipped],
) -> ListingMark {
    read_raw.sort();
    let mut mark = ListingMark {
        started_at: started.to_rfc3339(),
        newest_folders: newest
            .into_iter()
            .map(|((account_id, region), date)| NewestFolder {
                account_id,
                region,
                date,
            })
            .collect(),
        read_raw,
        skipped: skipped
            .iter()
            .map(|s| SkippedRecord {
                key: s.key.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        recent: Vec::new(),
        files: Some(snapshot.files.clone()),
    };
    let since = mark.since();
    let listed_later = |key: &str| {
        parse_key(key).is_some_and(|k| {
            since
                .get(&(k.account_id, k.region))
                .is_some_and(|first| k.date >= *first)
        })
    };
    // Objects read raw that the lake still holds (changed since converted) are listed too: a
    // query must know to leave their converted rows out.
    let read_raw: HashSet<&str> = mark.read_raw.iter().map(String::as_str).collect();
    mark.recent = snapshot
        .sources
        .values()
        .filter(|s| listed_later(&s.key) || read_raw.contains(s.key.as_str()))
        .map(|s| HeldObject {
            key: s.key.clone(),
            size: s.size,
        })
        .collect();
    mark.recent.sort_by(|a, b| a.key.cmp(&b.key));
    mark
}
