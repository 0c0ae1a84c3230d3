//! Listing only the prefixes a query can touch.
//!
//! Listing is what makes naive tools slow on real buckets (millions of small objects), so the
//! walk descends the layout level by level: roots (`AWSLogs/`), accounts, regions, and then only the
//! day (or month) folders that a time range can reach, listed concurrently. Date folders are the
//! **delivery** date, so the upper bound is widened by a late-delivery margin; rows are filtered
//! on `eventtime` exactly afterwards.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;

use super::folder_days::FolderDays;
use super::layout::{ObjectKind, ParsedKey, has_log_extension, is_account_id, parse_key};
use super::location::Location;
use super::{raw_listing, walk};
use crate::error::Result;

/// Per key, the later of two days (a key in one map only keeps its day).
fn later_days<K: Ord + Clone>(
    a: &BTreeMap<K, NaiveDate>,
    b: &BTreeMap<K, NaiveDate>,
) -> BTreeMap<K, NaiveDate> {
    let mut out = a.clone();
    for (k, d) in b {
        let e = out.entry(k.clone()).or_insert(*d);
        *e = (*e).max(*d);
    }
    out
}

/// How many list requests run at once.
const LIST_CONCURRENCY: usize = 32;
/// Above this many days a range is listed by month folders instead of day folders.
const MAX_DAY_FOLDERS: i64 = 62;
/// How deep below the given location to look for `AWSLogs/` (e.g. Control Tower's `o-xxx/AWSLogs/`).
const MAX_DISCOVERY_DEPTH: usize = 2;

/// What part of the archive a scan needs. Empty sets and `None` bounds mean "everything".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Inclusive lower bound on event time.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on event time.
    pub to: Option<DateTime<Utc>>,
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    /// How late a file may be delivered after its newest event (widens the folders listed).
    pub late_margin: Duration,
    /// Per (account, region): only objects delivered on or after this day. A lake lists just
    /// what can have arrived since its last whole conversion.
    pub delivered_from: BTreeMap<(String, String), NaiveDate>,
    /// Exact restrictions on the delivery-date folders (Athena's partition columns).
    pub folder_days: FolderDays,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            from: None,
            to: None,
            accounts: BTreeSet::new(),
            regions: BTreeSet::new(),
            late_margin: Duration::hours(24),
            delivered_from: BTreeMap::new(),
            folder_days: FolderDays::default(),
        }
    }
}

/// Event clocks and delivery stamps are not perfectly ordered; a file stamped a little before an
/// event's time can still hold it.
const CLOCK_SKEW: Duration = Duration::hours(1);

impl Scope {
    /// The smaller of two scopes: both restrictions hold.
    pub fn intersect(&self, other: &Scope) -> Scope {
        let later = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let earlier = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let both = |a: &BTreeSet<String>, b: &BTreeSet<String>| match (a.is_empty(), b.is_empty()) {
            (true, _) => b.clone(),
            (_, true) => a.clone(),
            // Disjoint sets give an empty intersection, which must mean "nothing", not "all":
            // keep an impossible marker.
            _ => {
                let i: BTreeSet<String> = a.intersection(b).cloned().collect();
                if i.is_empty() {
                    BTreeSet::from([String::new()])
                } else {
                    i
                }
            }
        };
        Scope {
            from: later(self.from, other.from),
            to: earlier(self.to, other.to),
            accounts: both(&self.accounts, &other.accounts),
            regions: both(&self.regions, &other.regions),
            late_margin: self.late_margin.max(other.late_margin),
            delivered_from: later_days(&self.delivered_from, &other.delivered_from),
            folder_days: self.folder_days.intersect(&other.folder_days),
        }
    }

    fn wants_account(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.contains(account)
    }

    fn wants_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.contains(region)
    }

    /// Delivery dates whose folders can hold events in range (`None` = unbounded side).
    fn delivery_dates(
        &self,
        account: &str,
        region: &str,
    ) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let since = self
            .delivered_from
            .get(&(account.to_string(), region.to_string()))
            .copied();
        let (folders_first, folders_last) = self.folder_days.hull();
        let first = self.from.map(|t| (t - CLOCK_SKEW).date_naive()).max(since);
        let last = self.to.map(|t| (t + self.late_margin).date_naive());
        (
            first.max(folders_first),
            match (last, folders_last) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        )
    }

    /// Whether an object with this key can hold events in range.
    pub fn may_contain(&self, key: &ParsedKey) -> bool {
        if !self.wants_account(&key.account_id) || !self.wants_region(&key.region) {
            return false;
        }
        let (first, last) = self.delivery_dates(&key.account_id, &key.region);
        if first.is_some_and(|d| key.date < d)
            || last.is_some_and(|d| key.date > d)
            || !self.folder_days.allows(key.date)
        {
            return false;
        }
        match key.stamp {
            // A file holds events from before its stamp, up to `late_margin` before.
            Some(stamp) => {
                !(self.from.is_some_and(|f| stamp < f - CLOCK_SKEW)
                    || self.to.is_some_and(|t| stamp > t + self.late_margin))
            }
            None => true,
        }
    }
}

/// One CloudTrail object found by listing.
#[derive(Debug, Clone)]
pub struct ObjectEntry {
    /// The key relative to the store root (the S3 key, or the path under the local directory).
    pub key: String,
    pub parsed: ParsedKey,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub e_tag: Option<String>,
}

/// An object that sits where ours live but cannot be one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub key: String,
    pub reason: String,
}

/// The result of a listing: objects in key order, objects skipped with their reasons, and how
/// many list requests it took (the cost users pay on S3).
#[derive(Debug, Default, Clone)]
pub struct Listing {
    pub objects: Vec<ObjectEntry>,
    pub skipped: Vec<Skipped>,
    pub list_requests: usize,
}

/// Lists the objects of `kind` that `scope` can need.
pub async fn list_objects(location: &Location, kind: ObjectKind, scope: &Scope) -> Result<Listing> {
    let (folders, requests) = folders_to_list(location, kind, scope).await?;
    let mut listing = list_folders(location, kind, scope, &folders, usize::MAX)
        .await?
        .unwrap_or_default();
    listing.list_requests += requests;
    Ok(listing)
}

/// The folders whose listings hold every object of `kind` in `scope` (day, month or region
/// folders, as the scope's dates allow), and how many list requests finding them took.
pub async fn folders_to_list(
    location: &Location,
    kind: ObjectKind,
    scope: &Scope,
) -> Result<(Vec<Path>, usize)> {
    let lister = Lister::new(location);
    let folders = lister.folders_to_list(&location.root, kind, scope).await?;
    Ok((folders, lister.requests.load(Ordering::Relaxed)))
}

/// The objects of `kind` in `scope` that `folders` hold (from [`folders_to_list`], perhaps on
/// another machine), and what sits there but cannot be one; `None` as soon as more than
/// `limit` objects turn up (what was listed is dropped).
pub async fn list_folders(
    location: &Location,
    kind: ObjectKind,
    scope: &Scope,
    folders: &[Path],
    limit: usize,
) -> Result<Option<Listing>> {
    let lister = Lister::new(location);
    let found = AtomicUsize::new(0);
    let listed: Vec<Arc<Listed>> = stream::iter(folders.iter().cloned())
        .map(|folder| lister.list_all(folder))
        .buffer_unordered(LIST_CONCURRENCY)
        .map_ok(|listed| {
            found.fetch_add(listed.objects.len(), Ordering::Relaxed);
            listed
        })
        .take_while(|_| futures::future::ready(found.load(Ordering::Relaxed) <= limit))
        .try_collect()
        .await?;
    if found.load(Ordering::Relaxed) > limit {
        return Ok(None);
    }
    let mut listing = Listing::default();
    let in_folder = |key: &str, kind: ObjectKind| key.contains(&format!("/{}/", kind.folder()));
    for (key, reason) in listed.iter().flat_map(|l| l.odd.iter()) {
        // A walk of a root inside the layout meets every kind's folders: each listing names its
        // own, and what sits in none of them.
        let kinds = [ObjectKind::Log, ObjectKind::Digest, ObjectKind::Insight];
        if in_folder(key, kind) || !kinds.iter().any(|&k| in_folder(key, k)) {
            listing.skipped.push(Skipped {
                key: key.clone(),
                reason: reason.clone(),
            });
        }
    }
    for meta in listed.iter().flat_map(|l| l.objects.iter()) {
        let key = meta.location.to_string();
        match parse_key(&key) {
            Some(parsed) if parsed.kind == kind => {
                if !scope.may_contain(&parsed) {
                    continue;
                }
                if !has_log_extension(&parsed.file_name) {
                    listing.skipped.push(Skipped {
                        key,
                        reason: "not named like a CloudTrail file (expected .json.gz)".into(),
                    });
                    continue;
                }
                listing.objects.push(ObjectEntry {
                    key,
                    parsed,
                    size: meta.size,
                    last_modified: meta.last_modified,
                    e_tag: meta.e_tag.clone(),
                });
            }
            Some(_) => {}
            // Folder markers are S3 console artefacts, not evidence.
            None if meta.size == 0 && key.ends_with('/') => {}
            None if key.contains(&format!("/{}/", kind.folder())) => {
                listing.skipped.push(Skipped {
                    key,
                    reason: format!("unexpected key layout inside a {} folder", kind.folder()),
                })
            }
            None => {}
        }
    }
    listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
    listing.skipped.sort_by(|a, b| a.key.cmp(&b.key));
    listing.list_requests = lister.requests.load(Ordering::Relaxed);
    Ok(Some(listing))
}

/// Folder listings kept for reuse (see [`Location::remembering_listings`]): each folder is
/// listed once, the first time a step asks for it.
#[derive(Default)]
pub struct ListingMemo {
    folders: std::sync::Mutex<HashMap<Path, Arc<tokio::sync::OnceCell<Arc<Listed>>>>>,
}

impl std::fmt::Debug for ListingMemo {
    /// The number of folders, not tens of thousands of objects in a message about a location.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let folders = self.folders.lock().map_or(0, |m| m.len());
        write!(f, "ListingMemo {{ folders: {folders} }}")
    }
}

/// One folder's listing: objects, and entries that cannot be objects (key, reason).
#[derive(Default)]
struct Listed {
    objects: Vec<object_store::ObjectMeta>,
    odd: Vec<(String, String)>,
}

struct Lister<'a> {
    location: &'a Location,
    requests: AtomicUsize,
}

impl<'a> Lister<'a> {
    fn new(location: &'a Location) -> Self {
        Lister {
            location,
            requests: AtomicUsize::default(),
        }
    }

    /// A listing that failed for good, naming the archive and the prefix.
    fn failed(&self, prefix: &Path, e: impl std::fmt::Display) -> crate::Error {
        crate::Error::Archive {
            location: self.location.display.clone(),
            reason: format!("listing the prefix '{prefix}' failed: {e}"),
        }
    }

    async fn children(&self, prefix: &Path) -> Result<Vec<Path>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(dir) = &self.location.local_dir {
            let (dir, folder) = (dir.clone(), prefix.clone());
            return tokio::task::spawn_blocking(move || walk::subfolders(&dir, &folder))
                .await
                .map_err(|e| self.failed(prefix, e))?
                .map_err(|e| self.failed(prefix, e));
        }
        let store = &self.location.store;
        let at = (!prefix.as_ref().is_empty()).then_some(prefix);
        self.location
            .retry
            .run(|| store.list_with_delimiter(at))
            .await
            .map(|listed| listed.common_prefixes)
            .map_err(|e| self.failed(prefix, e))
    }

    /// Everything under `prefix`, from the location's memo when it keeps one.
    async fn list_all(&self, prefix: Path) -> Result<Arc<Listed>> {
        let Some(memo) = &self.location.listings else {
            return self.list_all_now(prefix).await.map(Arc::new);
        };
        let cell = {
            let mut folders = memo.folders.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(folders.entry(prefix.clone()).or_default())
        };
        // Two steps asking for one folder at once wait for one listing; a failed one is not kept.
        cell.get_or_try_init(|| async { self.list_all_now(prefix).await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn list_all_now(&self, prefix: Path) -> Result<Listed> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(dir) = &self.location.local_dir {
            let (dir, folder) = (dir.clone(), prefix.clone());
            let walked = tokio::task::spawn_blocking(move || walk::walk(&dir, &folder))
                .await
                .map_err(|e| self.failed(&prefix, e))?;
            return Ok(Listed {
                objects: walked.objects,
                odd: walked.odd,
            });
        }
        let store = &self.location.store;
        let at = (!prefix.as_ref().is_empty()).then_some(&prefix);
        // A listing that breaks off (a dropped connection, a truncated page) starts again whole.
        let listed = self
            .location
            .retry
            .run(|| store.list(at).try_collect::<Vec<_>>())
            .await;
        match (listed, &self.location.s3) {
            (Ok(objects), _) => Ok(Listed {
                objects,
                odd: Vec::new(),
            }),
            // A key that cannot be a path fails its whole page: list again with raw keys.
            (Err(e), Some(s3)) if matches!(e.error, object_store::Error::InvalidPath { .. }) => {
                let raw_prefix = if prefix.as_ref().is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                };
                let (objects, odd) = raw_listing::list_raw(s3, &raw_prefix).await?;
                Ok(Listed { objects, odd })
            }
            (Err(e), _) => Err(self.failed(&prefix, e)),
        }
    }

    /// The folders whose full listings hold every object of `kind` in `scope`.
    async fn folders_to_list(
        &self,
        root: &Path,
        kind: ObjectKind,
        scope: &Scope,
    ) -> Result<Vec<Path>> {
        // A location that already points inside the layout is listed whole: the user chose it.
        if root.parts().any(|p| p.as_ref() == "AWSLogs") {
            return Ok(vec![root.clone()]);
        }
        let mut accounts = Vec::new();
        for logs_root in self.find_awslogs(root).await? {
            for child in self.children(&logs_root).await? {
                let name = last_part(&child);
                if name.starts_with("o-") {
                    accounts.extend(self.children(&child).await?);
                } else {
                    accounts.push(child);
                }
            }
        }
        accounts.retain(|a| {
            let name = last_part(a);
            is_account_id(&name) && scope.wants_account(&name)
        });
        let region_lists: Vec<Vec<(String, Path)>> = stream::iter(accounts)
            .map(|account| async move {
                let name = last_part(&account);
                let regions = self.children(&account.join(kind.folder())).await?;
                Ok::<_, crate::Error>(regions.into_iter().map(|r| (name.clone(), r)).collect())
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        let regions: Vec<(String, Path)> = region_lists
            .into_iter()
            .flatten()
            .filter(|(_, region)| scope.wants_region(&last_part(region)))
            .collect();
        let per_region: Vec<Vec<Path>> = stream::iter(regions)
            .map(|(account, region)| async move {
                match scope.delivery_dates(&account, &last_part(&region)) {
                    // Only a lower bound: walk down the date folders from it (no clock is
                    // trusted for an upper one).
                    (Some(first), None) => self.folders_since(region, first).await,
                    (first, last) => Ok(date_folders(&region, first, last, &scope.folder_days)),
                }
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(per_region.into_iter().flatten().collect())
    }

    /// The folders under a region folder that hold every delivery from `first` on: later
    /// years and months whole, the first year and month split down to day folders. A folder
    /// that is not a date is kept whole, so whatever sits there is still reported.
    async fn folders_since(&self, region: Path, first: NaiveDate) -> Result<Vec<Path>> {
        let mut out = Vec::new();
        let mut level = vec![(region, 0usize)];
        let firsts = [first.year() as u32, first.month(), first.day()];
        while let Some((folder, depth)) = level.pop() {
            for child in self.children(&folder).await? {
                let Ok(n) = last_part(&child).parse::<u32>() else {
                    out.push(child);
                    continue;
                };
                match n.cmp(&firsts[depth]) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Greater => out.push(child),
                    std::cmp::Ordering::Equal if depth == 2 => out.push(child),
                    std::cmp::Ordering::Equal => level.push((child, depth + 1)),
                }
            }
        }
        Ok(out)
    }

    /// `AWSLogs/` folders at or below `root`, breadth first and bounded in depth.
    async fn find_awslogs(&self, root: &Path) -> Result<Vec<Path>> {
        let mut level = vec![root.clone()];
        for _ in 0..=MAX_DISCOVERY_DEPTH {
            let mut found = Vec::new();
            let mut next = Vec::new();
            for prefix in &level {
                for child in self.children(prefix).await? {
                    if last_part(&child) == "AWSLogs" {
                        found.push(child);
                    } else {
                        next.push(child);
                    }
                }
            }
            if !found.is_empty() {
                return Ok(found);
            }
            level = next;
        }
        Ok(Vec::new())
    }
}

fn last_part(path: &Path) -> String {
    path.parts()
        .next_back()
        .map(|p| p.as_ref().to_string())
        .unwrap_or_default()
}

/// The date folders under a region folder that can hold objects in scope: the region folder
/// itself when the range is open, else the day folders `wanted` allows, or month folders for
/// long ranges.
fn date_folders(
    region: &Path,
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
    wanted: &FolderDays,
) -> Vec<Path> {
    let (Some(first), Some(last)) = (first, last) else {
        // Open ranges list the whole region; `may_contain` filters keys by date.
        return vec![region.clone()];
    };
    if last < first {
        return Vec::new();
    }
    let folder = |parts: &[String]| {
        parts
            .iter()
            .fold(region.clone(), |p, part| p.join(part.as_str()))
    };
    if (last - first).num_days() < MAX_DAY_FOLDERS {
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| wanted.allows(*d))
            .map(|d| {
                folder(&[
                    format!("{:04}", d.year()),
                    format!("{:02}", d.month()),
                    format!("{:02}", d.day()),
                ])
            })
            .collect()
    } else {
        let mut months = Vec::new();
        let mut d = first.with_day(1).unwrap_or(first);
        while d <= last {
            months.push(folder(&[
                format!("{:04}", d.year()),
                format!("{:02}", d.month()),
            ]));
            d = d
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(NaiveDate::MAX);
        }
        months
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn day_folders_cover_range_plus_late_margin() {
        let scope = Scope {
            from: Some(at("2024-03-10T00:00:00Z")),
            to: Some(at("2024-03-11T00:00:00Z")),
            ..Scope::default()
        };
        let (first, last) = scope.delivery_dates("1", "r");
        let folders: Vec<String> = date_folders(
            &Path::from("AWSLogs/1/CloudTrail/r"),
            first,
            last,
            &FolderDays::default(),
        )
        .iter()
        .map(|p| p.to_string())
        .collect();
        // One hour of clock skew reaches back into the 9th; a day of margin reaches the 12th.
        assert_eq!(
            folders,
            [
                "AWSLogs/1/CloudTrail/r/2024/03/09",
                "AWSLogs/1/CloudTrail/r/2024/03/10",
                "AWSLogs/1/CloudTrail/r/2024/03/11",
                "AWSLogs/1/CloudTrail/r/2024/03/12"
            ]
        );
    }

    #[test]
    fn long_ranges_list_month_folders() {
        let scope = Scope {
            from: Some(at("2024-01-15T00:00:00Z")),
            to: Some(at("2024-05-02T00:00:00Z")),
            ..Scope::default()
        };
        let (first, last) = scope.delivery_dates("1", "r");
        let folders = date_folders(&Path::from("r"), first, last, &FolderDays::default());
        assert_eq!(folders.first().unwrap().to_string(), "r/2024/01");
        assert_eq!(folders.last().unwrap().to_string(), "r/2024/05");
        assert_eq!(folders.len(), 5);
    }

    #[test]
    fn stamps_prune_files_outside_range() {
        let scope = Scope {
            from: Some(at("2024-03-10T12:00:00Z")),
            to: Some(at("2024-03-10T13:00:00Z")),
            late_margin: Duration::hours(2),
            ..Scope::default()
        };
        let key = |stamp: &str| {
            parse_key(&format!(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/10/111122223333_CloudTrail_us-east-1_{stamp}_abc.json.gz"
            ))
            .unwrap()
        };
        assert!(!scope.may_contain(&key("20240310T1000Z")));
        assert!(scope.may_contain(&key("20240310T1130Z")));
        assert!(scope.may_contain(&key("20240310T1445Z")));
        assert!(!scope.may_contain(&key("20240310T1530Z")));
    }

    #[test]
    fn intersecting_disjoint_accounts_selects_nothing() {
        let a = Scope {
            accounts: BTreeSet::from(["1".to_string()]),
            ..Scope::default()
        };
        let b = Scope {
            accounts: BTreeSet::from(["2".to_string()]),
            ..Scope::default()
        };
        assert!(!a.intersect(&b).wants_account("1"));
        assert!(!a.intersect(&b).wants_account("2"));
        assert!(a.intersect(&Scope::default()).wants_account("1"));
    }

    /// A location remembering its listings lists each folder once: a file delivered after the
    /// first listing is not seen by its later ones (one state of the archive for a whole run),
    /// while a location that does not remember lists it again and sees it.
    #[tokio::test]
    async fn remembered_listings_list_each_folder_once() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir
            .path()
            .join("AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01");
        std::fs::create_dir_all(&folder).unwrap();
        let deliver = |n: usize| {
            let name = format!("123456789012_CloudTrail_us-east-1_20240301T00{n:02}Z_x.json.gz");
            std::fs::write(folder.join(name), b"not read here").unwrap();
        };
        deliver(1);
        deliver(2);
        let plain = Location::open(
            dir.path().to_str().unwrap(),
            &crate::archive::S3Options::default(),
        )
        .await
        .unwrap();
        let remembering = plain.remembering_listings();
        let scope = Scope::default();

        let first = list_objects(&remembering, ObjectKind::Log, &scope)
            .await
            .unwrap();
        assert_eq!(first.objects.len(), 2);
        deliver(3);
        let again = list_objects(&remembering.clone(), ObjectKind::Log, &scope)
            .await
            .unwrap();
        let keys = |l: &Listing| l.objects.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&again), keys(&first));
        // Only the folders' discovery was asked again, none of their listings.
        assert!(again.list_requests < first.list_requests);
        let fresh = list_objects(&plain, ObjectKind::Log, &scope).await.unwrap();
        assert_eq!(fresh.objects.len(), 3);
    }
}
