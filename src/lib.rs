//! deadbox
#![deny(missing_docs)]

pub mod error;
pub mod evidence;
pub mod exchange;
pub mod finding;

pub use error::{Error, Result};
