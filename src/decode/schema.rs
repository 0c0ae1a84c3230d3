//! The fixed schema of the `cloudtrail` table, as data.
//!
//! Column names are the lower-cased JSON keys, exactly as Athena's CloudTrail table and
//! CloudTrail Lake name them, so users' existing queries run unchanged. Because the name is the
//! lower-cased key, the decoder matches JSON keys case-insensitively against it (real archives hold
//! both `ARN` and `arn` in `resources`). Free-form fields stay JSON text (`Json`), queried with
//! `json_extract_scalar` and friends. Adding a column is adding a line here.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field as ArrowField, Fields, Schema, SchemaRef, TimeUnit};

/// How a JSON value is stored.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string; numbers and booleans are kept as their JSON text, objects as JSON.
    Text,
    /// Free-form JSON, kept verbatim as text (null when absent or JSON `null`).
    Json,
    /// A boolean; the strings `"true"`/`"false"` count too (old and relayed records use them).
    Bool,
    /// A UTC timestamp (microseconds); ISO-8601 and `YYYY-MM-DD HH:MM:SS[.f]` are accepted.
    Time,
    Struct(&'static [Field]),
    /// A list of structs.
    List(&'static [Field]),
}

#[derive(Debug)]
pub struct Field {
    /// Column name: the JSON key, lower-cased.
    pub name: &'static str,
    pub kind: Kind,
}

const fn text(name: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Text,
    }
}
const fn json(name: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Json,
    }
}
const fn boolean(name: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Bool,
    }
}
const fn structure(name: &'static str, fields: &'static [Field]) -> Field {
    Field {
        name,
        kind: Kind::Struct(fields),
    }
}

const SESSION_ISSUER: &[Field] = &[
    text("type"),
    text("principalid"),
    text("arn"),
    text("accountid"),
    text("username"),
];
const ATTRIBUTES: &[Field] = &[text("creationdate"), text("mfaauthenticated")];
const SESSION_CONTEXT: &[Field] = &[
    structure("attributes", ATTRIBUTES),
    structure("sessionissuer", SESSION_ISSUER),
    json("webidfederationdata"),
    text("sourceidentity"),
    text("ec2roledelivery"),
    text("ec2issuedinvpc"),
];
const ON_BEHALF_OF: &[Field] = &[text("userid"), text("identitystorearn")];
const USER_IDENTITY: &[Field] = &[
    text("type"),
    text("principalid"),
    text("arn"),
    text("accountid"),
    text("accesskeyid"),
    text("username"),
    text("invokedby"),
    text("identityprovider"),
    structure("sessioncontext", SESSION_CONTEXT),
    structure("onbehalfof", ON_BEHALF_OF),
    text("credentialid"),
];
const RESOURCE: &[Field] = &[text("arn"), text("accountid"), text("type")];
const ADDENDUM: &[Field] = &[
    text("reason"),
    text("updatedfields"),
    text("originalrequestid"),
    text("originaleventid"),
];
const TLS_DETAILS: &[Field] = &[
    text("tlsversion"),
    text("ciphersuite"),
    text("clientprovidedhostheader"),
];

/// Every field of a CloudTrail record that has a column (eventVersion 1.0 .. 1.11).
pub const RECORD_FIELDS: &[Field] = &[
    text("eventversion"),
    structure("useridentity", USER_IDENTITY),
    Field {
        name: "eventtime",
        kind: Kind::Time,
    },
    text("eventsource"),
    text("eventname"),
    text("awsregion"),
    text("sourceipaddress"),
    text("useragent"),
    text("errorcode"),
    text("errormessage"),
    json("requestparameters"),
    json("responseelements"),
    json("additionaleventdata"),
    text("requestid"),
    text("eventid"),
    boolean("readonly"),
    Field {
        name: "resources",
        kind: Kind::List(RESOURCE),
    },
    text("eventtype"),
    text("apiversion"),
    boolean("managementevent"),
    text("recipientaccountid"),
    json("serviceeventdetails"),
    text("sharedeventid"),
    text("vpcendpointid"),
    text("vpcendpointaccountid"),
    text("eventcategory"),
    structure("addendum", ADDENDUM),
    text("sessioncredentialfromconsole"),
    json("edgedevicedetails"),
    structure("tlsdetails", TLS_DETAILS),
    json("insightdetails"),
    json("eventcontext"),
];

/// JSON object of the record's top-level fields that have no column (new CloudTrail fields).
pub const OTHER_FIELDS: &str = "other_fields";
/// Provenance: from the object key, so every row cites its evidence.
pub const ACCOUNT_ID: &str = "account_id";
pub const REGION: &str = "region";
pub const LOG_FILE: &str = "log_file";
/// CloudTrail Lake's `eventJson`: the record's own JSON text, built only when asked for
/// ([`super::Decoder::with_record_json`]).
pub const EVENT_JSON: &str = "eventjson";

pub const TIMEZONE: &str = "UTC";

pub fn arrow_type(kind: &Kind) -> DataType {
    match kind {
        Kind::Text | Kind::Json => DataType::Utf8,
        Kind::Bool => DataType::Boolean,
        Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some(TIMEZONE.into())),
        Kind::Struct(fields) => DataType::Struct(arrow_fields(fields)),
        Kind::List(fields) => DataType::List(Arc::new(ArrowField::new(
            "item",
            DataType::Struct(arrow_fields(fields)),
            true,
        ))),
    }
}

pub fn arrow_fields(fields: &[Field]) -> Fields {
    fields
        .iter()
        .map(|f| ArrowField::new(f.name, arrow_type(&f.kind), true))
        .collect()
}

/// The `cloudtrail` table's schema: record columns, `other_fields`, then provenance.
pub fn cloudtrail_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mut fields: Vec<ArrowField> = arrow_fields(RECORD_FIELDS)
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(ArrowField::new(OTHER_FIELDS, DataType::Utf8, true));
        for name in [ACCOUNT_ID, REGION, LOG_FILE] {
            fields.push(ArrowField::new(name, DataType::Utf8, false));
        }
        Arc::new(Schema::new(fields))
    });
    Arc::clone(&SCHEMA)
}

/// Column index of `other_fields` in [`cloudtrail_schema`]; provenance columns follow it.
pub fn other_fields_index() -> usize {
    RECORD_FIELDS.len()
}
