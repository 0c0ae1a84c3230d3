//! Who is really behind an event: temporary credentials traced back to where they came from.
//!
//! Every temporary credential (`ASIA…`) was issued by an STS call or a service's delivery, which
//! the `sessions` table lists with the caller and the caller's own access key. Following the
//! caller's key to the call that issued *it*, and so on, ends at an origin: a long-term key
//! (`AKIA…`) of a user, a federated identity (SAML, web identity, IAM Identity Center), an AWS
//! service (EC2 instance roles, Lambda), or a console sign-in. Where the archive does not hold
//! the call that issued a link (it was before the archive's range, or in an account or region
//! the archive does not hold), the chain is broken and says so; it never guesses.
//!
//! This module is plain data with no engine: the `credential_origins` table and the `trace`
//! command fill it from the archive's tables.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

/// Chains longer than this are reported broken rather than followed (real chains are short;
/// role chaining caps a session at one hour, so depth grows slowly).
pub const MAX_DEPTH: usize = 32;

/// One issued temporary credential: a row of `sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Credential {
    pub access_key_id: String,
    pub session_arn: Option<String>,
    pub role_arn: Option<String>,
    /// The account the credential acts in.
    pub account: Option<String>,
    /// `AssumeRole`, `AssumeRoleWithSAML`, `IdentityCenter`, `EC2InstanceRole`, `ConsoleSignIn`, ...
    pub issued_via: String,
    pub issuer_type: Option<String>,
    /// Who asked for it (an ARN, a federated subject, a service).
    pub issuer: Option<String>,
    pub issuer_access_key: Option<String>,
    pub issuer_account: Option<String>,
    pub source_identity: Option<String>,
    pub issued_at: Option<String>,
    pub issuing_event_id: Option<String>,
    pub log_file: Option<String>,
}

/// How a chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OriginKind {
    /// A user's (or root's) long-term access key.
    LongTermKey,
    /// A SAML or web-identity (OIDC) subject, or an IAM Identity Center user.
    Federation,
    /// An AWS service delivering a role's credentials (EC2 instance profiles, Lambda, ...).
    AwsService,
    /// A console sign-in (a user's or root's console session).
    ConsoleSignIn,
    /// The chain breaks before its origin (see `broken`).
    Unknown,
}

impl OriginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginKind::LongTermKey => "long-term-key",
            OriginKind::Federation => "federation",
            OriginKind::AwsService => "aws-service",
            OriginKind::ConsoleSignIn => "console-sign-in",
            OriginKind::Unknown => "unknown",
        }
    }
}

/// Where a credential (or an event) comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    pub kind: OriginKind,
    /// The person, identity or service at the origin; for a broken chain, the last caller known.
    pub principal: Option<String>,
    /// The long-term key at the origin, when it is one.
    pub access_key: Option<String>,
    /// Issuing steps between the origin and the credential (0: the credential is the origin's).
    pub depth: usize,
    /// The credentials from the traced one back to the origin, each with how it was issued.
    pub chain: Vec<Link>,
    /// Why the chain stops short of its origin.
    pub broken: Option<String>,
}

/// One step of a chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub access_key_id: String,
    pub session_arn: Option<String>,
    pub issued_via: String,
    pub issuer: Option<String>,
    pub issued_at: Option<String>,
    pub issuing_event_id: Option<String>,
    pub log_file: Option<String>,
}

impl From<&Credential> for Link {
    fn from(c: &Credential) -> Link {
        Link {
            access_key_id: c.access_key_id.clone(),
            session_arn: c.session_arn.clone(),
            issued_via: c.issued_via.clone(),
            issuer: c.issuer.clone(),
            issued_at: c.issued_at.clone(),
            issuing_event_id: c.issuing_event_id.clone(),
            log_file: c.log_file.clone(),
        }
    }
}

/// Who made one event, as its `userIdentity` says.
#[derive(Debug, Clone, Default)]
pub struct EventIdentity {
    pub identity_type: Option<String>,
    pub arn: Option<String>,
    pub access_key_id: Option<String>,
    pub invoked_by: Option<String>,
    pub principal_id: Option<String>,
    /// `sessionCredentialFromConsole`.
    pub from_console: bool,
    /// Federated callers: the identity provider and the subject's name.
    pub identity_provider: Option<String>,
    pub user_name: Option<String>,
    /// The credential the event issued, if it is an issuing call.
    pub issued_key: Option<String>,
}

/// The issued credentials of an archive, indexed for tracing.
#[derive(Debug, Default)]
pub struct Lineage {
    by_key: BTreeMap<String, Credential>,
    /// Issuer key -> the credentials it issued.
    issued_by: BTreeMap<String, Vec<String>>,
}

fn is_long_term(key: &str) -> bool {
    key.starts_with("AKIA")
}

impl Lineage {
    pub fn new(credentials: impl IntoIterator<Item = Credential>) -> Lineage {
        let mut lineage = Lineage::default();
        for c in credentials {
            if let Some(issuer) = &c.issuer_access_key {
                lineage
                    .issued_by
                    .entry(issuer.clone())
                    .or_default()
                    .push(c.access_key_id.clone());
            }
            lineage.by_key.insert(c.access_key_id.clone(), c);
        }
        lineage
    }

    pub fn get(&self, key: &str) -> Option<&Credential> {
        self.by_key.get(key)
    }

    pub fn credentials(&self) -> impl Iterator<Item = &Credential> {
        self.by_key.values()
    }

    /// Where the credential `key` comes from.
    pub fn origin(&self, key: &str) -> Origin {
        let mut chain: Vec<Link> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut current = key.to_string();
        loop {
            let Some(c) = self.by_key.get(&current) else {
                return self.ends_at_unissued(&current, chain);
            };
            if !seen.insert(current.clone()) || chain.len() >= MAX_DEPTH {
                let why = if chain.len() >= MAX_DEPTH {
                    format!("the chain is longer than {MAX_DEPTH} steps")
                } else {
                    format!("the chain returns to {current}, which issued itself")
                };
                return broken(chain, c.issuer.clone(), why);
            }
            chain.push(c.into());
            match &c.issuer_access_key {
                Some(next) => current = next.clone(),
                None => return ends_at_issuer(c, chain),
            }
        }
    }

    /// The chain stops at `key`, which no issuing event in the archive returned.
    fn ends_at_unissued(&self, key: &str, chain: Vec<Link>) -> Origin {
        let caller = chain.last().and_then(|l| l.issuer.clone());
        if is_long_term(key) {
            let depth = chain.len();
            return Origin {
                kind: OriginKind::LongTermKey,
                principal: caller,
                access_key: Some(key.to_string()),
                depth,
                chain,
                broken: None,
            };
        }
        let why = match chain.last() {
            Some(link) => format!(
                "{key}, the credential {} was issued with, has no issuing event in the archive \
                 (issued before its range, or in an account or region it does not hold)",
                link.access_key_id
            ),
            None => format!(
                "{key} has no issuing event in the archive (issued before its range, or in an \
                 account or region it does not hold)"
            ),
        };
        broken(chain, caller, why)
    }

    /// Where an event comes from: its credential's origin, or for events made without a
    /// temporary credential, the identity itself.
    pub fn event_origin(&self, identity: &EventIdentity) -> Origin {
        let own = |kind: OriginKind, principal: Option<String>, broken: Option<String>| Origin {
            kind,
            principal,
            access_key: identity.access_key_id.clone().filter(|k| is_long_term(k)),
            depth: 0,
            chain: Vec::new(),
            broken,
        };
        let Some(key) = identity.access_key_id.as_deref().filter(|k| !k.is_empty()) else {
            return match identity.identity_type.as_deref() {
                Some("AWSService") => {
                    own(OriginKind::AwsService, identity.invoked_by.clone(), None)
                }
                // The subject is named as `issued_credentials` names it.
                Some(kind @ ("SAMLUser" | "WebIdentityUser")) => own(
                    OriginKind::Federation,
                    Some(format!(
                        "{}:{}",
                        identity.identity_provider.as_deref().unwrap_or(kind),
                        identity
                            .user_name
                            .as_deref()
                            .or(identity.principal_id.as_deref())
                            .unwrap_or("?")
                    )),
                    None,
                ),
                // The role account's copy of a cross-account call is the same call as the
                // caller's copy: the caller's origin, one step above the credential it issued.
                Some("AWSAccount")
                    if identity
                        .issued_key
                        .as_deref()
                        .is_some_and(|k| self.by_key.contains_key(k)) =>
                {
                    let issued = identity.issued_key.as_deref().unwrap_or_default();
                    let mut origin = self.origin(issued);
                    if !origin.chain.is_empty() {
                        origin.chain.remove(0);
                        origin.depth = origin.depth.saturating_sub(1);
                    }
                    origin
                }
                _ => own(
                    OriginKind::Unknown,
                    identity.arn.clone().or(identity.principal_id.clone()),
                    Some("the event names no access key".into()),
                ),
            };
        };
        if is_long_term(key) {
            return own(OriginKind::LongTermKey, identity.arn.clone(), None);
        }
        if self.by_key.contains_key(key) {
            return self.origin(key);
        }
        // A user's (or root's) own temporary credential: a console session, or a session token
        // whose GetSessionToken call is not in the archive. The user is known either way.
        if matches!(identity.identity_type.as_deref(), Some("IAMUser" | "Root")) {
            return if identity.from_console {
                own(OriginKind::ConsoleSignIn, identity.arn.clone(), None)
            } else {
                own(
                    OriginKind::Unknown,
                    identity.arn.clone(),
                    Some(format!(
                        "{key} is a session of this user, but the call that issued it is not in the archive"
                    )),
                )
            };
        }
        // A role session whose issuing call is missing: the session itself is the last known.
        let mut origin = self.origin(key);
        if origin.principal.is_none() {
            origin.principal = identity.arn.clone();
        }
        origin
    }

    /// Every credential issued with `key`, and with those, transitively (breadth first), each
    /// with its depth below `key`.
    pub fn derived_from(&self, key: &str) -> Vec<(usize, &Credential)> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::from([key.to_string()]);
        let mut queue = VecDeque::from([(key.to_string(), 0usize)]);
        while let Some((issuer, depth)) = queue.pop_front() {
            for child in self.issued_by.get(&issuer).into_iter().flatten() {
                if seen.insert(child.clone())
                    && let Some(c) = self.by_key.get(child)
                {
                    out.push((depth + 1, c));
                    if depth + 1 < MAX_DEPTH {
                        queue.push_back((child.clone(), depth + 1));
                    }
                }
            }
        }
        out
    }
}

fn broken(chain: Vec<Link>, principal: Option<String>, why: String) -> Origin {
    Origin {
        kind: OriginKind::Unknown,
        principal,
        access_key: None,
        depth: chain.len(),
        chain,
        broken: Some(why),
    }
}

/// The chain's last credential was issued to a caller that used no access key.
fn ends_at_issuer(c: &Credential, chain: Vec<Link>) -> Origin {
    let depth = chain.len();
    let end = |kind: OriginKind| Origin {
        kind,
        principal: c.issuer.clone(),
        access_key: None,
        depth,
        chain: chain.clone(),
        broken: None,
    };
    match c.issuer_type.as_deref() {
        Some("SAMLUser" | "WebIdentityUser") => end(OriginKind::Federation),
        Some("AWSService") => end(OriginKind::AwsService),
        Some("Root" | "IAMUser") if c.issued_via == "ConsoleSignIn" => {
            end(OriginKind::ConsoleSignIn)
        }
        Some("AWSAccount") => broken(
            chain.clone(),
            c.issuer.clone(),
            format!(
                "only the role account's copy of the call is in the archive: it names the caller's \
                 account {} but not the caller's key (add that account's trail)",
                c.issuer_account.as_deref().unwrap_or("?")
            ),
        ),
        _ => broken(
            chain.clone(),
            c.issuer.clone(),
            "the issuing event names no access key for its caller".into(),
        ),
    }
}

#[cfg(test)]
mod tests;
