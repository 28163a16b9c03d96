//! The FTP wire language with no I/O: parsing control lines into commands and rendering replies.

pub mod args;
pub mod code;
pub mod command;
pub mod parse;
pub mod reply;
pub mod timestamp;
pub mod verbs;

pub use code::Code;
pub use command::{Command, ParseError};
pub use parse::parse_line;
pub use reply::Reply;
