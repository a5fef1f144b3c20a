//! Placeholder for `svctl ps`, `inspect` and `net` (written in another
//! worktree; replaced at merge).

/// Arguments of `svctl ps`.
#[derive(clap::Args, Debug)]
pub struct PsArgs {}
/// Arguments of `svctl inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    pub pid: i32,
}
/// Arguments of `svctl net`.
#[derive(clap::Args, Debug)]
pub struct NetArgs {}

/// `svctl ps` (placeholder).
pub fn run_ps(args: &PsArgs, json: bool, owners: &crate::inspect::Owners) -> i32 {
    placeholder("ps", args, json, owners)
}

/// `svctl inspect PID` (placeholder).
pub fn run_inspect(args: &InspectArgs, json: bool, owners: &crate::inspect::Owners) -> i32 {
    placeholder("inspect", args, json, owners)
}

/// `svctl net` (placeholder).
pub fn run_net(args: &NetArgs, json: bool, owners: &crate::inspect::Owners) -> i32 {
    placeholder("net", args, json, owners)
}

fn placeholder(
    what: &str,
    args: &dyn std::fmt::Debug,
    json: bool,
    owners: &crate::inspect::Owners,
) -> i32 {
    eprintln!(
        "svctl {what}: not built yet ({args:?}, json={json}, {} owners)",
        owners.len()
    );
    1
}
