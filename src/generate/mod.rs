//! Synthetic CloudTrail archives, realistic enough to test and benchmark the rest of trailscope.
//!
//! No public archive has what the tests need at once (signed digest chains, organization trails,
//! late and duplicate deliveries, logging stops, millions of events), so we make one. The output
//! is a directory laid out exactly like the S3 bucket CloudTrail delivers to, plus two side files
//! under `_trailscope/` for what S3 keeps outside the objects (the digest signatures, which are
//! object metadata) and for offline validation (the public key, in `list-public-keys` shape).
//!
//! The output is a pure function of [`GenerateOptions`]: each (account, region) stream runs on
//! its own seeded generator, in parallel, and nothing depends on scheduling or the clock.
//!
//! Modules, in data-flow order: [`catalog`] (who does what), [`schedule`] (when), [`records`] and
//! [`params`] (record JSON), [`delivery`] (log files), [`digest`] (signed chains), [`keys`] (the
//! bundled public test key and the signing rules), [`ids`] (identifier shapes).

mod catalog;
mod delivery;
mod digest;
mod identities;
mod ids;
mod keys;
mod params;
mod records;
mod schedule;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use serde::Serialize;

pub use identities::TRUTH_FILE as IDENTITY_CHAINS_FILE;
pub use keys::{
    SIGNATURE_ALGORITHM, digest_string_to_sign, sign_digest, test_key_fingerprint,
    test_public_key_der, test_signing_key, try_sign_digest,
};

use crate::error::{Error, Result};
use catalog::AccountProfile;
use delivery::{ObjectWriter, Rates, RegionPlan};
use ids::GenRng;
use schedule::Segment;

/// Folder (outside `AWSLogs/`) for the side files.
pub const SIDE_FOLDER: &str = "_trailscope";
/// `aws cloudtrail list-public-keys --output json` shape, for offline validation.
pub const PUBLIC_KEYS_FILE: &str = "_trailscope/public-keys.json";
/// `{"<digest key>": {"signature": hex, "algorithm": "SHA256withRSA"}}`: the S3 metadata.
pub const SIGNATURES_FILE: &str = "_trailscope/digest-signatures.json";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// First day (UTC).
    pub start: NaiveDate,
    pub days: u32,
    pub accounts: u32,
    pub regions: Vec<String>,
    /// Events per account and day, all regions together (an average: weekdays get more).
    pub events_per_day: u32,
    pub seed: u64,
    /// Write hourly signed digest files.
    pub digests: bool,
    /// The S3 bucket name written into digests.
    pub bucket: String,
    /// Logging stopped, then (maybe) restarted.
    pub stops: Vec<StopEpisode>,
    /// Plant identity-chain scenarios (role chains across accounts, federation, instance roles)
    /// and write their true origins to `_trailscope/identity-chains.json`.
    pub identity_chains: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default(),
            days: 3,
            accounts: 2,
            regions: ["us-east-1", "eu-west-1", "us-west-2"]
                .map(String::from)
                .to_vec(),
            events_per_day: 2000,
            seed: 42,
            digests: true,
            bucket: "trailscope-demo-logs".to_string(),
            stops: Vec::new(),
            identity_chains: false,
        }
    }
}

/// An account's trail stopped at `stop` (a StopLogging event) and restarted at `restart`
/// (a StartLogging event), or never restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopEpisode {
    /// Index into the generated accounts (0-based, see [`GenerateSummary::accounts`]).
    pub account_index: usize,
    pub stop: DateTime<Utc>,
    pub restart: Option<DateTime<Utc>>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Records written to log files (an event delivered twice counts twice).
    pub events: u64,
    pub log_files: u64,
    pub digest_files: u64,
    /// Account ids, in account-index order.
    pub accounts: Vec<String>,
    /// The organization of the last account (when there are at least two accounts).
    pub org_id: Option<String>,
}

/// Writes a synthetic archive under `out` (which must not already hold one).
pub fn generate(out: &Path, opts: &GenerateOptions) -> Result<GenerateSummary> {
    generate_with(out, opts, Rates::default())
}

/// Validated options, turned into what the streams need.
struct Plan {
    accounts: Vec<AccountProfile>,
    org_id: Option<String>,
    /// Per account: its logging segments.
    segments: Vec<Vec<Segment>>,
    run_start: DateTime<Utc>,
    run_end: DateTime<Utc>,
}

fn generate_with(out: &Path, opts: &GenerateOptions, rates: Rates) -> Result<GenerateSummary> {
    let plan = plan(opts)?;
    for side in ["AWSLogs", SIDE_FOLDER] {
        if out.join(side).exists() {
            return Err(Error::usage(format!(
                "{} already holds an archive ({side}/ exists); generate into an empty directory",
                out.display()
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out.display(), e))?;
    let (scripted, truth) = if opts.identity_chains {
        let day = schedule::day_start(opts.start);
        let home = &plan.accounts[0].home_region;
        let region = opts
            .regions
            .iter()
            .find(|r| *r == home)
            .unwrap_or(&opts.regions[0]);
        let (records, truth) = identities::scenarios(&plan.accounts, region, day, opts.seed);
        (records, Some(truth))
    } else {
        (Vec::new(), None)
    };

    let tasks: Vec<(usize, usize)> = (0..plan.accounts.len())
        .flat_map(|a| (0..opts.regions.len()).map(move |r| (a, r)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(tasks.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<StreamOutput>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= tasks.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let (a, r) = tasks[i];
                    let mine: Vec<identities::Scripted> = scripted
                        .iter()
                        .filter(|s| s.account_index == a && s.region == opts.regions[r])
                        .cloned()
                        .collect();
                    let result = run_stream(out, opts, &plan, a, r, rates, &mine);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut all) = results.lock() {
                        all.push((i, result));
                    }
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .map_err(|_| Error::usage("a generator thread panicked"))?;
    results.sort_by_key(|(i, _)| *i);

    let mut summary = GenerateSummary {
        events: 0,
        log_files: 0,
        digest_files: 0,
        accounts: plan.accounts.iter().map(|a| a.id.clone()).collect(),
        org_id: plan.org_id.clone(),
    };
    let mut signatures = BTreeMap::new();
    for (_, result) in results {
        let stream = result?;
        summary.events += stream.records;
        summary.log_files += stream.log_files;
        summary.digest_files += stream.digests.len() as u64;
        for d in stream.digests {
            signatures.insert(
                d.key,
                SignatureEntry {
                    signature: d.signature,
                    algorithm: SIGNATURE_ALGORITHM,
                },
            );
        }
    }
    write_side_file(
        out,
        PUBLIC_KEYS_FILE,
        &keys::public_keys_json(
            plan.run_start - Duration::days(1),
            plan.run_end + Duration::days(2),
        ),
    )?;
    write_side_file(out, SIGNATURES_FILE, &to_pretty_json(&signatures))?;
    if let Some(truth) = truth {
        write_side_file(out, identities::TRUTH_FILE, &to_pretty_json(&truth))?;
    }
    Ok(summary)
}

#[derive(Serialize)]
struct SignatureEntry {
    signature: String,
    algorithm: &'static str,
}

struct StreamOutput {
    records: u64,
    log_files: u64,
    digests: Vec<digest::SignedDigest>,
}

/// One (account, region) stream: its events, log files and digest chain.
fn run_stream(
    out: &Path,
    opts: &GenerateOptions,
    plan: &Plan,
    account_index: usize,
    region_index: usize,
    rates: Rates,
    scripted: &[identities::Scripted],
) -> Result<StreamOutput> {
    let account = &plan.accounts[account_index];
    let region = opts.regions[region_index].as_str();
    // Seeded by account index and region *name*, so a stream does not change when other
    // regions are added to the list.
    let mut rng = GenRng::seed_from_u64(ids::mix_seed(
        ids::mix_seed(opts.seed, 1 + account_index as u64),
        ids::stable_hash(region),
    ));
    let phase_secs = rng.gen_range(1..=3600);
    let region_weight = |r: &str| if r == account.home_region { 2.0 } else { 1.0 };
    let share = region_weight(region) / opts.regions.iter().map(|r| region_weight(r)).sum::<f64>();
    let total = f64::from(opts.events_per_day) * f64::from(opts.days) * share;
    let segments = &plan.segments[account_index];
    let mut writer = ObjectWriter::new(out);
    let region_plan = RegionPlan {
        account,
        region,
        bucket: &opts.bucket,
        start: opts.start,
        day_counts: schedule::day_counts(opts.start, opts.days, total),
        segments,
        rates,
        scripted,
    };
    let files = delivery::deliver(&region_plan, &mut writer, &mut rng)?;
    let digests = if opts.digests {
        let chain = digest::ChainPlan {
            account,
            region,
            bucket: &opts.bucket,
            segments,
            run_end: plan.run_end,
            phase_secs,
        };
        let fingerprint = test_key_fingerprint();
        digest::write_chain(
            &chain,
            &files,
            keys_ref(),
            &fingerprint,
            &mut writer,
            &mut rng,
        )?
    } else {
        Vec::new()
    };
    Ok(StreamOutput {
        records: files.iter().map(|f| f.records).sum(),
        log_files: files.len() as u64,
        digests,
    })
}

fn keys_ref() -> &'static rsa::RsaPrivateKey {
    static KEY: std::sync::OnceLock<rsa::RsaPrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(test_signing_key)
}

fn write_side_file(out: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = out.join(name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    }
    std::fs::write(&path, bytes).map_err(|e| Error::io(path.display(), e))
}

/// Pretty JSON with the AWS CLI's four-space indent.
fn to_pretty_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serialising maps of strings into memory cannot fail.
    let _ = value.serialize(&mut ser);
    buf.push(b'\n');
    buf
}

const MAX_ACCOUNTS: u32 = 1000;
const MAX_REGIONS: usize = 40;
const MAX_DAYS: u32 = 3660;
const MAX_EVENTS_PER_DAY: u32 = 50_000_000;
/// A stop shorter than this would make the last digest before it overlap the first after it.
const MIN_STOP: Duration = Duration::minutes(2);

fn plan(opts: &GenerateOptions) -> Result<Plan> {
    let usage = |m: String| Err(Error::usage(m));
    if opts.days == 0 || opts.days > MAX_DAYS {
        return usage(format!(
            "days must be between 1 and {MAX_DAYS}, not {}",
            opts.days
        ));
    }
    if opts.accounts == 0 || opts.accounts > MAX_ACCOUNTS {
        return usage(format!(
            "accounts must be between 1 and {MAX_ACCOUNTS}, not {}",
            opts.accounts
        ));
    }
    if opts.events_per_day > MAX_EVENTS_PER_DAY {
        return usage(format!(
            "events per day must be at most {MAX_EVENTS_PER_DAY}"
        ));
    }
    if opts.regions.is_empty() || opts.regions.len() > MAX_REGIONS {
        return usage(format!("give between 1 and {MAX_REGIONS} regions"));
    }
    let mut seen = HashSet::new();
    for r in &opts.regions {
        let valid = r.len() <= 30
            && r.split('-').count() >= 3
            && r.split('-').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !valid {
            return usage(format!(
                "region {r:?} does not look like an AWS region (e.g. eu-west-1)"
            ));
        }
        if !seen.insert(r.as_str()) {
            return usage(format!("region {r} is given twice"));
        }
    }
    let b = opts.bucket.as_str();
    let bucket_ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return usage(format!(
            "{b:?} is not a valid S3 bucket name (3-63 lower-case letters, digits, '.', '-')"
        ));
    }
    if !(1970..=9000).contains(&chrono::Datelike::year(&opts.start)) {
        return usage(format!(
            "start date {} must be between 1970 and 9000",
            opts.start
        ));
    }
    let run_start = schedule::day_start(opts.start);
    let run_end = opts
        .start
        .checked_add_days(chrono::Days::new(u64::from(opts.days)))
        .map(schedule::day_start)
        .ok_or_else(|| Error::usage("start date plus days is out of range"))?;

    // Stop episodes, per account, sorted and checked for overlaps.
    let mut episodes: Vec<Vec<schedule::Episode>> = vec![Vec::new(); opts.accounts as usize];
    let whole = |t: DateTime<Utc>| {
        schedule::truncate_minute(t) + Duration::seconds(i64::from(chrono::Timelike::second(&t)))
    };
    for e in &opts.stops {
        let Some(list) = episodes.get_mut(e.account_index) else {
            return usage(format!(
                "stop episode for account index {} but only {} accounts",
                e.account_index, opts.accounts
            ));
        };
        let stop = whole(e.stop);
        if stop < run_start || stop >= run_end {
            return usage(format!(
                "logging stop at {stop} is outside the generated days ({run_start} .. {run_end})"
            ));
        }
        let restart = e.restart.map(whole);
        if let Some(r) = restart
            && r - stop < MIN_STOP
        {
            return usage(format!(
                "restart at {r} must come at least 2 minutes after the stop at {stop}"
            ));
        }
        list.push((stop, restart));
    }
    for list in &mut episodes {
        list.sort();
        for pair in list.windows(2) {
            match pair[0].1 {
                Some(r) if pair[1].0 > r => {}
                _ => {
                    return usage(format!(
                        "logging stop episodes overlap (stop at {})",
                        pair[1].0
                    ));
                }
            }
        }
    }

    let home_region = if opts.regions.iter().any(|r| r == "us-east-1") {
        "us-east-1"
    } else {
        opts.regions[0].as_str()
    };
    let mut rng = GenRng::seed_from_u64(ids::mix_seed(opts.seed, 0));
    let mut ids_seen = HashSet::new();
    let mut fresh_account = |rng: &mut GenRng| loop {
        let id = ids::account_id(rng);
        if ids_seen.insert(id.clone()) {
            break id;
        }
    };
    let account_ids: Vec<String> = (0..opts.accounts)
        .map(|_| fresh_account(&mut rng))
        .collect();
    let org = (opts.accounts >= 2).then(|| (ids::org_id(&mut rng), fresh_account(&mut rng)));
    let accounts = account_ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let member = i + 1 == opts.accounts as usize;
            let (org_id, management) = match &org {
                Some((o, m)) if member => (Some(o.clone()), Some(m.as_str())),
                _ => (None, None),
            };
            let mut account_rng =
                GenRng::seed_from_u64(ids::mix_seed(opts.seed, 0x1000 + i as u64));
            catalog::account_profile(id, org_id, management, home_region, &mut account_rng)
        })
        .collect();
    let segments = episodes
        .iter()
        .map(|list| schedule::segments(run_start, run_end, list))
        .collect();
    Ok(Plan {
        accounts,
        org_id: org.map(|(o, _)| o),
        segments,
        run_start,
        run_end,
    })
}
