//! `trailscope lint`: load every control, check its metadata, and plan its SQL without running it.

use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use serde_json::Value;

use super::Control;
use super::meta::ParamType;
use super::params::{ParamValues, placeholders, substitute};
use crate::table::statements;

/// A stand-in value of each type, for parameters without a default.
fn sample(ty: ParamType) -> Value {
    match ty {
        ParamType::Integer => Value::from(1),
        ParamType::Duration => Value::from("1h"),
        ParamType::String => Value::from("x"),
        ParamType::Boolean => Value::from("true"),
    }
}

/// Lints `controls` against every table a control may read, over an empty archive and no
/// snapshot: plans need the tables' shapes only.
pub async fn lint_catalog(controls: &[Control]) -> crate::error::Result<Vec<String>> {
    let source = crate::archive::ArchiveSource::new(
        crate::archive::Location::empty(),
        Default::default(),
        false,
    );
    let ctx = crate::table::evidence_session(&source, &[]).await?;
    ctx.register_table(
        "findings",
        std::sync::Arc::new(super::run::findings_table(&[])?),
    )?;
    Ok(lint(&ctx, controls).await)
}

/// Problems per control (`origin: problem`); empty when all is well. `ctx` must hold every
/// table a control may read (the plans are built, not run).
pub async fn lint(ctx: &SessionContext, controls: &[Control]) -> Vec<String> {
    let mut out = Vec::new();
    for c in controls {
        let mut say = |p: String| out.push(format!("{}: {p}", c.origin));
        for p in c.meta.problems() {
            say(p);
        }
        let mut values = ParamValues::default();
        for (name, spec) in &c.meta.parameters {
            if spec.default.is_none() {
                values.profile.insert(name.clone(), sample(spec.ty));
            }
            if !placeholders(&c.sql).contains(name) {
                say(format!(
                    "parameter {name} is declared but the SQL never uses ${{{name}}}"
                ));
            }
        }
        let sql = match substitute(&c.meta, &c.sql, &values) {
            Ok(Ok(sql)) => sql,
            Ok(Err(unset)) => {
                say(format!("parameter {} has no value", unset.0));
                continue;
            }
            Err(e) => {
                say(e);
                continue;
            }
        };
        let parsed = match statements::parse_checked(&sql, None) {
            Ok(p) => p,
            Err(e) => {
                say(e.to_string());
                continue;
            }
        };
        if parsed.len() != 1 {
            say(format!(
                "holds {} statements; a control is one SELECT",
                parsed.len()
            ));
            continue;
        }
        let Some(statement) = parsed.into_iter().next() else {
            continue;
        };
        if !matches!(&statement, Statement::Statement(s) if matches!(s.as_ref(), datafusion::sql::sqlparser::ast::Statement::Query(_)))
        {
            say("is not a SELECT".to_string());
            continue;
        }
        match ctx.state().statement_to_plan(statement).await {
            Ok(plan) => {
                let schema = plan.schema();
                for column in ["status", "resource", "account_id"] {
                    if schema.field_with_unqualified_name(column).is_err() {
                        say(format!("returns no {column} column"));
                    }
                }
            }
            Err(e) => say(format!("SQL does not plan: {}", crate::Error::from(e))),
        }
    }
    out
}
