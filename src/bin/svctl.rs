//! `svctl`: the control client and /proc inspector.

fn main() -> std::process::ExitCode {
    let code = svinit::ctl::main_with_args(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
