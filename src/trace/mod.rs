//! `trace`: from an access key, a principal, a session or an event, the credentials involved,
//! where they come from ([`crate::lineage`]), and everything done with them.

pub mod html;
pub mod pass;
pub mod read;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::enrich::{DataFile, Enrichment};
use crate::error::{Error, Result};
use crate::lineage::{Credential, Lineage, Origin};
use crate::table::{self, TableSource};
use read::{Action, Events};

/// What to trace from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// An access key (`AKIA…` or `ASIA…`): its blast radius.
    AccessKey(String),
    /// A user or role ARN: every key it acted with, and what they issued.
    Principal(String),
    /// A session ARN (`arn:aws:sts::…:assumed-role/R/name`).
    Session(String),
    /// One event: the chain back to its origin.
    Event(String),
}

impl Start {
    pub fn describe(&self) -> String {
        match self {
            Start::AccessKey(k) => format!("access key {k}"),
            Start::Principal(p) => format!("principal {p}"),
            Start::Session(s) => format!("session {s}"),
            Start::Event(e) => format!("event {e}"),
        }
    }
}

/// A credential in the trace: how far below the start it was issued, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracedCredential {
    /// 0 for the keys the trace starts from; n for credentials issued n steps below them.
    pub depth: usize,
    pub credential: Credential,
    /// Events made with it.
    pub events: usize,
}

/// Counts of what was done, for one way of grouping the actions.
pub type Counts = BTreeMap<String, usize>;

/// What the actions add up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub events: usize,
    pub errors: usize,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub by_account: Counts,
    pub by_service: Counts,
    pub by_event: Counts,
    pub by_error: Counts,
    pub source_ips: Counts,
    pub user_agents: Counts,
    /// Resources named by events that change something (not read-only), with how many.
    pub resources_written: Counts,
}

/// What the enrichment files say about a source address.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IpDetails {
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    pub aws_service: Option<String>,
    pub known_bad: Option<bool>,
}

impl IpDetails {
    fn of(e: &Enrichment, ip: &str) -> IpDetails {
        let has = |role: &str| e.files().iter().any(|f| f.role.starts_with(role));
        IpDetails {
            country: has("geoip").then(|| e.country(ip)).flatten(),
            asn: has("asn").then(|| e.asn(ip)).flatten(),
            as_org: has("asn").then(|| e.as_org(ip)).flatten(),
            aws_service: has("ip-ranges").then(|| e.aws_service(ip)).flatten(),
            known_bad: has("ip-list").then(|| e.known_bad(ip)).flatten(),
        }
    }

    /// `DE, AS208294 Example Relays, on a list`, or empty.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        parts.extend(self.country.clone());
        if let Some(asn) = self.asn {
            parts.push(format!(
                "AS{asn}{}",
                self.as_org
                    .as_deref()
                    .map(|o| format!(" {o}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(service) = &self.aws_service {
            parts.push(format!("AWS {service}"));
        }
        if self.known_bad == Some(true) {
            parts.push("on a list".into());
        }
        parts.join(", ")
    }
}

/// The answer to a trace.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub start: String,
    /// The keys the trace starts from.
    pub keys: Vec<String>,
    /// Where the start comes from (for an access key, a session or an event).
    pub origin: Option<Origin>,
    pub credentials: Vec<TracedCredential>,
    pub summary: Summary,
    pub actions: Vec<Action>,
    /// With enrichment files: what they say about each source address, and the files.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub source_ip_details: BTreeMap<String, IpDetails>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enrichment: Vec<DataFile>,
}

impl Trace {
    /// Adds what `enrichment`'s files say about the source addresses (nothing without files).
    fn enrich(mut self, enrichment: &Enrichment) -> Trace {
        if enrichment.files().is_empty() {
            return self;
        }
        self.source_ip_details = self
            .summary
            .source_ips
            .keys()
            .map(|ip| (ip.clone(), IpDetails::of(enrichment, ip)))
            .collect();
        self.enrichment = enrichment.files().to_vec();
        self
    }
}

/// Runs the trace over `source`.
pub async fn trace(source: &TableSource, start: &Start) -> Result<Trace> {
    trace_within(source, start, pass::EVENTS_BUDGET).await
}

/// [`trace`], keeping at most `events_budget` events in its one pass (beyond, a second scan).
pub async fn trace_within(
    source: &TableSource,
    start: &Start,
    events_budget: usize,
) -> Result<Trace> {
    let ctx = table::session(source.clone())?;
    // One pass keeps the issuing calls and the events made with keys; an event's trace reads
    // the archive for that one event instead.
    let events = match start {
        Start::Event(_) => Events::Archive,
        _ if pass::run(&ctx, events_budget).await? => Events::Kept,
        // Too many events to keep: the issuing calls are kept; the events come from a second
        // scan of the archive.
        _ => Events::Archive,
    };
    let archive_ctx = match (start, events) {
        (Start::Event(_), _) | (_, Events::Kept) => ctx.clone(),
        _ => table::session(source.clone())?,
    };
    let lineage = Lineage::new(read::credentials(&ctx).await?);
    let mut origin = None;
    let roots: BTreeSet<String> = match start {
        Start::AccessKey(key) => {
            origin = Some(lineage.origin(key));
            BTreeSet::from([key.clone()])
        }
        Start::Principal(arn) => {
            let mut keys = read::keys_of_principal(&archive_ctx, events, arn).await?;
            keys.extend(
                lineage
                    .credentials()
                    .filter(|c| {
                        c.role_arn.as_deref() == Some(arn) || c.session_arn.as_deref() == Some(arn)
                    })
                    .map(|c| c.access_key_id.clone()),
            );
            keys
        }
        Start::Session(arn) => {
            let mut keys = read::keys_of_principal(&archive_ctx, events, arn).await?;
            keys.extend(
                lineage
                    .credentials()
                    .filter(|c| c.session_arn.as_deref() == Some(arn))
                    .map(|c| c.access_key_id.clone()),
            );
            if let Some(first) = keys.iter().next() {
                origin = Some(lineage.origin(first));
            }
            keys
        }
        Start::Event(id) => {
            let Some((identity, action)) = read::event(&ctx, id).await? else {
                return Err(Error::usage(format!(
                    "no event {id} in the archive's scope: check the id, or widen --from/--to/--account/--region"
                )));
            };
            let origin = lineage.event_origin(&identity);
            let keys: Vec<String> = identity.access_key_id.into_iter().collect();
            let summary = summarize(std::slice::from_ref(&action));
            return Ok(Trace {
                start: start.describe(),
                keys,
                credentials: chain_credentials(&lineage, &origin),
                origin: Some(origin),
                summary,
                actions: vec![action],
                source_ip_details: BTreeMap::new(),
                enrichment: Vec::new(),
            }
            .enrich(&source.enrichment));
        }
    };
    // Every credential the start keys issued, transitively.
    let mut credentials: Vec<TracedCredential> = Vec::new();
    let mut all_keys = roots.clone();
    for root in &roots {
        if let Some(c) = lineage.get(root) {
            credentials.push(traced(0, c));
        }
        for (depth, c) in lineage.derived_from(root) {
            if all_keys.insert(c.access_key_id.clone()) {
                credentials.push(traced(depth, c));
            }
        }
    }
    let actions = read::actions(&archive_ctx, events, &all_keys).await?;
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &actions {
        if let Some(k) = &a.access_key_id {
            *used.entry(k.as_str()).or_default() += 1;
        }
    }
    for c in &mut credentials {
        c.events = used
            .get(c.credential.access_key_id.as_str())
            .copied()
            .unwrap_or(0);
    }
    // A long-term key's user is named by the events made with it.
    if let (Some(o), Start::AccessKey(key)) = (&mut origin, start)
        && o.principal.is_none()
    {
        o.principal = actions
            .iter()
            .find(|a| a.access_key_id.as_deref() == Some(key))
            .and_then(|a| a.principal.clone());
    }
    credentials.sort_by(|a, b| {
        (
            a.depth,
            &a.credential.issued_at,
            &a.credential.access_key_id,
        )
            .cmp(&(
                b.depth,
                &b.credential.issued_at,
                &b.credential.access_key_id,
            ))
    });
    Ok(Trace {
        start: start.describe(),
        keys: roots.into_iter().collect(),
        origin,
        credentials,
        summary: summarize(&actions),
        actions,
        source_ip_details: BTreeMap::new(),
        enrichment: Vec::new(),
    }
    .enrich(&source.enrichment))
}

fn traced(depth: usize, c: &Credential) -> TracedCredential {
    TracedCredential {
        depth,
        credential: c.clone(),
        events: 0,
    }
}

/// The credentials of an origin's chain, from the origin down (depth 0 at the origin's end).
fn chain_credentials(lineage: &Lineage, origin: &Origin) -> Vec<TracedCredential> {
    origin
        .chain
        .iter()
        .rev()
        .enumerate()
        .filter_map(|(i, link)| lineage.get(&link.access_key_id).map(|c| traced(i, c)))
        .collect()
}

/// Counts over `actions`.
pub fn summarize(actions: &[Action]) -> Summary {
    let mut s = Summary {
        events: actions.len(),
        ..Summary::default()
    };
    let bump = |counts: &mut Counts, key: &Option<String>| {
        *counts
            .entry(key.clone().unwrap_or_else(|| "(none)".into()))
            .or_default() += 1;
    };
    for a in actions {
        bump(&mut s.by_account, &a.account_id);
        bump(&mut s.by_service, &a.eventsource);
        bump(&mut s.by_event, &a.eventname);
        bump(&mut s.source_ips, &a.sourceipaddress);
        bump(&mut s.user_agents, &a.useragent);
        if a.errorcode.is_some() {
            s.errors += 1;
            bump(&mut s.by_error, &a.errorcode);
        }
        if !a.read_only && a.errorcode.is_none() {
            for r in &a.resources {
                *s.resources_written.entry(r.clone()).or_default() += 1;
            }
        }
        if a.eventtime.is_some() && (s.first_seen.is_none() || a.eventtime < s.first_seen) {
            s.first_seen = a.eventtime.clone();
        }
        if a.eventtime > s.last_seen {
            s.last_seen = a.eventtime.clone();
        }
    }
    s
}
