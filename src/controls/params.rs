//! Control parameters: `${name}` placeholders in a control's SQL, replaced by typed SQL literals.
//!
//! A value comes from, first to last: `--param name=value`, the snapshot's `profile`, the
//! control's default. A placeholder the metadata does not declare is an error (lint reports it),
//! and values are rendered as literals of the declared type, never pasted as text, so a
//! parameter cannot change the shape of the query.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::meta::{ControlMeta, ParamType};

/// Where parameter values come from.
#[derive(Debug, Clone, Default)]
pub struct ParamValues {
    /// `--param k=v`, as given.
    pub overrides: BTreeMap<String, String>,
    /// The snapshots' profiles, merged (the first snapshot that sets a key wins).
    pub profile: Map<String, Value>,
}

impl ParamValues {
    /// `--param` overrides over the snapshots' profiles (the first snapshot setting a key wins).
    pub fn new(
        overrides: BTreeMap<String, String>,
        snapshots: &[crate::snapshot::Snapshot],
    ) -> Self {
        let mut profile = Map::new();
        for s in snapshots {
            for (k, v) in &s.profile {
                profile.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        ParamValues { overrides, profile }
    }

    pub fn value(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.overrides.get(name) {
            return Some(Value::String(v.clone()));
        }
        self.profile.get(name).filter(|v| !v.is_null()).cloned()
    }
}

/// Refuses override names no control of `catalog` declares (a typo would otherwise leave the
/// default in force without a word), naming the ones that exist.
pub fn check_override_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    catalog: &[super::Control],
) -> Result<(), String> {
    let known: std::collections::BTreeSet<&str> = catalog
        .iter()
        .flat_map(|c| c.meta.parameters.keys().map(String::as_str))
        .collect();
    let unknown: Vec<&str> = names.into_iter().filter(|n| !known.contains(n)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "no control has a parameter named {}; parameters are: {}",
        unknown.join(", "),
        known.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// The `${name}` placeholders in `sql`, in order of appearance.
pub fn placeholders(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sql;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// A parameter value as a SQL literal of its type; the error names the parameter.
pub fn literal(name: &str, ty: ParamType, value: &Value) -> Result<String, String> {
    let bad = |what: &str| format!("parameter {name}: {value} is not {what}");
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    match ty {
        ParamType::Integer => text
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| bad("an integer")),
        ParamType::Boolean => match text.as_str() {
            "true" => Ok("TRUE".into()),
            "false" => Ok("FALSE".into()),
            _ => Err(bad("true or false")),
        },
        ParamType::String => Ok(crate::table::statements::sql_literal(&text)),
        ParamType::Duration => {
            let seconds = match text.parse::<i64>() {
                Ok(s) => s,
                Err(_) => crate::time::parse_duration(&text)
                    .map_err(|_| bad("a duration such as 10m, 24h or 30d"))?
                    .num_seconds(),
            };
            if seconds <= 0 {
                return Err(bad("a positive duration"));
            }
            Ok(format!("INTERVAL '{seconds} seconds'"))
        }
    }
}

/// A parameter that has no value anywhere: the control cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset(pub String);

/// `sql` with every placeholder replaced. `Ok(Err(Unset))` when a declared parameter has no
/// value (the control is then inconclusive); `Err` for an undeclared placeholder or a bad value.
pub fn substitute(
    meta: &ControlMeta,
    sql: &str,
    values: &ParamValues,
) -> Result<Result<String, Unset>, String> {
    let mut out = sql.to_string();
    for name in placeholders(sql) {
        let spec = meta.parameters.get(&name).ok_or_else(|| {
            format!("placeholder ${{{name}}} is not declared in the control's parameters")
        })?;
        let Some(value) = values.value(&name).or_else(|| spec.default.clone()) else {
            return Ok(Err(Unset(name)));
        };
        let lit = literal(&name, spec.ty, &value)?;
        out = out.replace(&format!("${{{name}}}"), &lit);
    }
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_literals_and_precedence() {
        assert_eq!(literal("n", ParamType::Integer, &json!(5)).unwrap(), "5");
        assert_eq!(literal("n", ParamType::Integer, &json!("7")).unwrap(), "7");
        assert!(literal("n", ParamType::Integer, &json!("5; DROP")).is_err());
        assert_eq!(
            literal("w", ParamType::Duration, &json!("10m")).unwrap(),
            "INTERVAL '600 seconds'"
        );
        assert_eq!(
            literal("s", ParamType::String, &json!("o'k")).unwrap(),
            "'o''k'"
        );
        assert_eq!(placeholders("a ${x} b ${y_1}"), vec!["x", "y_1"]);

        let meta: ControlMeta = serde_json::from_value(json!({"id":"CTL.X.001","title":"t",
            "severity":"low","kind":"event","domain":"d","remediation":"r",
            "parameters":{"n":{"type":"integer","default":5,"description":"d"},
                          "m":{"type":"integer","description":"no default"}}}))
        .unwrap();
        let mut values = ParamValues::default();
        assert_eq!(
            substitute(&meta, "SELECT ${n}", &values).unwrap().unwrap(),
            "SELECT 5"
        );
        values.profile.insert("n".into(), json!(6));
        assert_eq!(
            substitute(&meta, "SELECT ${n}", &values).unwrap().unwrap(),
            "SELECT 6"
        );
        values.overrides.insert("n".into(), "7".into());
        assert_eq!(
            substitute(&meta, "SELECT ${n}", &values).unwrap().unwrap(),
            "SELECT 7"
        );
        assert_eq!(
            substitute(&meta, "SELECT ${m}", &values).unwrap(),
            Err(Unset("m".into()))
        );
        assert!(substitute(&meta, "SELECT ${zz}", &values).is_err());
    }
}
