use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before the first large allocation: keep freed training buffers in the process.
    let tuned = ofhnet::alloc::tune();
    if std::env::var_os("OFHNET_DEBUG_ALLOC").is_some() {
        eprintln!("allocator: {tuned:?}");
    }
    let cli = ofhnet::cli::Cli::parse();
    match ofhnet::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
