//! `relayctl`: parses the command line and hands it to [`relayctl::app::run`].
//!
//! Output goes through `writeln!` on a locked stdout (in `app`), not `println!`, so the
//! workspace's `print_stdout` lint needs no exception and `relayctl peek | head` does not panic
//! on a closed pipe.

use clap::Parser;

fn main() -> std::process::ExitCode {
    relayctl::app::run(relayctl::cli::Cli::parse())
}
