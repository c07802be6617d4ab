//! weft-lab: one experiment per claim of the notes, measured on this machine.

use std::process::ExitCode;

fn main() -> ExitCode {
    weft_lab::cli::main()
}
