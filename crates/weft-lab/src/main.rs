//! weft-lab: one experiment per claim of the notes, measured on this machine.

use std::process::ExitCode;

fn main() -> ExitCode {
    // First: when a process pool (the kitchen-table experiment's) re-executes this
    // binary as its worker, this runs the worker loop and never returns.
    weft::process::init();
    weft_lab::cli::main()
}
