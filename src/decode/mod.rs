//! How bytes become Arrow.
