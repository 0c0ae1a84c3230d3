//! Sigma's CloudTrail field names (`eventName`, `userIdentity.sessionContext.sessionIssuer.type`,
//! `requestParameters.bucketName`, ...) resolved against the `cloudtrail` table's fixed schema.
//!
//! The record's JSON keys are the columns' names, lower-cased, so a name resolves segment by
//! segment, case-insensitively: through struct columns to a text column, or into a JSON column
//! (`requestparameters`) where the rest of the name is a path that `json_match` follows. Top-level
//! fields the schema has no column for are in `other_fields`; nested fields the decoder does not
//! keep are read from the record's own text (`eventjson`, so only over the raw archive).

use super::compile::quote;
use crate::decode::schema::{EVENT_JSON, Field, Kind, OTHER_FIELDS, RECORD_FIELDS};

/// Where a field's values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An SQL expression giving the value as text.
    Text(String),
    /// A path inside JSON text given by an SQL expression.
    Json { doc: String, path: String },
}

impl Target {
    /// The whole record as text, for keyword searches.
    pub fn record() -> Target {
        Target::Text(EVENT_JSON.to_string())
    }

    /// One text value per event, for grouping and field references: a JSON path gives its
    /// scalar value (not the elements of arrays on the way).
    pub fn value_sql(&self) -> String {
        match self {
            Target::Text(expr) => expr.clone(),
            Target::Json { doc, path } => {
                format!(
                    "json_extract_scalar({doc}, {})",
                    quote(&format!("$.{path}"))
                )
            }
        }
    }
}

fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Resolves a Sigma field name. Never fails: a name with no column is looked up where such
/// fields are kept, and simply matches nothing if the records do not have it.
pub fn resolve(name: &str) -> Target {
    let segments: Vec<&str> = name.split('.').collect();
    let Some(top) = find(RECORD_FIELDS, segments[0]) else {
        return Target::Json {
            doc: OTHER_FIELDS.to_string(),
            path: name.to_string(),
        };
    };
    let mut sql = top.name.to_string();
    let mut field = top;
    for (i, segment) in segments.iter().enumerate().skip(1) {
        let rest = segments[i..].join(".");
        match field.kind {
            Kind::Struct(children) => match find(children, segment) {
                Some(child) => {
                    sql = format!("{sql}.{}", child.name);
                    field = child;
                }
                None => {
                    return Target::Json {
                        doc: EVENT_JSON.to_string(),
                        path: name.to_string(),
                    };
                }
            },
            Kind::List(_) => {
                return Target::Json {
                    doc: format!("to_json({sql})"),
                    path: rest,
                };
            }
            // Text columns keep nested objects as JSON text.
            Kind::Json | Kind::Text => {
                return Target::Json {
                    doc: sql,
                    path: rest,
                };
            }
            Kind::Bool | Kind::Time => {
                return Target::Json {
                    doc: EVENT_JSON.to_string(),
                    path: name.to_string(),
                };
            }
        }
    }
    Target::Text(match field.kind {
        Kind::Text | Kind::Json => sql,
        Kind::Bool => format!("CAST({sql} AS VARCHAR)"),
        Kind::Time => format!("to_char({sql}, '%Y-%m-%dT%H:%M:%SZ')"),
        Kind::Struct(_) | Kind::List(_) => format!("to_json({sql})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Target {
        Target::Text(s.to_string())
    }

    fn json(doc: &str, path: &str) -> Target {
        Target::Json {
            doc: doc.to_string(),
            path: path.to_string(),
        }
    }

    #[test]
    fn sigma_names_resolve_to_columns_and_json_paths() {
        assert_eq!(resolve("eventName"), text("eventname"));
        assert_eq!(
            resolve("userIdentity.sessionContext.sessionIssuer.type"),
            text("useridentity.sessioncontext.sessionissuer.type")
        );
        assert_eq!(
            resolve("requestParameters.containerDefinitions.command"),
            json("requestparameters", "containerDefinitions.command")
        );
        assert_eq!(resolve("requestParameters"), text("requestparameters"));
        assert_eq!(resolve("readOnly"), text("CAST(readonly AS VARCHAR)"));
        assert_eq!(resolve("resources.ARN"), json("to_json(resources)", "ARN"));
        assert_eq!(
            resolve("someNewField.x"),
            json("other_fields", "someNewField.x")
        );
        assert_eq!(
            resolve("userIdentity.sessionContext.assumedRoot"),
            json("eventjson", "userIdentity.sessionContext.assumedRoot")
        );
    }
}
