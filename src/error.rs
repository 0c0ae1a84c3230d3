//! The library's error type.
//!
//! One enum for the whole domain, so the CLI can map any failure to an exit code and a one-line
//! message. Variants carry the thing the user must fix (a file, an option, an object key).

use datafusion::error::DataFusionError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line value or option that cannot work; the message says which and what to do.
    #[error("{0}")]
    Usage(String),

    /// A value the user gave that cannot work, by what it is; the command line names it by its
    /// option, the library by its noun.
    #[error("{} {value}: {reason}", .input.noun())]
    Input {
        input: Input,
        value: String,
        reason: String,
    },

    /// The archive location is unusable (bad URL, unreachable bucket, nothing that looks like CloudTrail).
    #[error("archive {location}: {reason}")]
    Archive { location: String, reason: String },

    /// Evidence that cannot be trusted or read, raised as a failure under `--strict`.
    #[error("invalid evidence: {0}")]
    Evidence(String),

    /// An object of the archive whose bytes could not be fetched, after retries: the answer would
    /// be missing it, and that is not evidence about the object.
    #[error(
        "{key}: {reason}; the answer would be incomplete (try again later, or give \
         --allow-partial to answer without it, naming it as unfetched)"
    )]
    Unfetched { key: String, reason: String },

    /// The AWS SDK found no credentials to call an AWS API with: the cause, in one line.
    #[error("no AWS credentials ({0}): give a public keys file, or set a profile")]
    NoCredentials(String),

    /// A local file we were asked to read or write.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A failure of our own making that no option fixes (a built-in query that does not run).
    #[error("{0}")]
    Runtime(String),

    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),

    #[error("{}", tidy_datafusion_message(.0))]
    DataFusion(#[from] DataFusionError),
}

/// The user inputs a library error can name. The library never names a command-line option;
/// a front end maps these to its own (the CLI: `--lake`, `--public-keys`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Lake,
    PublicKeys,
    Signatures,
    Controls,
    Regions,
    EndpointUrl,
    Cluster,
    /// The AWS profile whose credentials are used.
    Profile,
}

impl Input {
    pub fn noun(self) -> &'static str {
        match self {
            Input::Lake => "lake",
            Input::PublicKeys => "public keys file",
            Input::Signatures => "signatures file",
            Input::Controls => "controls folder",
            Input::Regions => "regions",
            Input::EndpointUrl => "S3 endpoint",
            Input::Cluster => "cluster",
            Input::Profile => "AWS profile",
        }
    }
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn input(input: Input, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Input {
            input,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    /// Exit code documented in docs/evidence.md: 1 for invalid evidence, 2 for usage or runtime errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Evidence(_) => 1,
            Error::DataFusion(e) => match e.find_root() {
                DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
                    Some(Error::Evidence(_)) => 1,
                    _ => 2,
                },
                _ => 2,
            },
            _ => 2,
        }
    }
}

/// An error and its sources in one line (the AWS SDK's `DisplayErrorContext` would add a debug
/// dump of the whole HTTP response).
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// DataFusion wraps errors in context layers ("Error during planning: ..."); users want the
/// innermost sentence, and our own errors travel through DataFusion as `External`.
fn tidy_datafusion_message(e: &DataFusionError) -> String {
    match e.find_root() {
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::Plan(msg) | DataFusionError::SQL(_, Some(msg)) => msg.to_string(),
        DataFusionError::ObjectStore(os) => format!("object store: {os}"),
        root => root.to_string(),
    }
}

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        match e {
            Error::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
