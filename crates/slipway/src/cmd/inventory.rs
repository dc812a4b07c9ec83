//! `slipway inventory TARGET`: the packages found in an image layout, a directory or an SBOM.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use slipway_vuln::inventory::{Inventory, Package, inventory_target};
use slipway_vuln::{db, report};

use crate::exit::Exit;
use crate::output;

/// Output formats of `inventory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    /// One row per package.
    Table,
    /// JSON: packages and skipped inputs.
    Json,
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

/// Arguments of `inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// An OCI image layout directory, a project directory or root filesystem, a lockfile,
    /// or an SBOM (CycloneDX or SPDX JSON).
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = InventoryFormat::Table)]
    pub format: InventoryFormat,
}

/// Inventory the target, warning about every input that was skipped.
pub fn collect(target: &std::path::Path) -> anyhow::Result<Inventory> {
    let inv = inventory_target(target)?;
    for e in &inv.skipped {
        output::warn(&format!("skipped {e}"));
    }
    Ok(inv)
}

/// Runs `inventory`.
pub fn run(args: InventoryArgs) -> anyhow::Result<Exit> {
    let inv = collect(&args.target)?;
    let now = db::now_rfc3339();
    let text = match args.format {
        InventoryFormat::Json => {
            let skipped: Vec<String> = inv.skipped.iter().map(ToString::to_string).collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "target": args.target.display().to_string(),
                "packages": inv.packages,
                "skipped": skipped,
            }))? + "\n"
        }
        InventoryFormat::Cyclonedx => {
            serde_json::to_string_pretty(&report::cyclonedx(&inv.packages, &[], &now))? + "\n"
        }
        InventoryFormat::Spdx => {
            let name = args.target.display().to_string();
            serde_json::to_string_pretty(&report::spdx(&inv.packages, &name, &now))? + "\n"
        }
        InventoryFormat::Table => table(&inv.packages, inv.skipped.len()),
    };
    output::stdout(&text)?;
    Ok(if inv.skipped.is_empty() {
        Exit::Success
    } else {
        Exit::BadInput
    })
}

fn table(packages: &[Package], skipped: usize) -> String {
    let headers = ["NAME", "VERSION", "ECOSYSTEM", "SOURCE PACKAGE", "FILE"];
    let rows: Vec<[String; 5]> = packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.version.clone(),
                p.ecosystem.clone(),
                p.source_name.clone().unwrap_or_default(),
                match p.line {
                    Some(l) => format!("{}:{l}", p.source_file),
                    None => p.source_file.clone(),
                },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: [&str; 5]| {
        let text: String = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}  "))
            .collect();
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        line(headers);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
        }
        out.push('\n');
    }
    out.push_str(&format!("{} packages", packages.len()));
    if skipped > 0 {
        out.push_str(&format!("; {skipped} inputs skipped (see warnings)"));
    }
    out.push('\n');
    out
}
