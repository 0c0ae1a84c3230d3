//! GROUP BY on a lake's low-cardinality text columns, on their dictionary keys.
//!
//! The lake's Parquet dictionary-encodes text columns such as the event name and source. DataFusion
//! 55 reads them as plain strings, copying each row's value out of the dictionary, and its
//! aggregate then hashes every string: about a third of the CPU of `SELECT eventname, count(*)
//! ... GROUP BY 1` in a profile at 5M events. [`DictionaryGroups`] finds a partial aggregate
//! grouped by such columns over a lake scan, has the scan read those columns as dictionaries, and
//! puts [`DictionaryGroupsExec`] in the aggregate's place: it hashes each batch's distinct values
//! once and finds a row's group from its keys. Its output is the partial aggregate's, column for
//! column and type for type, so the final aggregate above it is unchanged, and so is the answer.
//! Over a lake that is behind its archive (a union of the lake's scan and the raw objects), the
//! lake's branch is taken alone.
//!
//! The rule leaves a plan alone unless everything between the aggregate and the scan is a filter
//! or projection that does not read the group columns (a projection may pass them on) or a
//! round-robin repartition, the scan's own row filter
//! reads them only through `IS [NOT] NULL`, and every aggregate is a plain one (no DISTINCT,
//! ORDER BY or FILTER) that does not read them either: only then is no expression handed a
//! dictionary it was not planned for.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Int32Type, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{HashMap, internal_err};
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfig, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::expressions::{Column, IsNotNullExpr, IsNullExpr};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream, replace_children_if_necessary,
};
use futures::StreamExt;

use super::STORE_URL;
use crate::lake::write::{FEW_VALUES, lake_file_schema};
use crate::table::shared_scan::with_dictionaries;

/// Groups at most this many columns (a group is a fixed array of their value numbers).
const MAX_COLUMNS: usize = 4;

/// The physical optimizer rule (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct DictionaryGroups;

impl PhysicalOptimizerRule for DictionaryGroups {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        crate::table::rewrite_nodes(plan, rewrite)
    }

    fn name(&self) -> &str {
        "dictionary_groups"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `node` rewritten, when it is a partial aggregate the rule can take over.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let plain_aggregates =
        aggregate.aggr_expr().iter().all(|a| {
            a.groups_accumulator_supported() && !a.is_distinct() && a.order_bys().is_empty()
        }) && aggregate.filter_expr().iter().all(Option::is_none);
    if *aggregate.mode() != AggregateMode::Partial
        || !aggregate.group_expr().is_single()
        || aggregate.limit_options().is_some()
        || !plain_aggregates
    {
        return Ok(None);
    }
    // The group columns, by name: the lake's columns are named uniquely from scan to aggregate.
    let input_schema = aggregate.input().schema();
    let mut names = Vec::new();
    for (expr, _) in aggregate.group_expr().expr() {
        let Some(column) = expr.downcast_ref::<Column>() else {
            return Ok(None);
        };
        let name = column.name();
        let is_text = input_schema
            .field_with_name(name)
            .is_ok_and(|f| f.data_type() == &DataType::Utf8);
        if !FEW_VALUES.contains(&name) || !is_text || names.contains(&name) {
            return Ok(None);
        }
        names.push(name);
    }
    if names.is_empty() || names.len() > MAX_COLUMNS {
        return Ok(None);
    }
    let aggregates_read_groups = aggregate
        .aggr_expr()
        .iter()
        .flat_map(|a| a.expressions())
        .any(|e| reads(&e, &names, false));
    if aggregates_read_groups {
        return Ok(None);
    }
    // Over a union (the lake's files and the raw objects it does not hold yet), a partial
    // aggregate is the union of the partial aggregates of its branches, each taken on its own.
    let mut chain = Vec::new();
    let mut below = aggregate.input();
    while passes_on(below, &names) {
        chain.push(below);
        below = below.children()[0];
    }
    if let Some(union) = below.downcast_ref::<UnionExec>() {
        let mut taken = false;
        let mut branches = Vec::new();
        for branch in union.children() {
            let input = chain
                .iter()
                .rev()
                .try_fold(Arc::clone(branch), |input, op| {
                    replace_children_if_necessary(Arc::clone(op), vec![input])
                })?;
            let partial = replace_children_if_necessary(Arc::clone(node), vec![input])?;
            branches.push(match rewrite(&partial)? {
                Some(on_keys) => {
                    taken = true;
                    on_keys
                }
                None => partial,
            });
        }
        return Ok(if taken {
            Some(UnionExec::try_new(branches)?)
        } else {
            None
        });
    }
    let Some(input) = with_dictionary_scan(aggregate.input(), &names)? else {
        return Ok(None);
    };
    let group_indices = names
        .iter()
        .map(|n| input.schema().index_of(n))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Some(Arc::new(DictionaryGroupsExec::new(
        input,
        group_indices,
        aggregate.aggr_expr().to_vec(),
        aggregate.schema(),
    ))))
}

/// Whether `plan` passes rows on, each partition alone, without reading the group columns
/// `names` (a projection may pass them on as they are).
fn passes_on(plan: &Arc<dyn ExecutionPlan>, names: &[&str]) -> bool {
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        return !reads(filter.predicate(), names, false);
    }
    if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        return projection
            .expr()
            .iter()
            .all(|e| match e.expr.downcast_ref::<Column>() {
                Some(c) if names.contains(&c.name()) => e.alias == c.name(),
                _ => !reads(&e.expr, names, false),
            });
    }
    plan.downcast_ref::<RepartitionExec>().is_some_and(|r| {
        matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)) && !r.preserve_order()
    })
}

/// `plan` (filters over a lake scan) again, its scan reading `names` as dictionaries; `None`
/// when it is something else, or when an expression in it reads one of them as text.
fn with_dictionary_scan(
    plan: &Arc<dyn ExecutionPlan>,
    names: &[&str],
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if passes_on(plan, names) {
        let Some(input) = with_dictionary_scan(plan.children()[0], names)? else {
            return Ok(None);
        };
        // A projection keeps the output types it was planned with: it is planned again.
        return Ok(Some(match plan.downcast_ref::<ProjectionExec>() {
            Some(projection) => Arc::new(ProjectionExec::try_new(
                projection.expr().iter().cloned(),
                input,
            )?),
            None => replace_children_if_necessary(Arc::clone(plan), vec![input])?,
        }));
    }
    let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|scan| scan.data_source().downcast_ref::<FileScanConfig>())
    else {
        return Ok(None);
    };
    let Some(parquet) = config.file_source().downcast_ref::<ParquetSource>() else {
        return Ok(None);
    };
    let ours = config.object_store_url.as_str().trim_end_matches('/') == STORE_URL;
    let filter = parquet.filter();
    if !ours || filter.as_ref().is_some_and(|p| reads(p, names, true)) {
        return Ok(None);
    }
    // Each file read as dictionaries (the reader keeps a dictionary page's values and keys).
    let file_schema = with_dictionaries(&lake_file_schema(), names);
    let table = TableSchema::builder(Arc::clone(&file_schema))
        .with_table_partition_cols(parquet.table_schema().table_partition_cols().to_vec())
        .build();
    let mut source = ParquetSource::new(table)
        .with_table_parquet_options(parquet.table_parquet_options().clone());
    if let Some(predicate) = filter {
        source = source.with_predicate(predicate);
    }
    // The scan's own projection (columns, and struct fields DataFusion pushed into it), over the
    // new types.
    let source: Arc<dyn FileSource> = match parquet.projection() {
        Some(projection) => match source.try_pushdown_projection(projection)? {
            Some(projected) => projected,
            None => return Ok(None),
        },
        None => Arc::new(source),
    };
    let groups = config
        .file_groups
        .iter()
        .map(|group| {
            FileGroup::new(
                group
                    .iter()
                    .map(|f| f.clone().with_arrow_schema(Arc::clone(&file_schema)))
                    .collect(),
            )
        })
        .collect();
    let config = FileScanConfigBuilder::from(config.clone())
        .with_source(source)
        .with_file_groups(groups)
        .build();
    Ok(Some(DataSourceExec::from_data_source(config)))
}

/// Whether `expr` reads one of `names`; with `nulls_only_ok`, reading one only to test it for
/// NULL does not count (a test that means the same on a dictionary).
fn reads(expr: &Arc<dyn PhysicalExpr>, names: &[&str], nulls_only_ok: bool) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        if nulls_only_ok && (e.is::<IsNullExpr>() || e.is::<IsNotNullExpr>()) {
            let tests_a_column = e.children().first().is_some_and(|c| c.is::<Column>());
            if tests_a_column {
                return Ok(TreeNodeRecursion::Jump);
            }
        }
        if let Some(c) = e.downcast_ref::<Column>()
            && names.contains(&c.name())
        {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// A partial aggregate grouped by dictionary columns (see the module's documentation).
#[derive(Debug)]
pub(crate) struct DictionaryGroupsExec {
    input: Arc<dyn ExecutionPlan>,
    /// The group columns' positions in the input.
    groups: Vec<usize>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    /// The replaced aggregate's output: the group columns as text, then each aggregate's state.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DictionaryGroupsExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        groups: Vec<usize>,
        aggregates: Vec<Arc<AggregateFunctionExpr>>,
        schema: SchemaRef,
    ) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        DictionaryGroupsExec {
            input,
            groups,
            aggregates,
            schema,
            properties,
        }
    }
}

impl DisplayAs for DictionaryGroupsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let input = self.input.schema();
        let groups: Vec<&str> = self
            .groups
            .iter()
            .map(|&i| input.field(i).name().as_str())
            .collect();
        let aggregates: Vec<&str> = self.aggregates.iter().map(|a| a.name()).collect();
        write!(
            f,
            "DictionaryGroupsExec: mode=Partial, gby=[{}], aggr=[{}]",
            groups.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for DictionaryGroupsExec {
    fn name(&self) -> &str {
        "DictionaryGroupsExec"
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let mut recursion = TreeNodeRecursion::Continue;
        for e in self.aggregates.iter().flat_map(|a| a.expressions()) {
            recursion = f(&e)?;
            if recursion == TreeNodeRecursion::Stop {
                break;
            }
        }
        Ok(recursion)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("DictionaryGroupsExec has one input");
        }
        Ok(Arc::new(DictionaryGroupsExec::new(
            children.remove(0),
            self.groups.clone(),
            self.aggregates.clone(),
            Arc::clone(&self.schema),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, context)?;
        let mut groups = Groups::new(self.groups.clone(), &self.aggregates)?;
        let schema = Arc::clone(&self.schema);
        let output = futures::stream::once(async move {
            while let Some(batch) = input.next().await {
                groups.add(&batch?)?;
            }
            groups.finish(&schema)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            output,
        )))
    }
}

/// A group column's values met so far, each numbered once.
#[derive(Default)]
struct Values {
    numbers: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
}

/// The number of a NULL group value.
const NULL: u32 = u32::MAX;

impl Values {
    fn number(&mut self, text: &str) -> u32 {
        if let Some(&n) = self.numbers.get(text) {
            return n;
        }
        let n = self.texts.len() as u32;
        self.texts.push(text.into());
        self.numbers.insert(text.into(), n);
        n
    }
}

/// The dictionary key of `row` (`numbered - 1`, the NULL's place, for a NULL key), checked to
/// lie inside its dictionary of `numbered - 1` values.
fn local_key(keys: &Int32Array, row: usize, numbered: usize, position: usize) -> Result<usize> {
    if keys.is_null(row) {
        return Ok(numbered - 1);
    }
    match usize::try_from(keys.value(row)) {
        Ok(at) if at < numbered - 1 => Ok(at),
        _ => {
            internal_err!("DictionaryGroupsExec: a key outside its dictionary in column {position}")
        }
    }
}

/// The value numbers of `row`, one per column: a group's key.
fn value_numbers(
    columns: &[(usize, &Int32Array, Vec<u32>)],
    row: usize,
) -> Result<[u32; MAX_COLUMNS]> {
    let mut key = [0u32; MAX_COLUMNS];
    for (c, (position, keys, numbers)) in columns.iter().enumerate() {
        key[c] = numbers[local_key(keys, row, numbers.len(), *position)?];
    }
    Ok(key)
}

/// One partition's groups and accumulators.
struct Groups {
    columns: Vec<usize>,
    values: Vec<Values>,
    /// Each group's value numbers, one per column (unused ones 0).
    keys: Vec<[u32; MAX_COLUMNS]>,
    index: HashMap<[u32; MAX_COLUMNS], usize>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
}

impl Groups {
    fn new(columns: Vec<usize>, aggregates: &[Arc<AggregateFunctionExpr>]) -> Result<Groups> {
        Ok(Groups {
            values: columns.iter().map(|_| Values::default()).collect(),
            columns,
            keys: Vec::new(),
            index: HashMap::new(),
            arguments: aggregates.iter().map(|a| a.expressions()).collect(),
            accumulators: aggregates
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
        })
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        // Each dictionary value numbered once, its NULL after the values.
        let mut columns = Vec::with_capacity(self.columns.len());
        for (&position, values) in self.columns.iter().zip(&mut self.values) {
            let Some(dictionary) = batch.column(position).as_dictionary_opt::<Int32Type>() else {
                return internal_err!(
                    "DictionaryGroupsExec: column {position} is not a dictionary"
                );
            };
            let Some(texts) = dictionary.values().as_string_opt::<i32>() else {
                return internal_err!("DictionaryGroupsExec: dictionary values are not text");
            };
            let mut numbers: Vec<u32> = (0..texts.len())
                .map(|i| {
                    if texts.is_null(i) {
                        NULL
                    } else {
                        values.number(texts.value(i))
                    }
                })
                .collect();
            numbers.push(NULL);
            columns.push((position, dictionary.keys(), numbers));
        }
        // A row's dictionary keys, all columns' together, are one number below `combinations`;
        // each number met is looked up in the groups once per batch, not once per row.
        let combinations = columns
            .iter()
            .try_fold(1usize, |product, (_, _, numbers)| {
                product.checked_mul(numbers.len())
            })
            .filter(|&n| n <= rows.max(1024) * 4);
        let Some(combinations) = combinations else {
            return self.add_hashing_rows(batch, &columns);
        };
        // Each row's combination of keys (a NULL key is its column's last place), column by
        // column in tight loops over the key arrays, not a call per row and column; then, in
        // place, each row's group.
        let mut per_row = vec![0usize; rows];
        let mut stride: usize = 1;
        for (position, keys, numbers) in &columns {
            let null_place = numbers.len() - 1;
            // A negative key wraps to a large number: outside, as a key past the end is (and the
            // sums wrap rather than overflow until the batch is refused below).
            let mut outside = false;
            match keys.nulls() {
                None => {
                    for (combination, &key) in per_row.iter_mut().zip(keys.values()) {
                        outside |= key as usize >= null_place;
                        *combination = combination.wrapping_add(stride.wrapping_mul(key as usize));
                    }
                }
                Some(nulls) => {
                    for (row, (combination, &key)) in
                        per_row.iter_mut().zip(keys.values()).enumerate()
                    {
                        let key = match nulls.is_valid(row) {
                            true => {
                                outside |= key as usize >= null_place;
                                key as usize
                            }
                            false => null_place,
                        };
                        *combination = combination.wrapping_add(stride.wrapping_mul(key));
                    }
                }
            }
            if outside {
                return internal_err!(
                    "DictionaryGroupsExec: a key outside its dictionary in column {position}"
                );
            }
            stride *= numbers.len();
        }
        let mut group_of_combination = vec![usize::MAX; combinations];
        for (row, slot) in per_row.iter_mut().enumerate() {
            let mut group = group_of_combination[*slot];
            if group == usize::MAX {
                group = self.group(value_numbers(&columns, row)?);
                group_of_combination[*slot] = group;
            }
            *slot = group;
        }
        self.accumulate(batch, &per_row)
    }

    /// Rows grouped one by one, for dictionaries too large to combine densely.
    fn add_hashing_rows(
        &mut self,
        batch: &RecordBatch,
        columns: &[(usize, &Int32Array, Vec<u32>)],
    ) -> Result<()> {
        let mut group_of_row = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            group_of_row.push(self.group(value_numbers(columns, row)?));
        }
        self.accumulate(batch, &group_of_row)
    }

    /// The group of the value numbers `key`, new if not met before.
    fn group(&mut self, key: [u32; MAX_COLUMNS]) -> usize {
        *self.index.entry(key).or_insert_with(|| {
            self.keys.push(key);
            self.keys.len() - 1
        })
    }

    fn accumulate(&mut self, batch: &RecordBatch, group_of_row: &[usize]) -> Result<()> {
        let total = self.keys.len();
        for (arguments, accumulator) in self.arguments.iter().zip(&mut self.accumulators) {
            let values = arguments
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
                .collect::<Result<Vec<ArrayRef>>>()?;
            accumulator.update_batch(&values, group_of_row, None, total)?;
        }
        Ok(())
    }

    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (c, values) in self.values.iter().enumerate() {
            let texts: StringArray = self
                .keys
                .iter()
                .map(|key| (key[c] != NULL).then(|| &*values.texts[key[c] as usize]))
                .collect();
            columns.push(Arc::new(texts));
        }
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

#[cfg(test)]
mod tests;
