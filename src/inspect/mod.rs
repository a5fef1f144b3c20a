//! (stub)

/// Pid → program instance name, for the PROGRAM column (from the supervisor).
pub type Owners = std::collections::HashMap<i32, String>;
