//! From events to log files: CloudTrail's delivery behaviour for one account and region.
//!
//! CloudTrail batches events about every 5 minutes and delivers a file (sometimes two, from
//! different delivery hosts) 1-10 minutes after the window closes, named and foldered by the
//! **delivery** time. A few events arrive hours late in their own file, flagged with
//! `addendum.reason = DELIVERY_DELAY`, and very rarely an event is delivered twice. A reader that
//! prunes by date folder or de-duplicates silently gets these wrong, so the generator makes them.
//!
//! Events are produced day by day and files are written window by window: memory holds one day's
//! event times and one window's records, whatever the length of the run.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::catalog::{self, AccountProfile, RegionalResources};
use super::ids::{self, GenRng};
use super::records::{self, Ctx};
use super::schedule::{self, Segment};
use crate::archive::layout::log_file_key;
use crate::error::{Error, Result};

/// Length of a delivery window.
const WINDOW_SECS: i64 = 300;

/// Rates of the delivery irregularities (tests raise them to see the effects in small runs).
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Fraction of events delivered 2-8 hours late in their own file.
    pub late: f64,
    /// Fraction of events delivered twice.
    pub duplicate: f64,
    /// Fraction of windows delivered as two files.
    pub split: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            late: 0.005,
            duplicate: 1.0 / 20_000.0,
            split: 0.08,
        }
    }
}

/// What a digest needs to know about a delivered log file.
#[derive(Debug, Clone)]
pub struct LogFileMeta {
    pub key: String,
    pub stamp: DateTime<Utc>,
    /// Hex SHA-256 of the uncompressed file.
    pub hash: String,
    pub oldest: i64,
    pub newest: i64,
    pub records: u64,
}

/// Writes gzip objects under the output directory, creating folders once.
pub struct ObjectWriter<'a> {
    root: &'a Path,
    made: HashSet<String>,
}

impl<'a> ObjectWriter<'a> {
    pub fn new(root: &'a Path) -> Self {
        ObjectWriter {
            root,
            made: HashSet::new(),
        }
    }

    /// Gzips `body` (one member, fixed header: byte-identical across runs) to `root/key`.
    pub fn write_gz(&mut self, key: &str, body: &[u8]) -> Result<()> {
        let path = self.root.join(key);
        if let Some((folder, _)) = key.rsplit_once('/')
            && !self.made.contains(folder)
        {
            let dir = self.root.join(folder);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
            self.made.insert(folder.to_string());
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(body.len() / 6 + 64), Compression::fast());
        let bytes = gz
            .write_all(body)
            .and_then(|()| gz.finish())
            .map_err(|e| Error::io(path.display(), e))?;
        std::fs::write(&path, bytes).map_err(|e| Error::io(path.display(), e))
    }
}

/// One (account, region) stream to generate.
pub struct RegionPlan<'a> {
    pub account: &'a AccountProfile,
    pub region: &'a str,
    pub bucket: &'a str,
    pub start: NaiveDate,
    /// Events of each day for this account and region.
    pub day_counts: Vec<u64>,
    pub segments: &'a [Segment],
    pub rates: Rates,
    /// Scripted records of this stream (identity chains), in time order.
    pub scripted: &'a [super::identities::Scripted],
}

struct Pending {
    t: i64,
    json: Vec<u8>,
    duplicate: bool,
}

enum Kind {
    Api,
    Stop,
    Start,
    /// `scripted[i]`.
    Scripted(usize),
}

/// Generates the stream's events and writes its log files; returns the files, sorted by stamp.
pub fn deliver(
    plan: &RegionPlan<'_>,
    writer: &mut ObjectWriter<'_>,
    rng: &mut GenRng,
) -> Result<Vec<LogFileMeta>> {
    let regional = RegionalResources::new(rng);
    let ctx = Ctx {
        account: plan.account,
        regional: &regional,
        region: plan.region,
        bucket: plan.bucket,
    };
    let global_here = plan.region == "us-east-1";
    let home_here = plan.region == plan.account.home_region;
    let total_weight = catalog::total_op_weight();
    let mut files = Vec::new();
    let mut group: Vec<Pending> = Vec::new();
    let mut group_key: Option<(i64, usize)> = None;

    for (day, count) in plan.start.iter_days().zip(&plan.day_counts) {
        let mut times: Vec<(i64, Kind)> = schedule::event_times(day, *count, rng)
            .into_iter()
            .map(|t| (t, Kind::Api))
            .collect();
        let (day_from, day_to) = (
            schedule::day_start(day).timestamp(),
            schedule::day_start(day).timestamp() + 86_400,
        );
        let scripted: Vec<(i64, Kind)> = plan
            .scripted
            .iter()
            .enumerate()
            .filter(|(_, s)| (day_from..day_to).contains(&s.t))
            .map(|(i, s)| (s.t, Kind::Scripted(i)))
            .collect();
        if !scripted.is_empty() {
            times.extend(scripted);
            times.sort_by_key(|(t, _)| *t);
        }
        if home_here {
            let (from, to) = (
                schedule::day_start(day).timestamp(),
                schedule::day_start(day).timestamp() + 86_400,
            );
            for seg in plan.segments {
                if seg.restarted && (from..to).contains(&seg.start.timestamp()) {
                    times.push((seg.start.timestamp(), Kind::Start));
                }
                if let Some(stop) = seg.stop.filter(|s| (from..to).contains(&s.timestamp())) {
                    times.push((stop.timestamp(), Kind::Stop));
                }
            }
            times.sort_by_key(|(t, _)| *t);
        }
        for (t, kind) in times {
            let Some(seg_index) = schedule::segment_of(plan.segments, t) else {
                continue; // logging is stopped: the event is never recorded
            };
            let seg = &plan.segments[seg_index];
            let at = Utc.timestamp_opt(t, 0).single().unwrap_or_default();
            let json = match kind {
                Kind::Stop => records::logging_record(&ctx, at, false, rng),
                Kind::Start => records::logging_record(&ctx, at, true, rng),
                Kind::Scripted(i) => plan.scripted[i].json.clone(),
                Kind::Api => {
                    let late_stamp = schedule::truncate_minute(
                        at + Duration::seconds(rng.gen_range(2 * 3600..8 * 3600)),
                    );
                    let late =
                        rng.gen_bool(plan.rates.late) && seg.stop.is_none_or(|s| late_stamp <= s);
                    let op = catalog::pick_op(rng, global_here, total_weight);
                    let principal = catalog::pick_principal(rng, plan.account, op);
                    let json = records::api_record(&ctx, op, principal, at, late, rng);
                    if late {
                        files.push(write_file(
                            plan,
                            writer,
                            late_stamp,
                            &[&Pending {
                                t,
                                json,
                                duplicate: false,
                            }],
                            rng,
                        )?);
                        continue;
                    }
                    json
                }
            };
            let duplicate = rng.gen_bool(plan.rates.duplicate);
            let key = (t.div_euclid(WINDOW_SECS), seg_index);
            if group_key.is_some_and(|k| k != key) {
                flush(plan, writer, &mut group, group_key, &mut files, rng)?;
            }
            group_key = Some(key);
            group.push(Pending { t, json, duplicate });
        }
    }
    flush(plan, writer, &mut group, group_key, &mut files, rng)?;
    files.sort_by(|a, b| (a.stamp, &a.key).cmp(&(b.stamp, &b.key)));
    Ok(files)
}

/// Delivers one window's events: one file, or two (duplicates go into both).
fn flush(
    plan: &RegionPlan<'_>,
    writer: &mut ObjectWriter<'_>,
    group: &mut Vec<Pending>,
    key: Option<(i64, usize)>,
    files: &mut Vec<LogFileMeta>,
    rng: &mut GenRng,
) -> Result<()> {
    let Some((window, seg_index)) = key else {
        return Ok(());
    };
    if group.is_empty() {
        return Ok(());
    }
    let window_end = (window + 1) * WINDOW_SECS;
    let stop = plan.segments.get(seg_index).and_then(|s| s.stop);
    let stamp = |rng: &mut GenRng| {
        let natural = Utc
            .timestamp_opt(window_end + 60 * rng.gen_range(1..=10), 0)
            .single()
            .unwrap_or_default();
        // Logging stopped: whatever was pending goes out in one last delivery right after.
        match stop {
            Some(s) if natural > s => schedule::flush_after(s),
            _ => natural,
        }
    };
    let has_duplicate = group.iter().any(|p| p.duplicate);
    if has_duplicate || (group.len() >= 2 && rng.gen_bool(plan.rates.split)) {
        let (mut a, mut b): (Vec<&Pending>, Vec<&Pending>) = (Vec::new(), Vec::new());
        for p in group.iter() {
            if p.duplicate {
                a.push(p);
                b.push(p);
            } else if rng.gen_bool(0.5) {
                a.push(p);
            } else {
                b.push(p);
            }
        }
        if a.is_empty() || b.is_empty() {
            let (full, empty) = if a.is_empty() {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            if full.len() >= 2 {
                empty.extend(full.pop());
            }
        }
        for part in [a, b] {
            if !part.is_empty() {
                let s = stamp(rng);
                files.push(write_file(plan, writer, s, &part, rng)?);
            }
        }
    } else {
        let s = stamp(rng);
        let all: Vec<&Pending> = group.iter().collect();
        files.push(write_file(plan, writer, s, &all, rng)?);
    }
    group.clear();
    Ok(())
}

fn write_file(
    plan: &RegionPlan<'_>,
    writer: &mut ObjectWriter<'_>,
    stamp: DateTime<Utc>,
    events: &[&Pending],
    rng: &mut GenRng,
) -> Result<LogFileMeta> {
    let key = log_file_key(
        "",
        plan.account.org_id.as_deref(),
        &plan.account.id,
        plan.region,
        stamp,
        &ids::file_suffix(rng),
    );
    let size: usize = events.iter().map(|p| p.json.len() + 1).sum();
    let mut body = Vec::with_capacity(size + 16);
    body.extend_from_slice(b"{\"Records\":[");
    for (i, p) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&p.json);
    }
    body.extend_from_slice(b"]}");
    writer.write_gz(&key, &body)?;
    Ok(LogFileMeta {
        hash: hex::encode(Sha256::digest(&body)),
        key,
        stamp,
        oldest: events.iter().map(|p| p.t).min().unwrap_or_default(),
        newest: events.iter().map(|p| p.t).max().unwrap_or_default(),
        records: events.len() as u64,
    })
}
