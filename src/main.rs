use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ofhnet::cli::Cli::parse();
    match ofhnet::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
