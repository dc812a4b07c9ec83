//! `kustomize_render [render] DIR`: the native Kustomize build of DIR printed
//! as a YAML stream, the same code path as `slipway render DIR` without the
//! rest of the CLI. Used by `bench/kustomize-render.sh` when a release build
//! of the full `slipway` binary is not at hand (it is much quicker to build).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line example prints its output and errors"
)]

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.as_slice() {
        [dir] => dir,
        [cmd, dir] if cmd == "render" => dir,
        _ => {
            eprintln!("usage: kustomize_render [render] DIR");
            return ExitCode::from(2);
        }
    };
    let docs = match slipway_manifests::kustomize_build(std::path::Path::new(dir)) {
        Ok(docs) => docs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        match slipway_manifests::kustomize::to_yaml(d) {
            Ok(y) => out.push_str(&y),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if std::io::stdout().write_all(out.as_bytes()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
