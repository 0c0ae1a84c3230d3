//! DataFusion tables.
