//! A running process's state from `/proc` (filled in with the `profile` command).
