//! IAM policy documents, read the way AWS evaluates them closely enough to answer "may this
//! principal call X on Y?" for the handful of actions the controls care about.
//!
//! Deliberately conservative in the direction that matters for an auditor: an `Allow` with a
//! condition still counts as "may" (we cannot evaluate request context offline), while a `Deny`
//! only counts as a guarantee when it has no condition. Both facts are kept (`conditional`).

use serde_json::Value;

/// One statement, normalised (single values become lists).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
    /// `Principal` as written (`"*"`, `{"AWS": [...]}`, `{"Service": ...}`); resource policies only.
    pub principal: Value,
    pub condition: Value,
}

impl Statement {
    pub fn conditional(&self) -> bool {
        self.condition.as_object().is_some_and(|m| !m.is_empty())
    }

    /// Does this statement speak about `action` (`service:Name`)?
    pub fn covers_action(&self, action: &str) -> bool {
        if !self.not_actions.is_empty() {
            return !self.not_actions.iter().any(|p| wildcard_match(p, action));
        }
        self.actions.iter().any(|p| wildcard_match(p, action))
    }

    /// Does this statement speak about `resource` (an ARN)?
    pub fn covers_resource(&self, resource: &str) -> bool {
        if !self.not_resources.is_empty() {
            return !self
                .not_resources
                .iter()
                .any(|p| wildcard_match(p, resource));
        }
        // Identity policies without Resource do not exist; resource policies may omit it.
        self.resources.is_empty() || self.resources.iter().any(|p| wildcard_match(p, resource))
    }

    /// The AWS principals a resource-policy statement names (`*` for everyone).
    pub fn principals(&self) -> Vec<String> {
        match &self.principal {
            Value::String(s) => vec![s.clone()],
            Value::Object(m) => m
                .iter()
                .flat_map(|(kind, v)| {
                    strings(v).into_iter().map(move |p| {
                        if kind == "AWS" {
                            p
                        } else {
                            format!("{kind}:{p}")
                        }
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Condition keys that pin the caller to an organisation or account.
    pub fn restricts_to_org_or_account(&self) -> bool {
        const KEYS: &[&str] = &[
            "aws:principalorgid",
            "aws:principalorgpaths",
            "aws:principalaccount",
            "aws:sourceaccount",
            "aws:sourceorgid",
            "aws:sourcearn",
            "aws:principalarn",
        ];
        self.condition.as_object().is_some_and(|ops| {
            ops.values().any(|keys| {
                keys.as_object().is_some_and(|k| {
                    k.keys()
                        .any(|key| KEYS.contains(&key.to_ascii_lowercase().as_str()))
                })
            })
        })
    }
}

/// A document given as an object, as JSON text, or URL-encoded JSON text (the raw IAM API).
pub fn document(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => serde_json::from_str(s).ok().or_else(|| {
            url::form_urlencoded::parse(format!("d={s}").as_bytes())
                .next()
                .and_then(|(_, decoded)| serde_json::from_str(&decoded).ok())
        }),
        _ => None,
    }
}

/// The statements of a policy document (object or text).
pub fn statements(doc: &Value) -> Vec<Statement> {
    let Some(doc) = document(doc) else {
        return Vec::new();
    };
    let raw = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    raw.iter()
        .map(|s| Statement {
            allow: s.get("Effect").and_then(Value::as_str) == Some("Allow"),
            actions: s.get("Action").map(strings).unwrap_or_default(),
            not_actions: s.get("NotAction").map(strings).unwrap_or_default(),
            resources: s.get("Resource").map(strings).unwrap_or_default(),
            not_resources: s.get("NotResource").map(strings).unwrap_or_default(),
            principal: s.get("Principal").cloned().unwrap_or(Value::Null),
            condition: s.get("Condition").cloned().unwrap_or(Value::Null),
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM wildcard match: `*` any run, `?` one character; actions compare case-insensitively.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_and_not_action() {
        assert!(wildcard_match("cloudtrail:Stop*", "cloudtrail:StopLogging"));
        assert!(wildcard_match("*", "s3:GetObject"));
        assert!(wildcard_match("CloudTrail:*", "cloudtrail:StopLogging"));
        assert!(wildcard_match(
            "arn:aws:s3:::logs/*",
            "arn:aws:s3:::logs/AWSLogs/1"
        ));
        assert!(!wildcard_match(
            "cloudtrail:Start*",
            "cloudtrail:StopLogging"
        ));
        assert!(wildcard_match("s3:Get?bject", "s3:GetObject"));

        let doc = json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}});
        let s = &statements(&doc)[0];
        assert!(s.allow && s.covers_action("cloudtrail:StopLogging"));
        assert!(!s.covers_action("iam:CreateUser"));

        // URL-encoded text, as the raw IAM API returns documents.
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22s3%3A*%22%7D%5D%7D";
        let s = &statements(&json!(encoded))[0];
        assert!(!s.allow && s.covers_action("s3:DeleteObject"));
    }
}
