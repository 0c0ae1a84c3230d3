//! Streaming JSON straight into Arrow builders, driven by the schema in [`super::schema`].
//!
//! serde visits each record once; every value is appended to its column's builder as it is met,
//! with no intermediate tree. Keys arrive in any order and may be missing or repeated: each struct
//! row tracks which children it has filled and pads the rest with nulls when the object closes.
//! Columns outside the projection are `Skip` builders whose values are parsed and checked by
//! [`Checked`] but not kept: an object is readable or not whatever a query projects (serde's
//! `IgnoredAny` would pass over invalid UTF-8, lone surrogates, control characters and numbers
//! out of range unseen, and a query's projection would decide the object's verdict).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, ListArray, StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field as ArrowField};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::schema::{Field, Kind, TIMEZONE, arrow_fields};
use crate::time::parse_event_time;

/// A builder for one column (or one nested field).
pub enum ColumnBuilder {
    /// Not projected: values are skipped.
    Skip,
    Text(StringBuilder),
    Json(StringBuilder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
    Struct(StructBuilder),
    List(Box<ListBuilder>),
}

impl ColumnBuilder {
    pub fn new(kind: &'static Kind) -> Self {
        match kind {
            Kind::Text => ColumnBuilder::Text(StringBuilder::new()),
            Kind::Json => ColumnBuilder::Json(StringBuilder::new()),
            Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            Kind::Time => ColumnBuilder::Time(TimestampMicrosecondBuilder::new()),
            Kind::Struct(fields) => ColumnBuilder::Struct(StructBuilder::new(fields, None)),
            Kind::List(fields) => ColumnBuilder::List(Box::new(ListBuilder {
                element: StructBuilder::new(fields, None),
                offsets: vec![0],
                validity: Vec::new(),
            })),
        }
    }

    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Skip => {}
            ColumnBuilder::Text(b) | ColumnBuilder::Json(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Time(b) => b.append_null(),
            ColumnBuilder::Struct(s) => s.append_null(),
            ColumnBuilder::List(l) => {
                let end = *l.offsets.last().unwrap_or(&0);
                l.offsets.push(end);
                l.validity.push(false);
            }
        }
    }

    /// Finishes into an array; `None` for `Skip`.
    pub fn finish(&mut self) -> Option<ArrayRef> {
        Some(match self {
            ColumnBuilder::Skip => return None,
            ColumnBuilder::Text(b) | ColumnBuilder::Json(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish().with_timezone(TIMEZONE)),
            ColumnBuilder::Struct(s) => Arc::new(s.finish()),
            ColumnBuilder::List(l) => Arc::new(l.finish()),
        })
    }
}

/// The fields of a struct column a query reads, by name: `Whole` builds a field with all it
/// holds, `Only` builds the named fields of a struct and no others (they are parsed and checked,
/// as an unprojected column is, and come out all NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Whole,
    Only(BTreeMap<String, Need>),
}

impl Need {
    /// What both `self` and `other` read.
    pub fn merge(&mut self, other: Need) {
        match (self, other) {
            (Need::Whole, _) => {}
            (me, Need::Whole) => *me = Need::Whole,
            (Need::Only(mine), Need::Only(theirs)) => {
                for (name, need) in theirs {
                    match mine.get_mut(&name) {
                        Some(have) => have.merge(need),
                        None => {
                            mine.insert(name, need);
                        }
                    }
                }
            }
        }
    }

    /// `leaf` read at `path` inside a struct (`sessioncontext`, `sessionissuer`, `arn`: the need
    /// of `useridentity.sessioncontext.sessionissuer.arn` of `useridentity`).
    pub fn at(path: &[String], leaf: Need) -> Need {
        path.iter().rev().fold(leaf, |inner, name| {
            Need::Only(BTreeMap::from([(name.clone(), inner)]))
        })
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Need::Whole => Ok(()),
            Need::Only(fields) => {
                f.write_str("{")?;
                for (i, (name, need)) in fields.iter().enumerate() {
                    let comma = if i > 0 { "," } else { "" };
                    write!(f, "{comma}{name}{need}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A struct column: one builder per child, plus the struct's own validity.
pub struct StructBuilder {
    fields: &'static [Field],
    children: Vec<ColumnBuilder>,
    validity: Vec<bool>,
    /// Top level only: a JSON object of keys that have no column, when `other_fields` is wanted.
    other_fields: Option<StringBuilder>,
    /// Top level only: each record's JSON text, when `eventjson` is wanted.
    record_json: Option<StringBuilder>,
    /// Index of the child matched after the previous key: CloudTrail writes keys in a stable
    /// order, so the next key is usually the next field.
    next_guess: usize,
}

impl StructBuilder {
    /// A struct builder; `projection` (indices into `fields`) limits which children are built.
    pub fn new(fields: &'static [Field], projection: Option<&[usize]>) -> Self {
        assert!(fields.len() <= 64, "struct wider than the filled-bitmap");
        let children = fields
            .iter()
            .enumerate()
            .map(|(i, f)| match projection {
                Some(p) if !p.contains(&i) => ColumnBuilder::Skip,
                _ => ColumnBuilder::new(&f.kind),
            })
            .collect();
        StructBuilder {
            fields,
            children,
            validity: Vec::new(),
            other_fields: None,
            record_json: None,
            next_guess: 0,
        }
    }

    /// Builds only the fields of child `index` (a struct) that `fields` names.
    pub fn narrow_child(&mut self, index: usize, fields: &BTreeMap<String, Need>) {
        if let (Some(child), Some(Kind::Struct(children))) = (
            self.children.get_mut(index),
            self.fields.get(index).map(|f| &f.kind),
        ) && !matches!(child, ColumnBuilder::Skip)
        {
            *child = ColumnBuilder::Struct(StructBuilder::narrowed(children, fields));
        }
    }

    fn narrowed(fields: &'static [Field], only: &BTreeMap<String, Need>) -> Self {
        let mut builder = StructBuilder::new(fields, None);
        for (child, field) in builder.children.iter_mut().zip(fields) {
            match only.get(field.name) {
                None => *child = ColumnBuilder::Skip,
                Some(Need::Whole) => {}
                Some(Need::Only(inner)) => {
                    if let Kind::Struct(grandchildren) = &field.kind {
                        *child =
                            ColumnBuilder::Struct(StructBuilder::narrowed(grandchildren, inner));
                    }
                }
            }
        }
        builder
    }

    pub fn collect_other_fields(&mut self) {
        self.other_fields = Some(StringBuilder::new());
    }

    pub fn collect_record_json(&mut self) {
        self.record_json = Some(StringBuilder::new());
    }

    /// Whether each record's JSON text is kept ([`Self::push_record_json`] after appending it).
    pub fn wants_record_json(&self) -> bool {
        self.record_json.is_some()
    }

    pub fn push_record_json(&mut self, text: &str) {
        if let Some(b) = &mut self.record_json {
            b.append_value(text);
        }
    }

    /// The records' JSON text, when it was collected.
    pub fn finish_record_json(&mut self) -> Option<ArrayRef> {
        self.record_json
            .as_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
    }

    pub fn len(&self) -> usize {
        self.validity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.validity.is_empty()
    }

    fn append_null(&mut self) {
        for child in &mut self.children {
            child.append_null();
        }
        if let Some(other) = &mut self.other_fields {
            other.append_null();
        }
        self.validity.push(false);
    }

    fn find(&mut self, key: &str) -> Option<usize> {
        let n = self.fields.len();
        let guess = self.next_guess;
        let hit = (0..n)
            .map(|k| (guess + k) % n)
            .find(|&i| self.fields[i].name.eq_ignore_ascii_case(key))?;
        self.next_guess = hit + 1;
        Some(hit)
    }

    /// Appends one JSON object (or null) read from `deserializer`.
    pub fn append<'de, D: de::Deserializer<'de>>(
        &mut self,
        deserializer: D,
    ) -> Result<(), D::Error> {
        deserializer.deserialize_any(StructVisitor(self))
    }

    /// The top-level columns (children), in field order; `None` where not projected.
    pub fn finish_columns(&mut self) -> (Vec<Option<ArrayRef>>, Option<ArrayRef>) {
        self.validity.clear();
        let columns = self
            .children
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        let other = self
            .other_fields
            .as_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef);
        (columns, other)
    }

    fn finish(&mut self) -> StructArray {
        let fields = arrow_fields(self.fields);
        let len = self.validity.len();
        let arrays: Vec<ArrayRef> = self
            .children
            .iter_mut()
            .zip(fields.iter())
            .map(|(child, field)| {
                child
                    .finish()
                    .unwrap_or_else(|| arrow::array::new_null_array(field.data_type(), len))
            })
            .collect();
        let nulls = NullBuffer::from(std::mem::take(&mut self.validity));
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        StructArray::new(fields, arrays, nulls)
    }
}

pub struct ListBuilder {
    element: StructBuilder,
    offsets: Vec<i32>,
    validity: Vec<bool>,
}

impl ListBuilder {
    fn finish(&mut self) -> ListArray {
        let values = self.element.finish();
        let field = Arc::new(ArrowField::new(
            "item",
            DataType::Struct(arrow_fields(self.element.fields)),
            true,
        ));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(
            &mut self.offsets,
            vec![0],
        )));
        let nulls = NullBuffer::from(std::mem::take(&mut self.validity));
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        ListArray::new(field, offsets, Arc::new(values), nulls)
    }
}

/// Appends one JSON value to a column builder.
struct ValueSeed<'a>(&'a mut ColumnBuilder);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0 {
            ColumnBuilder::Skip => deserializer.deserialize_any(Checked).map(|_| ()),
            ColumnBuilder::Text(b) => deserializer.deserialize_any(TextVisitor(b)),
            ColumnBuilder::Json(b) => {
                let raw = <&RawValue as de::Deserialize>::deserialize(deserializer)?;
                check_raw(raw)?;
                match raw.get() {
                    "null" => b.append_null(),
                    text => b.append_value(text),
                }
                Ok(())
            }
            ColumnBuilder::Bool(b) => deserializer.deserialize_any(BoolVisitor(b)),
            ColumnBuilder::Time(b) => deserializer.deserialize_any(TimeVisitor(b)),
            ColumnBuilder::Struct(s) => s.append(deserializer),
            ColumnBuilder::List(l) => deserializer.deserialize_any(ListVisitor(l)),
        }
    }
}

/// Visitor methods taking any JSON scalar as `visit_unit` (a null of the visitor's column).
macro_rules! scalars_are_null {
    () => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            self.visit_unit()
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            self.visit_unit()
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            self.visit_unit()
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            self.visit_unit()
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            self.visit_unit()
        }
    };
}

struct StructVisitor<'a>(&'a mut StructBuilder);

impl<'de> Visitor<'de> for StructVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let s = self.0;
        let mut filled: u64 = 0;
        let mut other = String::new();
        while let Some(Key(key)) = map.next_key()? {
            match s.find(&key) {
                Some(i) if filled & (1 << i) == 0 => {
                    filled |= 1 << i;
                    map.next_value_seed(ValueSeed(&mut s.children[i]))?;
                }
                // A repeated key: the first occurrence wins, as in most JSON readers.
                Some(_) => {
                    map.next_value::<Checked>()?;
                }
                None if s.other_fields.is_some() => {
                    let raw = map.next_value::<&RawValue>()?;
                    check_raw(raw)?;
                    other.push(if other.is_empty() { '{' } else { ',' });
                    other.push_str(&serde_json::to_string(&key).map_err(de::Error::custom)?);
                    other.push(':');
                    other.push_str(raw.get());
                }
                None => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        for (i, child) in s.children.iter_mut().enumerate() {
            if filled & (1 << i) == 0 {
                child.append_null();
            }
        }
        if let Some(b) = &mut s.other_fields {
            if other.is_empty() {
                b.append_null();
            } else {
                other.push('}');
                b.append_value(&other);
            }
        }
        s.validity.push(true);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.append_null();
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    // A scalar where an object belongs carries none of the struct's fields.
    scalars_are_null!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        self.visit_unit()
    }
}

struct ListVisitor<'a>(&'a mut ListBuilder);

impl<'de> Visitor<'de> for ListVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let l = self.0;
        while seq.next_element_seed(StructSeed(&mut l.element))?.is_some() {}
        let len = i32::try_from(l.element.len())
            .map_err(|_| de::Error::custom("list column larger than 2^31 elements"))?;
        l.offsets.push(len);
        l.validity.push(true);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        let end = *self.0.offsets.last().unwrap_or(&0);
        self.0.offsets.push(end);
        self.0.validity.push(false);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    // A scalar where a list belongs carries none of its elements (as for structs).
    scalars_are_null!();

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        // A single object where a list belongs: keep it as a one-element list.
        self.0
            .element
            .append(de::value::MapAccessDeserializer::new(map))?;
        let len = i32::try_from(self.0.element.len()).map_err(de::Error::custom)?;
        self.0.offsets.push(len);
        self.0.validity.push(true);
        Ok(())
    }
}

/// Appends one struct (list element or record).
pub struct StructSeed<'a>(pub &'a mut StructBuilder);

impl<'de> DeserializeSeed<'de> for StructSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.append(deserializer)
    }
}

struct TextVisitor<'a>(&'a mut StringBuilder);

impl<'de> Visitor<'de> for TextVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.append_value(v);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.append_value(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.append_value(v.to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.append_value(v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.append_value(v.to_string());
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.append_null();
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let value: serde_json::Value =
            de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.0.append_value(value.to_string());
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let value: serde_json::Value =
            de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.0.append_value(value.to_string());
        Ok(())
    }
}

struct BoolVisitor<'a>(&'a mut BooleanBuilder);

impl<'de> Visitor<'de> for BoolVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.append_value(v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if v.eq_ignore_ascii_case("true") {
            self.0.append_value(true);
        } else if v.eq_ignore_ascii_case("false") {
            self.0.append_value(false);
        } else {
            self.0.append_null();
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.append_null();
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.append_value(v != 0);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.append_value(v != 0);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Checked.visit_map(map)?;
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Checked.visit_seq(seq)?;
        self.visit_unit()
    }
}

struct TimeVisitor<'a>(&'a mut TimestampMicrosecondBuilder);

impl<'de> Visitor<'de> for TimeVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timestamp")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.append_option(parse_event_time(v));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.append_null();
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    /// Epoch seconds, as some exports write.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.append_option(v.checked_mul(1_000_000));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0
            .append_option(v.is_finite().then_some((v * 1e6) as i64));
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Checked.visit_map(map)?;
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Checked.visit_seq(seq)?;
        self.visit_unit()
    }
}

/// A JSON value parsed whole and thrown away: strings decoded (UTF-8, escapes, surrogates,
/// control characters checked), numbers converted (range checked), nesting depth limited.
/// What `IgnoredAny` would skip unseen makes the object unreadable here too.
pub(crate) struct Checked;

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// An object's key, borrowed from the document unless it holds an escape. (serde's own `Cow<str>`
/// always copies: a heap allocation for every key of every record.)
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor).map(Key)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A value kept as raw JSON text is checked as [`Checked`] checks the values it skips.
fn check_raw<E: de::Error>(raw: &RawValue) -> Result<(), E> {
    serde_json::from_str::<Checked>(raw.get())
        .map(|_| ())
        .map_err(|e| E::custom(e))
}
