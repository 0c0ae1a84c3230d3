//! `CROSS JOIN UNNEST(...) AS t(x)` and `LEFT JOIN UNNEST(...) AS t(x) ON TRUE` (several arrays,
//! `WITH ORDINALITY`) as subqueries DataFusion plans: the relation before the UNNEST numbers
//! each row's elements with DataFusion's `unnest(range(...))` and picks them with `element_at`.

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, ObjectNamePart, Query, Select, SelectItem,
    TableAlias, TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The row-number column an unnested relation carries; never shown by `*`.
const POSITION: &str = "__unnest_position";

/// How an `UNNEST` is joined: `CROSS JOIN` (rows with empty arrays drop out) or `LEFT JOIN ...
/// ON TRUE` (they stay, with NULLs).
fn unnest_kind(operator: &JoinOperator) -> Option<bool> {
    let on_true = |c: &JoinConstraint| matches!(c, JoinConstraint::On(Expr::Value(v)) if v.value == Value::Boolean(true));
    match operator {
        JoinOperator::CrossJoin(JoinConstraint::None) => Some(false),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) if on_true(c) => Some(true),
        _ => None,
    }
}

/// Folds the `UNNEST` joins of a SELECT's FROM items into subqueries.
pub(super) fn fold_unnest_joins(select: &mut Select) {
    let mut renamed: Vec<(String, String)> = Vec::new();
    for from in &mut select.from {
        renamed.extend(unnest_from(from));
    }
    if renamed.is_empty() {
        return;
    }
    for item in &mut select.projection {
        if let SelectItem::Wildcard(options) | SelectItem::QualifiedWildcard(_, options) = item {
            crate::table::dialect_columns::exclude(options, &[POSITION]);
        }
    }
    // The unnest's own alias (`t.x`) now names the relation's alias.
    let _ = select.visit(&mut Requalify(renamed));
}

/// Folds the leading `UNNEST` joins of one FROM item into its relation. Returns the unnest
/// aliases renamed to the relation's alias.
fn unnest_from(from: &mut TableWithJoins) -> Vec<(String, String)> {
    let mut renamed = Vec::new();
    while let Some(join) = from.joins.first() {
        let Some(left) = unnest_kind(&join.join_operator) else {
            break;
        };
        let TableFactor::UNNEST {
            alias: Some(alias),
            array_exprs,
            with_offset: false,
            with_ordinality,
            ..
        } = &join.relation
        else {
            break;
        };
        let names: Vec<String> = alias.columns.iter().map(|c| c.name.to_string()).collect();
        let wanted = array_exprs.len() + usize::from(*with_ordinality);
        if names.len() != wanted {
            // Trino also spreads an array of rows over several columns; not rewritten.
            break;
        }
        let relation_alias = relation_name(&from.relation);
        let Some(derived) = unnested(
            &from.relation,
            &relation_alias,
            array_exprs,
            &names,
            *with_ordinality,
            left,
        ) else {
            break;
        };
        renamed.push((alias.name.value.to_lowercase(), relation_alias.clone()));
        from.relation = TableFactor::Derived {
            lateral: false,
            subquery: derived,
            alias: Some(TableAlias {
                explicit: true,
                name: Ident::new(relation_alias),
                columns: Vec::new(),
                at: None,
            }),
            sample: None,
        };
        from.joins.remove(0);
    }
    renamed
}

/// The name a relation's columns are qualified by: its alias, or a table's own name.
fn relation_name(relation: &TableFactor) -> String {
    match relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            a.name.value.clone()
        }
        TableFactor::Table { name, .. } => match name.0.last() {
            Some(ObjectNamePart::Identifier(i)) => i.value.clone(),
            _ => "cloudtrail".to_string(),
        },
        _ => "unnested".to_string(),
    }
}

/// `(SELECT *, element_at(a1, p) AS x1, ... FROM (SELECT *, unnest(range(1, n + 1)) AS p FROM
/// relation))`, `n` the longest array's length (at least 1 for a LEFT JOIN).
fn unnested(
    relation: &TableFactor,
    alias: &str,
    arrays: &[Expr],
    names: &[String],
    with_ordinality: bool,
    left: bool,
) -> Option<Box<Query>> {
    let lengths: Vec<String> = arrays
        .iter()
        .map(|a| format!("coalesce(CAST(cardinality({a}) AS BIGINT), 0)"))
        .collect();
    let longest = match lengths.as_slice() {
        [one] => one.clone(),
        many => format!("greatest({})", many.join(", ")),
    };
    let count = if left {
        format!("greatest({longest}, 1)")
    } else {
        longest.clone()
    };
    let mut columns: Vec<String> = arrays
        .iter()
        .zip(names)
        .map(|(a, name)| format!("element_at({a}, {POSITION}) AS {}", quoted(name)))
        .collect();
    if with_ordinality {
        columns.push(format!(
            "CASE WHEN {POSITION} <= {longest} THEN {POSITION} END AS {}",
            quoted(&names[names.len() - 1])
        ));
    }
    let sql = format!(
        "SELECT *, {} FROM (SELECT *, unnest(range(1, {count} + 1)) AS {POSITION} FROM {relation}) AS {}",
        columns.join(", "),
        quoted(alias),
    );
    Parser::new(&GenericDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .ok()
}

fn quoted(name: &str) -> String {
    Ident::with_quote('"', name.to_lowercase()).to_string()
}

/// Replaces the first part of compound identifiers `t.x...` by the relation's alias.
struct Requalify(Vec<(String, String)>);

impl VisitorMut for Requalify {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() >= 2
            && let Some((_, to)) = self
                .0
                .iter()
                .find(|(from, _)| parts[0].value.eq_ignore_ascii_case(from))
        {
            parts[0] = Ident::new(to.clone());
        }
        std::ops::ControlFlow::Continue(())
    }
}
