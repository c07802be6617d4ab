//! weft-lab: one experiment per claim of the notes, measured on this machine.

fn main() {
    println!("weft-lab: experiments arrive in the next commit");
}
