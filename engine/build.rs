// `sqlx::migrate!` embeds ../migrations at compile time; rebuild when a migration is added
// or changed, or a new file would silently be left out of the binary.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
