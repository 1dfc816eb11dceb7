//! deadbox
#![deny(missing_docs)]

pub mod error;
pub mod evidence;
pub mod finding;
pub mod rules;

pub use error::{Error, Result};
