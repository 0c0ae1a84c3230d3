//! Trino (Athena, CloudTrail Lake) forms DataFusion's parser reads but its planner does not
//! take, rewritten in the statement before planning into what it does:
//! - `CROSS JOIN UNNEST(array) AS t(x)`, `LEFT JOIN UNNEST(...) AS t(x) ON TRUE`, with
//!   several arrays (zipped, the shorter padded with NULL) and `WITH ORDINALITY`: the relation
//!   before it becomes a subquery that numbers each row's elements with DataFusion's `unnest`
//!   and picks them with `element_at`. A `LEFT JOIN` keeps a row whose array is empty or NULL,
//!   with NULLs, as Trino does;
//! - a field of an expression's value (`element_at(resources, 1).arn`) becomes a subscript;
//! - struct fields named in Lake's camelCase (`resources[1]['accountId']`) resolve to our
//!   lower-case names, as the case-insensitive JSON keys they come from;
//! - a field selected without an alias is named as Trino names it, by the field
//!   (`useridentity.arn` is `arn`), where that name is not taken by another output column;
//! - an `ORDER BY c.x` whose `x` an output column of the same name shadows sorts by the
//!   source column, as in Trino;
//! - `CAST(x AS IPADDRESS)` becomes our `try_ipaddress(x)` (NULL for text that is no
//!   address, see [`function_form`]) and `IPADDRESS '10.0.0.0'` `ipaddress(...)`, `try(...)`
//!   a `TRY_CAST` (other expressions run as they are: a failure is an error, never a silent
//!   NULL), and `split` DataFusion's `string_to_array`.

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, ObjectName, Query, Select, SelectItem, SetExpr, Subscript, Value,
    VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::decode::schema::{Field, Kind, RECORD_FIELDS};

/// Rewrites `statement` in place. Forms it cannot rewrite are left for the planner to refuse.
pub fn rewrite(statement: &mut Statement) {
    if let Statement::Statement(sql) = statement {
        let _ = sql.visit(&mut Rewriter);
    }
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> std::ops::ControlFlow<()> {
        for_each_select(&mut query.body, &mut |select| {
            name_fields(&mut select.projection);
            unnest::fold_unnest_joins(select);
        });
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> std::ops::ControlFlow<()> {
        order_by_shadowed_columns(query);
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        if let Some(replacement) = function_form(expr) {
            *expr = replacement;
        }
        if let Expr::CompoundFieldAccess { root, access_chain } = expr {
            field_access(root, access_chain);
            if let Some(lookups) = json_lookups(root, access_chain) {
                *expr = lookups;
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Trino's `IPADDRESS` casts, `try(...)`, and functions DataFusion knows by another name.
fn function_form(expr: &mut Expr) -> Option<Expr> {
    match expr {
        Expr::Cast {
            expr: inner,
            data_type: DataType::Custom(name, _),
            ..
        } if name.to_string().eq_ignore_ascii_case("ipaddress") => {
            // Text that is no address gives NULL, even without TRY_CAST: Trino evaluates `AND`
            // row by row, so published queries guard the cast (`regexp_like(ip, '^[0-9.]+$')
            // AND contains(net, CAST(ip AS IPADDRESS))`); DataFusion evaluates both sides, and
            // the guard would not keep the cast from failing.
            parse_expr(&format!("try_ipaddress({inner})"))
        }
        Expr::Like { expr: inner, .. }
        | Expr::ILike { expr: inner, .. }
        | Expr::Substring { expr: inner, .. } => {
            as_cloudtrail_text(inner);
            None
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            match name.as_str() {
                // Trino's `try(e)`: NULL where `e` fails. A cast becomes a TRY_CAST; anything
                // else is run as it is, so a failure is an error, never a silent NULL.
                "try" => {
                    let mut arg = single_argument(f)?.clone();
                    match &mut arg {
                        Expr::Cast { kind, .. } => *kind = CastKind::TryCast,
                        Expr::Function(g) if g.name.to_string() == "ipaddress" => {
                            g.name = ObjectName::from(vec![Ident::new("try_ipaddress")]);
                        }
                        _ => {}
                    }
                    Some(Expr::Nested(Box::new(arg)))
                }
                "split" => {
                    f.name = ObjectName::from(vec![Ident::new("string_to_array")]);
                    None
                }
                // Athena's string `eventtime`: a timestamp given to a string function is the
                // text CloudTrail writes (the analyzer rule does this in filters; a SELECT
                // list is typed before analysis, so it is done here too).
                name if super::dialect::STRING_FUNCTIONS.contains(&name) => {
                    if let FunctionArguments::List(list) = &mut f.args {
                        for arg in &mut list.args {
                            if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                                as_cloudtrail_text(e);
                            }
                        }
                    }
                    None
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A timestamp column of ours, as `to_char(column, <CloudTrail's format>)`.
fn as_cloudtrail_text(expr: &mut Expr) {
    if matches!(kind_of(expr), Some(Kind::Time))
        && let Some(text) = parse_expr(&format!(
            "to_char({expr}, '{}')",
            super::dialect::CLOUDTRAIL_TIME_FORMAT
        ))
    {
        *expr = text;
    }
}

fn single_argument(f: &Function) -> Option<&Expr> {
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e),
        _ => None,
    }
}

fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// Trino's `IPADDRESS '10.0.0.0'` literal, which the parser does not take, as
/// `ipaddress('10.0.0.0')`: done on the tokens, so text inside string literals is untouched.
pub fn ipaddress_literals(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};
    if !sql.to_ascii_lowercase().contains("ipaddress") {
        return sql.into();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return sql.into();
    };
    // Byte offset of a 1-based line and character column.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |at: Location| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        let within = sql[start..]
            .char_indices()
            .nth(column)
            .map_or(sql.len() - start, |(i, _)| i);
        Some(start + within)
    };
    // (start of the word, end of the string) of each `IPADDRESS '...'`.
    let mut literals: Vec<(usize, usize)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Word(w) = &token.token else {
            continue;
        };
        if w.quote_style.is_some() || !w.value.eq_ignore_ascii_case("ipaddress") {
            continue;
        }
        let next = tokens[i + 1..]
            .iter()
            .find(|t| !matches!(t.token, Token::Whitespace(_)));
        if let Some(string) = next
            && matches!(string.token, Token::SingleQuotedString(_))
            && let (Some(from), Some(to)) = (offset(token.span.start), offset(string.span.end))
        {
            literals.push((from, to));
        }
    }
    if literals.is_empty() {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len() + literals.len() * 2);
    let mut copied = 0;
    for (from, to) in literals {
        let word_end = from + "ipaddress".len();
        out.push_str(&sql[copied..from]);
        out.push_str("ipaddress(");
        out.push_str(sql[word_end..to].trim_start());
        out.push(')');
        copied = to;
    }
    out.push_str(&sql[copied..]);
    out.into()
}

/// `SELECT to_iso8601(c.created_at) AS created_at ... ORDER BY c.created_at`: Trino sorts by
/// the source column; DataFusion finds `c.created_at` and the output `created_at` ambiguous.
/// The sort keys that a same-named output column shadows become hidden columns of a subquery
/// the ordering is applied over.
fn order_by_shadowed_columns(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::OrderByKind;
    let SetExpr::Select(select) = query.body.as_ref() else {
        return;
    };
    let Some(order_by) = &query.order_by else {
        return;
    };
    let OrderByKind::Expressions(items) = &order_by.kind else {
        return;
    };
    if select.distinct.is_some() {
        return;
    }
    let outputs: Vec<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
            _ => None,
        })
        .collect();
    let shadowed = |e: &Expr| match e {
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|p| outputs.contains(&p.value.to_lowercase())),
        _ => false,
    };
    // Only a plain ordering is rewritten: shadowed columns, output names and positions.
    let plain = |e: &Expr| {
        shadowed(e)
            || matches!(e, Expr::Identifier(_))
            || matches!(e, Expr::Value(v) if matches!(v.value, Value::Number(..)))
    };
    if !items.iter().any(|i| shadowed(&i.expr)) || !items.iter().all(|i| plain(&i.expr)) {
        return;
    }
    let mut inner = query.clone();
    let with = inner.with.take();
    inner.order_by = None;
    inner.limit_clause = None;
    inner.fetch = None;
    let mut hidden = Vec::new();
    let mut order = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let mut item = item.clone();
        if shadowed(&item.expr) {
            let name = format!("__order_{k}");
            if let SetExpr::Select(s) = inner.body.as_mut() {
                s.projection.push(SelectItem::ExprWithAlias {
                    expr: item.expr.clone(),
                    alias: Ident::new(&name),
                });
            }
            item.expr = Expr::Identifier(Ident::new(&name));
            hidden.push(name);
        }
        order.push(item.to_string());
    }
    let with = with.map_or(String::new(), |w| format!("{w} "));
    let limit = query
        .limit_clause
        .as_ref()
        .map_or(String::new(), |l| l.to_string());
    let sql = format!(
        "{with}SELECT * EXCLUDE ({}) FROM ({inner}) AS __ordered ORDER BY {}{limit}",
        hidden.join(", "),
        order.join(", ")
    );
    if let Ok(rewritten) = Parser::new(&GenericDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
    {
        *query = *rewritten;
    }
}

/// The SELECTs of a query body (both sides of a UNION and the like).
fn for_each_select(body: &mut SetExpr, f: &mut impl FnMut(&mut Select)) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            for_each_select(left, f);
            for_each_select(right, f);
        }
        SetExpr::Select(select) => f(select),
        _ => {}
    }
}

/// Gives unaliased field selections (`useridentity.arn`, `r.arn`, `resources[1].arn`) the
/// field's name, unless two would share it or it is another column's name.
fn name_fields(items: &mut [SelectItem]) {
    let field_name = |item: &SelectItem| -> Option<String> {
        match item {
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) if parts.len() >= 2 => {
                parts.last().map(|p| p.value.to_lowercase())
            }
            SelectItem::UnnamedExpr(Expr::CompoundFieldAccess { access_chain, .. }) => {
                match access_chain.last()? {
                    AccessExpr::Dot(Expr::Identifier(id)) => Some(id.value.to_lowercase()),
                    AccessExpr::Subscript(Subscript::Index {
                        index: Expr::Value(v),
                    }) => match &v.value {
                        Value::SingleQuotedString(s) => Some(s.to_lowercase()),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    };
    let taken = |item: &SelectItem| -> Option<String> {
        match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.to_lowercase()),
            _ => None,
        }
    };
    let names: Vec<Option<String>> = items.iter().map(field_name).collect();
    let mut all: Vec<String> = items.iter().filter_map(taken).collect();
    all.extend(names.iter().flatten().cloned());
    for (item, name) in items.iter_mut().zip(names) {
        let Some(name) = name else { continue };
        if all.iter().filter(|n| **n == name).count() != 1 {
            continue;
        }
        if let SelectItem::UnnamedExpr(expr) = item {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', name),
            };
        }
    }
}

/// `x.field` on an expression becomes `x['field']`, and a field of one of our structs is named
/// as the struct names it, whatever its case.
fn field_access(root: &Expr, chain: &mut [AccessExpr]) {
    let mut kind = kind_of(root);
    for access in chain {
        let key = match access {
            AccessExpr::Dot(Expr::Identifier(id)) => Some(if id.quote_style.is_some() {
                id.value.clone()
            } else {
                id.value.to_lowercase()
            }),
            AccessExpr::Subscript(Subscript::Index {
                index: Expr::Value(v),
            }) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        };
        let Some(key) = key else {
            // An array index: the element's kind.
            kind = match kind {
                Some(Kind::List(fields)) => Some(Kind::Struct(fields)),
                _ => None,
            };
            continue;
        };
        let field = match kind {
            Some(Kind::Struct(fields)) => find(fields, &key),
            _ => None,
        };
        let name = field.map_or(key, |f| f.name.to_string());
        *access = AccessExpr::Subscript(Subscript::Index {
            index: Expr::value(Value::SingleQuotedString(name)),
        });
        kind = field.map(|f| f.kind);
    }
}

/// `requestparameters['bucketName']['x']` on JSON text: `element_at` lookups, as on Lake's maps.
fn json_lookups(root: &Expr, chain: &[AccessExpr]) -> Option<Expr> {
    if !matches!(kind_of(root), Some(Kind::Json)) {
        return None;
    }
    let mut expr = root.clone();
    let mut rest = chain;
    while let Some((AccessExpr::Subscript(Subscript::Index { index }), tail)) = rest.split_first() {
        let Expr::Value(v) = index else { break };
        let Value::SingleQuotedString(key) = &v.value else {
            break;
        };
        let key = key.replace('\'', "''");
        expr = parse_expr(&format!("element_at({expr}, '{key}')"))?;
        rest = tail;
    }
    if rest.len() == chain.len() {
        return None;
    }
    Some(if rest.is_empty() {
        expr
    } else {
        Expr::CompoundFieldAccess {
            root: Box::new(expr),
            access_chain: rest.to_vec(),
        }
    })
}

fn find(fields: &'static [Field], name: &str) -> Option<&'static Field> {
    fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// What our schema says an expression is: a column or a path into one (`resources`,
/// `t.useridentity.sessioncontext`), or `element_at` of an array of structs.
fn kind_of(expr: &Expr) -> Option<Kind> {
    match expr {
        Expr::Identifier(id) => find(RECORD_FIELDS, &id.value).map(|f| f.kind),
        Expr::CompoundIdentifier(parts) => {
            // A leading table qualifier is skipped when it names no column.
            let start = usize::from(find(RECORD_FIELDS, &parts[0].value).is_none());
            let mut kind = Kind::Struct(RECORD_FIELDS);
            for part in parts.get(start..)? {
                let Kind::Struct(fields) = kind else {
                    return None;
                };
                kind = find(fields, &part.value)?.kind;
            }
            Some(kind)
        }
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("element_at") => {
            let FunctionArguments::List(list) = &f.args else {
                return None;
            };
            match list.args.first()? {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(array)) => match kind_of(array)? {
                    Kind::List(fields) => Some(Kind::Struct(fields)),
                    _ => None,
                },
                _ => None,
            }
        }
        Expr::Nested(inner) => kind_of(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
mod unnest;
