//! The `tuilerie` binary: everything lives in the library, see [`tuilerie::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tuilerie::cli::main()
}
