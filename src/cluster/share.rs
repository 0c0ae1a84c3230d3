//! How a raw scan on a cluster is cut into tasks: the objects the client listed, by size, or
//! the folders it leaves the executors to list, a few to a task.

use std::collections::BTreeSet;

use object_store::path::Path;
use serde::{Deserialize, Serialize};

use datafusion::error::{DataFusionError, Result};

use super::raw::{ArchiveObjects, WireObject};
use super::table::WireScope;
use crate::archive::listing::list_folders;
use crate::archive::{ArchiveSource, Location, ObjectEntry, ObjectKind, Scope};
use crate::table::scan::balance;

/// About how many compressed bytes of log files one task of a raw scan reads (under a second
/// of decoding on one core). The session's `target_partitions` is the client's core count,
/// which says nothing of the cluster: the archive's size sets the number of tasks, so that
/// every executor of a large cluster gets some.
const TASK_BYTES: u64 = 32 << 20;

/// How many folders one task of a raw scan lists and reads, when executors list (a day folder of
/// a busy region holds a few hundred log files).
const TASK_FOLDERS: usize = 4;

/// The most tasks folders are dealt to (more folders make each task larger). Ballista plans each
/// raw-scan task as a stage of its own (see [`ArchiveObjects::plan`]); tens of thousands of
/// stages in one job were never tried, a thousand keeps a hundred task slots busy ten times.
const MAX_FOLDER_TASKS: usize = 1024;

/// How many log objects the client lists itself before it leaves the listing to executors
/// (`TRAILSCOPE_CLUSTER_CLIENT_LISTING`, default 100,000): each listed object travels in every
/// statement's plan, about 200 bytes, and listing tens of millions on one machine is the slow
/// part of a year's question.
pub fn client_listing_limit() -> usize {
    std::env::var("TRAILSCOPE_CLUSTER_CLIENT_LISTING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

impl ArchiveObjects {
    /// What `scope` can need, spread over tasks (at least `target` while there is enough):
    /// listed objects by size, else folders.
    /// Never none: an empty share stands for an empty scope (a union needs a branch).
    pub(crate) fn shares(&self, scope: &Scope, target: usize) -> Vec<Share> {
        let shares = if self.folders.is_empty() {
            self.object_shares(scope, target)
        } else {
            self.folder_shares(scope, target)
        };
        match shares.is_empty() {
            true => vec![Share::Objects(Vec::new())],
            false => shares,
        }
    }

    /// The listed objects `scope` can need, about [`TASK_BYTES`] of them to a task.
    fn object_shares(&self, scope: &Scope, target: usize) -> Vec<Share> {
        let objects: Vec<ObjectEntry> = self
            .objects
            .iter()
            .filter_map(WireObject::entry)
            .filter(|o| scope.may_contain(&o.parsed))
            .collect();
        let bytes: u64 = objects.iter().map(|o| o.size).sum();
        let tasks = target.max(bytes.div_ceil(TASK_BYTES) as usize).max(1);
        balance(objects, tasks)
            .into_iter()
            .map(|p| Share::Objects(p.iter().map(WireObject::of).collect()))
            .collect()
    }

    /// The folders, [`TASK_FOLDERS`] to a task (more past [`MAX_FOLDER_TASKS`]), each task
    /// listing its own with `scope`. Their sizes are unknown until listed; dealt round-robin,
    /// neighbouring days go to different tasks.
    fn folder_shares(&self, scope: &Scope, target: usize) -> Vec<Share> {
        let tasks = self
            .folders
            .len()
            .div_ceil(TASK_FOLDERS)
            .min(MAX_FOLDER_TASKS)
            .max(target)
            .min(self.folders.len());
        let mut shares = vec![Vec::new(); tasks];
        for (i, folder) in self.folders.iter().enumerate() {
            shares[i % tasks].push(folder.clone());
        }
        shares
            .into_iter()
            .map(|folders| {
                Share::Folders(FolderShare {
                    folders,
                    scope: WireScope::of(scope),
                    leave_out: self.leave_out.clone(),
                })
            })
            .collect()
    }
}

/// What one task of a raw scan reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Share {
    /// Objects the client listed.
    Objects(Vec<WireObject>),
    /// Folders the task lists itself.
    Folders(FolderShare),
}

impl Share {
    /// The objects to read: those listed, or those the folders hold now (what sits there but
    /// cannot be read is filed in `source`).
    pub(crate) async fn objects(
        &self,
        location: &Location,
        source: &ArchiveSource,
    ) -> Result<Vec<ObjectEntry>> {
        match self {
            Share::Objects(objects) => Ok(objects.iter().filter_map(WireObject::entry).collect()),
            Share::Folders(share) => share.list(location, source).await,
        }
    }
}

/// Folders one task lists and reads: what `scope` can need in them, but `leave_out` (objects
/// an earlier run of the statement could not read, already filed by the client).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FolderShare {
    pub folders: Vec<String>,
    pub scope: WireScope,
    pub leave_out: Vec<String>,
}

impl FolderShare {
    /// Lists the folders in `location`: the objects to read, and what sits there but cannot be
    /// read (filed in `source`, as a local listing files it).
    async fn list(&self, location: &Location, source: &ArchiveSource) -> Result<Vec<ObjectEntry>> {
        let folders = self
            .folders
            .iter()
            .map(|f| Path::parse(f).map_err(|e| DataFusionError::External(Box::new(e))))
            .collect::<Result<Vec<_>>>()?;
        let scope = self.scope.scope();
        let listing = list_folders(location, ObjectKind::Log, &scope, &folders, usize::MAX)
            .await?
            .unwrap_or_default();
        let leave_out: BTreeSet<&str> = self.leave_out.iter().map(String::as_str).collect();
        let kept = |key: &str| !leave_out.contains(key);
        let skipped: Vec<_> = listing
            .skipped
            .into_iter()
            .filter(|s| kept(&s.key))
            .collect();
        source.errors.record_skipped(&skipped);
        Ok(listing
            .objects
            .into_iter()
            .filter(|o| kept(&o.key))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::raw::{ArchiveScanExec, Excluded, StoreAddress};

    fn table(objects: Vec<WireObject>, folders: Vec<String>) -> ArchiveObjects {
        ArchiveObjects {
            archive: StoreAddress {
                location: "/nowhere".into(),
                region: None,
                retry_budget_ms: 0,
            },
            objects,
            folders,
            leave_out: Vec::new(),
            scope: WireScope::default(),
            excluded: Excluded::default(),
        }
    }

    /// The share of each scan `table` plans with `target` partitions: objects, or folders.
    fn shares(table: &ArchiveObjects, target: usize) -> Vec<Vec<String>> {
        let state = datafusion::prelude::SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new().with_target_partitions(target),
        )
        .state();
        let plan = table.plan(&state, None, false, &[], None).unwrap();
        let mut shares = Vec::new();
        let mut todo = vec![plan];
        while let Some(p) = todo.pop() {
            match p
                .downcast_ref::<ArchiveScanExec>()
                .map(|scan| scan.task().share)
            {
                Some(Share::Objects(objects)) => {
                    shares.push(objects.iter().map(|o| o.key.clone()).collect())
                }
                Some(Share::Folders(share)) => shares.push(share.folders.clone()),
                None => todo.extend(p.children().into_iter().cloned()),
            }
        }
        shares
    }

    #[test]
    fn the_archive_size_not_the_client_cores_sets_the_number_of_tasks() {
        let objects: Vec<WireObject> = (0..100)
            .map(|i| WireObject {
                key: format!(
                    "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/\
                     111122223333_CloudTrail_us-east-1_20261001T0000Z_{i:016}.json.gz"
                ),
                size: 1 << 20,
                last_modified: 0,
                e_tag: None,
            })
            .collect();
        let table = table(objects, Vec::new());
        // 100 MiB in tasks of about 32 MiB: four, whatever the client's two cores.
        let four = shares(&table, 2);
        assert_eq!(four.len(), 4, "{four:?}");
        assert_eq!(four.iter().map(Vec::len).sum::<usize>(), 100);
        assert_eq!(shares(&table, 8).len(), 8);
    }

    #[test]
    fn folders_left_to_executors_are_dealt_out_each_to_one_task() {
        let folders: Vec<String> = (1..=10)
            .map(|d| format!("AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/{d:02}"))
            .collect();
        let table = table(Vec::new(), folders.clone());
        for (target, tasks) in [(1, 3), (2, 3), (16, 10)] {
            let shares = shares(&table, target);
            assert_eq!(shares.len(), tasks, "{shares:?}");
            let mut dealt: Vec<String> = shares.concat();
            dealt.sort();
            assert_eq!(dealt, folders);
        }
        // A year by month folders of 200 accounts in 17 regions: the tasks stop growing in
        // number and grow in size.
        let many: Vec<String> = (0..40_800).map(|i| format!("f{i:05}")).collect();
        let year = self::table(Vec::new(), many);
        let shares = shares(&year, 2);
        assert_eq!(shares.len(), MAX_FOLDER_TASKS);
        assert_eq!(shares.iter().map(Vec::len).sum::<usize>(), 40_800);
        assert!(
            shares.iter().all(|s| s.len() <= 40),
            "{:?}",
            shares[0].len()
        );
    }
}
