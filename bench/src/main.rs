//! `ferrymail-bench ARGS…`, which `ferrymail bench ARGS…` runs: the report on stdout, or the
//! error (with the usage when the arguments were at fault) on stderr and exit status 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match ferrymail_bench::run(&args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrymail bench: {e}");
            ExitCode::FAILURE
        }
    }
}
