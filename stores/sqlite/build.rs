//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the folder's
//! files at compile time, and Cargo only watches what it is told to.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
