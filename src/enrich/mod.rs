//! Offline IP enrichment, pinned and recorded: what an address is (country, network operator, an
//! AWS service, on a list the user keeps), answered from files the user supplies, never fetched.
//!
//! - `--geoip FILE`: a country or city database in MaxMind DB format (GeoLite2-Country/City,
//!   DB-IP's dbip-country-lite);
//! - `--asn FILE`: an ASN database in MaxMind DB format (GeoLite2-ASN, DB-IP's ASN lite);
//! - `--ip-ranges FILE`: AWS's published `ip-ranges.json`;
//! - `--ip-list FILE` (repeatable): one address or CIDR network per line, `#` comments; the list
//!   is named by the file's stem (`tor-exits.txt` is `tor-exits`).
//!
//! - `--enrich-config FILE`: the same, pinned in a YAML file ([`config`]).
//!
//! Every file is recorded with its SHA-256 and build date ([`DataFile`]), and outputs that used
//! enrichment name them, so a result can be reproduced. A function whose file was not given
//! answers NULL and says why once ([`Enrichment::notes`]).

mod config;
mod networks;
mod pinned;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use maxminddb::{Reader, geoip2};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
pub use networks::Networks;
pub use pinned::Pinned;

/// The files to enrich from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichOptions {
    pub geoip: Option<PathBuf>,
    pub asn: Option<PathBuf>,
    pub ip_ranges: Option<PathBuf>,
    pub ip_lists: Vec<PathBuf>,
}

impl EnrichOptions {
    pub fn is_empty(&self) -> bool {
        self == &EnrichOptions::default()
    }
}

/// One data file, as outputs cite it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// `geoip`, `asn`, `ip-ranges` or `ip-list:<name>`.
    pub role: String,
    pub path: String,
    pub sha256: String,
    /// When the data was built (the database's build time, ip-ranges' createDate, a list's
    /// modification time), RFC 3339.
    pub built: Option<String>,
    /// What the file says it is (`GeoLite2-Country`, `syncToken 1700000000`, `1,234 entries`).
    pub about: String,
}

/// The loaded files, shared by every function of a session.
#[derive(Default)]
pub struct Enrichment {
    geo: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
    /// AWS ranges: the most specific service name per network.
    aws: Option<Networks<String>>,
    lists: BTreeMap<String, Networks<()>>,
    files: Vec<DataFile>,
    used: AtomicBool,
    notes: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Enrichment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrichment")
            .field("files", &self.files)
            .finish()
    }
}

fn read(path: &Path, option: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::usage(format!(
            "{option} {}: cannot read it ({e}); give the path of the file you downloaded",
            path.display()
        ))
    })
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rfc3339(seconds: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn mmdb(path: &Path, option: &str, role: &str) -> Result<(Reader<Vec<u8>>, DataFile)> {
    let bytes = read(path, option)?;
    let file = DataFile {
        role: role.into(),
        path: path.display().to_string(),
        sha256: sha256(&bytes),
        built: None,
        about: String::new(),
    };
    let reader = Reader::from_source(bytes).map_err(|e| {
        Error::usage(format!(
            "{option} {}: not a MaxMind DB file ({e}); give a .mmdb database such as GeoLite2-{}.mmdb",
            path.display(),
            if role == "asn" { "ASN" } else { "Country" }
        ))
    })?;
    let meta = reader.metadata();
    let file = DataFile {
        built: rfc3339(i64::try_from(meta.build_epoch).unwrap_or(i64::MAX)),
        about: meta.database_type.clone(),
        ..file
    };
    Ok((reader, file))
}

impl Enrichment {
    /// Reads every file `options` names; a file that cannot be read or parsed is an error naming
    /// it.
    pub fn load(options: &EnrichOptions) -> Result<Enrichment> {
        let mut e = Enrichment::default();
        if let Some(path) = &options.geoip {
            let (reader, file) = mmdb(path, "--geoip", "geoip")?;
            e.geo = Some(reader);
            e.files.push(file);
        }
        if let Some(path) = &options.asn {
            let (reader, file) = mmdb(path, "--asn", "asn")?;
            e.asn = Some(reader);
            e.files.push(file);
        }
        if let Some(path) = &options.ip_ranges {
            let bytes = read(path, "--ip-ranges")?;
            let (ranges, created, token) = networks::aws_ranges(&bytes).map_err(|why| {
                Error::usage(format!(
                    "--ip-ranges {}: {why}; give AWS's ip-ranges.json (https://ip-ranges.amazonaws.com/ip-ranges.json)",
                    path.display()
                ))
            })?;
            e.files.push(DataFile {
                role: "ip-ranges".into(),
                path: path.display().to_string(),
                sha256: sha256(&bytes),
                built: created,
                about: format!("syncToken {token}, {} prefixes", ranges.len()),
            });
            e.aws = Some(ranges);
        }
        for path in &options.ip_lists {
            let bytes = read(path, "--ip-list")?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let list = networks::ip_list(&bytes).map_err(|why| {
                Error::usage(format!(
                    "--ip-list {}: {why}; one address or CIDR network per line, # for comments",
                    path.display()
                ))
            })?;
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| rfc3339(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
            e.files.push(DataFile {
                role: format!("ip-list:{name}"),
                path: path.display().to_string(),
                sha256: sha256(&bytes),
                built: modified,
                about: format!("{} entries", list.len()),
            });
            e.lists.insert(name, list);
        }
        Ok(e)
    }

    /// The files loaded, as outputs cite them.
    pub fn files(&self) -> &[DataFile] {
        &self.files
    }

    /// Whether an address can be placed: a country or an ASN database was given.
    pub fn locates(&self) -> bool {
        self.geo.is_some() || self.asn.is_some()
    }

    /// Whether any enrichment function has been asked anything.
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// Why functions answered NULL (each reason once).
    pub fn notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// `function` will be asked elsewhere (a cluster's executors, from these files): marks the
    /// enrichment used and notes a missing file, as a lookup here would. `ip_in` is not noted:
    /// which list it asks for is its argument.
    pub fn asked_elsewhere(&self, function: &str) {
        self.asked();
        let missing = match function {
            "ip_country" => self.geo.is_none().then_some("--geoip"),
            "ip_asn" | "ip_as_org" => self.asn.is_none().then_some("--asn"),
            "ip_aws_service" => self.aws.is_none().then_some("--ip-ranges"),
            "known_bad" => self.lists.is_empty().then_some("--ip-list"),
            _ => None,
        };
        if let Some(option) = missing {
            self.missing(function, option);
        }
    }

    fn missing(&self, function: &str, option: &str) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.insert(format!(
                "{function}() returned NULL: no {option} file was given"
            ));
        }
    }

    fn asked(&self) {
        self.used.store(true, Ordering::Relaxed);
    }

    /// The country (ISO 3166 code) of `ip`.
    pub fn country(&self, ip: &str) -> Option<String> {
        self.asked();
        let Some(reader) = &self.geo else {
            self.missing("ip_country", "--geoip");
            return None;
        };
        let ip: IpAddr = ip.trim().parse().ok()?;
        let found = reader.lookup(ip).ok()?;
        let record: geoip2::Country = found.decode().ok()??;
        record
            .country
            .iso_code
            .or(record.registered_country.iso_code)
            .map(str::to_string)
    }

    fn asn_record(&self, ip: &str, function: &str) -> Option<(Option<u32>, Option<String>)> {
        self.asked();
        let Some(reader) = &self.asn else {
            self.missing(function, "--asn");
            return None;
        };
        let ip: IpAddr = ip.trim().parse().ok()?;
        let found = reader.lookup(ip).ok()?;
        let record: geoip2::Asn = found.decode().ok()??;
        Some((
            record.autonomous_system_number,
            record.autonomous_system_organization.map(str::to_string),
        ))
    }

    /// The autonomous system number of `ip`.
    pub fn asn(&self, ip: &str) -> Option<u32> {
        self.asn_record(ip, "ip_asn")?.0
    }

    /// The organization of `ip`'s autonomous system.
    pub fn as_org(&self, ip: &str) -> Option<String> {
        self.asn_record(ip, "ip_as_org")?.1
    }

    /// The AWS service whose published range holds `ip` (the most specific one, other than the
    /// catch-all `AMAZON` where a more specific service is listed), or NULL outside AWS.
    pub fn aws_service(&self, ip: &str) -> Option<String> {
        self.asked();
        let Some(ranges) = &self.aws else {
            self.missing("ip_aws_service", "--ip-ranges");
            return None;
        };
        ranges.lookup(ip.trim().parse().ok()?).cloned()
    }

    /// Whether `ip` is on the list called `list`: NULL when no such list was given.
    pub fn in_list(&self, ip: &str, list: &str) -> Option<bool> {
        self.asked();
        let Some(networks) = self.lists.get(list) else {
            self.missing(
                "ip_in",
                &format!("--ip-list {list}.txt (or another {list}.*)"),
            );
            return None;
        };
        let ip: IpAddr = ip.trim().parse().ok()?;
        Some(networks.lookup(ip).is_some())
    }

    /// Whether `ip` is on any list given: NULL when none was.
    pub fn known_bad(&self, ip: &str) -> Option<bool> {
        self.asked();
        if self.lists.is_empty() {
            self.missing("known_bad", "--ip-list");
            return None;
        }
        let ip: IpAddr = ip.trim().parse().ok()?;
        Some(self.lists.values().any(|l| l.lookup(ip).is_some()))
    }
}

#[cfg(test)]
mod tests;
