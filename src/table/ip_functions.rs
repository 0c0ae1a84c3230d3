//! The enrichment functions ([`crate::enrich`]) as SQL: `ip_country(ip)`, `ip_asn(ip)`,
//! `ip_as_org(ip)`, `ip_aws_service(ip)`, `ip_in(ip, 'list')` and `known_bad(ip)`. Each answers
//! from the session's [`Enrichment`]; without its file, NULL (and the enrichment notes why).
//! On a cluster a function travels with its files' [`Pinned`] names ([`shipped`], [`pinned_udf`])
//! and the executor loads the same files.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, UInt32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::enrich::{Enrichment, Pinned};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Country,
    Asn,
    AsOrg,
    AwsService,
    InList,
    KnownBad,
}

const FUNCTIONS: [(&str, Kind); 6] = [
    ("ip_country", Kind::Country),
    ("ip_asn", Kind::Asn),
    ("ip_as_org", Kind::AsOrg),
    ("ip_aws_service", Kind::AwsService),
    ("ip_in", Kind::InList),
    ("known_bad", Kind::KnownBad),
];

/// The functions, answering from `enrichment`.
pub fn udfs(enrichment: &Arc<Enrichment>) -> Vec<ScalarUDF> {
    FUNCTIONS
        .iter()
        .map(|(name, kind)| IpFunction::udf(name, *kind, Files::Loaded(Arc::clone(enrichment))))
        .collect()
}

/// What `udf` carries to another process when it is an IP function: its files, pinned. Marks
/// them used (the client's output cites them) and notes a missing one.
pub fn shipped(udf: &ScalarUDF) -> Option<Pinned> {
    let f = udf.inner().downcast_ref::<IpFunction>()?;
    Some(match &f.files {
        Files::Loaded(e) => {
            e.asked_elsewhere(f.name);
            e.pinned()
        }
        Files::Pinned(p, _) => p.clone(),
    })
}

/// The IP function `name` answering from `pinned`'s files, loaded when it is first asked (a
/// scheduler plans with it and never loads them).
pub fn pinned_udf(name: &str, pinned: Pinned) -> Option<ScalarUDF> {
    let (name, kind) = FUNCTIONS.iter().find(|(n, _)| *n == name)?;
    Some(IpFunction::udf(
        name,
        *kind,
        Files::Pinned(pinned, std::sync::OnceLock::new()),
    ))
}

/// Where a function's answers come from: files loaded here, or pinned ones, loaded (through
/// the process's cache) when first asked and then kept for the function's later batches.
#[derive(Debug)]
enum Files {
    Loaded(Arc<Enrichment>),
    Pinned(Pinned, std::sync::OnceLock<Arc<Enrichment>>),
}

/// `look` applied to each row's address (NULL stays NULL), each distinct address looked up once.
fn per_address<'a, T: Clone>(
    rows: usize,
    cell: &dyn Fn(usize) -> Option<&'a str>,
    look: &dyn Fn(&str) -> Option<T>,
) -> Vec<Option<T>> {
    let mut seen: HashMap<&'a str, Option<T>> = HashMap::new();
    (0..rows)
        .map(|r| {
            let ip = cell(r)?;
            seen.entry(ip).or_insert_with(|| look(ip)).clone()
        })
        .collect()
}

#[derive(Debug)]
struct IpFunction {
    name: &'static str,
    kind: Kind,
    files: Files,
    signature: Signature,
}

impl PartialEq for IpFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && match (&self.files, &other.files) {
                (Files::Loaded(a), Files::Loaded(b)) => Arc::ptr_eq(a, b),
                (Files::Pinned(a, _), Files::Pinned(b, _)) => a == b,
                _ => false,
            }
    }
}

impl Eq for IpFunction {}

impl Hash for IpFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl IpFunction {
    fn udf(name: &'static str, kind: Kind, files: Files) -> ScalarUDF {
        ScalarUDF::new_from_impl(IpFunction {
            name,
            kind,
            files,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }

    fn enrichment(&self) -> Result<Arc<Enrichment>> {
        match &self.files {
            Files::Loaded(e) => Ok(Arc::clone(e)),
            Files::Pinned(p, loaded) => {
                if let Some(e) = loaded.get() {
                    return Ok(Arc::clone(e));
                }
                let e = p
                    .load()
                    .map_err(|e| DataFusionError::Execution(e.to_string()))?;
                Ok(Arc::clone(loaded.get_or_init(|| e)))
            }
        }
    }

    fn arity(&self) -> usize {
        if self.kind == Kind::InList { 2 } else { 1 }
    }
}

impl ScalarUDFImpl for IpFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != self.arity() {
            return plan_err!(
                "{} takes {} argument{}",
                self.name,
                self.arity(),
                if self.arity() == 1 { "" } else { "s" }
            );
        }
        Ok(vec![DataType::Utf8; self.arity()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Asn => DataType::UInt32,
            Kind::InList | Kind::KnownBad => DataType::Boolean,
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = args.number_rows;
        let texts = |i: usize| -> Result<ArrayRef> {
            Ok(cast(&args.args[i].to_array(rows)?, &DataType::Utf8)?)
        };
        let ips = texts(0)?;
        let ips = ips.as_string::<i32>();
        let cell = |row: usize| (!ips.is_null(row)).then(|| ips.value(row));
        let e = self.enrichment()?;
        // A batch repeats few addresses: each is looked up once per batch.
        let each = |look: &dyn Fn(&str) -> Option<String>| per_address(rows, &cell, look);
        let array: ArrayRef = match self.kind {
            Kind::Country => Arc::new(StringArray::from(each(&|ip| e.country(ip)))),
            Kind::AsOrg => Arc::new(StringArray::from(each(&|ip| e.as_org(ip)))),
            Kind::AwsService => Arc::new(StringArray::from(each(&|ip| e.aws_service(ip)))),
            Kind::Asn => Arc::new(UInt32Array::from(per_address(rows, &cell, &|ip| e.asn(ip)))),
            Kind::KnownBad => Arc::new(BooleanArray::from(per_address(rows, &cell, &|ip| {
                e.known_bad(ip)
            }))),
            Kind::InList => {
                let lists = texts(1)?;
                let lists = lists.as_string::<i32>();
                Arc::new(
                    (0..rows)
                        .map(|r| {
                            let list = (!lists.is_null(r)).then(|| lists.value(r))?;
                            e.in_list(cell(r)?, list)
                        })
                        .collect::<BooleanArray>(),
                )
            }
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
        } else {
            ColumnarValue::Array(array)
        })
    }
}
