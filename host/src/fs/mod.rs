//! The user's filesystem view: virtual paths (pure), listing formats (pure), rights, and the
//! sandbox that performs real I/O beneath the user's home with cap-std (no path can escape:
//! `..`, absolute paths and symlinks pointing outside are refused by the kernel-level checks).

pub mod attributes;
pub mod checksum;
pub mod direct_write;
pub mod entry_stream;
pub mod held_files;
pub mod listing;
pub mod listing_section;
pub mod name_glob;
pub mod object;
pub mod packed_names;
pub mod path;
pub mod quota;
pub mod rights;
pub mod sandbox;
pub mod share_dirs;
pub mod storage;
pub mod temp_name;
pub mod upload;
pub mod vfs;
pub mod walk;
pub mod writeback;

pub use path::{PathError, VirtualPath};
pub use rights::Rights;
pub use sandbox::{FsError, Sandbox};
pub use storage::Storage;
pub use vfs::{Mount, Target, Vfs};
