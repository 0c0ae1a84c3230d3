//! `trailscope lint` for rules: every file read, every rule compiled and its SQL planned against
//! the `cloudtrail` table without running it, and the metadata an investigator relies on checked.

use std::collections::BTreeMap;

use super::load::RuleSet;
use crate::table::statements;

/// Problems (`where: problem`); empty when all is well. A rule the compiler skips is a problem
/// here: lint is where an author learns it would not run.
pub async fn lint_rules(set: &RuleSet) -> crate::error::Result<Vec<String>> {
    let mut out = Vec::new();
    for (origin, why) in &set.failed {
        out.push(format!("{origin}: {why}"));
    }
    for (rule, why) in &set.skipped {
        out.push(format!("{rule}: skipped: {why}"));
    }
    let source = crate::archive::ArchiveSource::new(
        crate::archive::Location::empty(),
        Default::default(),
        false,
    );
    let ctx = crate::table::session(source)?;
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &set.compiled {
        let rule = &c.rule;
        let mut say = |p: String| out.push(format!("{}: {p}", rule.origin));
        match rule.id.as_deref() {
            None => say("has no id: hits could not name it stably".to_string()),
            Some(id) => {
                if let Some(other) = ids.insert(id, &rule.origin) {
                    say(format!("id {id} is also the id of {other}"));
                }
            }
        }
        if rule.author.is_none() {
            say(
                "has no author (the licence of most rule packs asks that it travel with every hit)"
                    .to_string(),
            );
        }
        if rule.status.is_none() {
            say("has no status".to_string());
        }
        let planned = match statements::parse_checked(&c.sql, None) {
            Ok(mut parsed) if parsed.len() == 1 => {
                let statement = parsed.remove(0);
                ctx.state()
                    .statement_to_plan(statement)
                    .await
                    .map(|_| ())
                    .map_err(|e| crate::Error::from(e).to_string())
            }
            Ok(_) => Err("compiles to more than one statement".to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = planned {
            say(format!("its SQL does not plan: {e}"));
        }
    }
    Ok(out)
}
