//! deadbox
#![deny(missing_docs)]

pub mod error;
pub mod evidence;
pub mod finding;
pub mod hash;
pub mod image;
pub mod ntfs;
pub mod rows;
pub mod rules;
pub mod scan;
pub mod volume;

pub use error::{Error, Result};
pub use image::Image;
