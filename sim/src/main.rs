//! The `dxsim` binary: parses arguments and hands over to [`dx_sim::cli`].

fn main() -> std::process::ExitCode {
    dx_sim::cli::main()
}
