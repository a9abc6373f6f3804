//! `sqlx::migrate!` embeds the migrations at compile time, but cargo does not know it
//! reads them: without this a new migration alone would leave a stale binary that never
//! applies it (sqlx's documented remedy).

// A build script speaks to cargo through its standard output.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
