//! `svctl`: the control client (the logic lives in `svinit::ctl`).

fn main() {
    std::process::exit(svinit::ctl::main_with_args(std::env::args_os()));
}
