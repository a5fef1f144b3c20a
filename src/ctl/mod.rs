//! (stub: replaced by the control room)
use std::ffi::OsString;

/// svctl's entry point; returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let _ = args.into_iter().count();
    2
}
