//! `size`: the zipped deploy package (`bootstrap`) of each Lambda binary in `--package-dir`.

use anyhow::{Context, bail};

use crate::Args;
use crate::common::LAMBDAS;

/// Runs the benchmark and prints its table.
pub fn package_sizes(args: &Args) -> anyhow::Result<()> {
    println!("## Deploy package size");
    println!();
    println!(
        "Each release binary zipped alone as `bootstrap` (deflate, Python zipfile), the \
         `provided.al2023` layout; built for x86_64 as a stand-in for arm64 (PRODUCT.md §7). \
         Target: ≤ 8 MB per function."
    );
    println!();
    println!("| function | build | binary bytes | zip bytes | zip MiB |");
    println!("|---|---|---|---|---|");
    for name in LAMBDAS {
        let bin = args.package_dir.join(name);
        if !bin.exists() {
            println!("| {name} | - | not built ({}) | | |", bin.display());
            continue;
        }
        let zip = args.work_dir.join(format!("{name}.zip"));
        let _ = std::fs::remove_file(&zip);
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
                 \x20   z.write(sys.argv[1], 'bootstrap')",
            ])
            .arg(&bin)
            .arg(&zip)
            .status()
            .context("cannot run python3 to zip")?;
        if !status.success() {
            bail!("zipping {} failed", bin.display());
        }
        let bin_bytes = std::fs::metadata(&bin)?.len();
        let zip_bytes = std::fs::metadata(&zip)?.len();
        let build = args
            .package_dir
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().into_owned());
        println!(
            "| {name} | {build} | {bin_bytes} | {zip_bytes} | {:.2} |",
            zip_bytes as f64 / 1_048_576.0
        );
    }
    println!();
    Ok(())
}
