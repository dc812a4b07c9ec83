//! Benchmark driver for the advisory database (run by `bench/vuln.sh`, not a test).
//!
//! - `generate OUT N`: N OSV records shaped like the real ones in the conformance
//!   data (`e2e/db`, `records/`), written as per-ecosystem `all.zip` exports, plus
//!   `inventory.json`: 2,000 packages whose names the records use;
//! - `import OUT DATA`: `db::import` of the zips, timed;
//! - `scan DATA INVENTORY`: open the database (timed), then match the inventory
//!   (timed, best and median of 5 runs).

#![allow(clippy::print_stdout, reason = "a benchmark reports its figures")]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};
use slipway_vuln::db::{self, Database, ImportOptions};
use slipway_vuln::inventory::Package;
use slipway_vuln::scan::scan_in;

fn templates(conformance: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack = vec![
        conformance.join("osv/e2e/db"),
        conformance.join("osv/records"),
    ];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("conformance dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let v: Value =
                    serde_json::from_slice(&fs_err::read(&p).expect("read")).expect("json");
                let usable = v["affected"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["package"]["ecosystem"].is_string()));
                if usable && v.get("withdrawn").is_none() {
                    out.push(v);
                }
            }
        }
    }
    out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    out
}

fn first_version(affected: &Value) -> String {
    for r in affected["ranges"].as_array().into_iter().flatten() {
        if r["type"] == "GIT" {
            continue;
        }
        for e in r["events"].as_array().into_iter().flatten() {
            if let Some(f) = e["fixed"].as_str().or(e["last_affected"].as_str()) {
                return f.to_owned();
            }
        }
    }
    affected["versions"][0]
        .as_str()
        .unwrap_or("1.0.0")
        .to_owned()
}

fn generate(out: &Path, n: usize) {
    let conformance = std::env::var_os("SLIPWAY_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    let templates = templates(&conformance);
    assert!(
        !templates.is_empty(),
        "no template records under {}",
        conformance.display()
    );
    fs_err::create_dir_all(out).expect("mkdir");
    let now = db::now_rfc3339();
    let names_per_eco = n / 5 / templates.len().max(1) + 1;
    let mut zips: BTreeMap<String, zip::ZipWriter<std::fs::File>> = BTreeMap::new();
    let mut inventory: Vec<Package> = Vec::new();
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..n {
        let t = i % templates.len();
        let mut v = templates[t].clone();
        let id = format!("BENCH-{t}-{i}");
        v["id"] = json!(id);
        v["modified"] = json!(now);
        v["aliases"] = json!([format!("CVE-BENCH-{i}")]);
        // About five records per package name, like popular packages in real data.
        let name_no = (i / templates.len()) % names_per_eco;
        let mut eco_base = String::new();
        if let Some(affected) = v["affected"].as_array_mut() {
            for a in affected.iter_mut() {
                let Some(eco) = a["package"]["ecosystem"].as_str().map(str::to_owned) else {
                    continue;
                };
                let name = format!("pkg-{t}-{name_no}");
                a["package"]["name"] = json!(name);
                if let Some(o) = a["package"].as_object_mut() {
                    o.remove("purl");
                }
                if eco_base.is_empty() {
                    eco_base = eco.split(':').next().unwrap_or("").to_owned();
                }
                if inventory.len() < 2000
                    && i % (n / 2000).max(1) == 0
                    && !inventory.iter().any(|p| p.name == name)
                {
                    inventory.push(Package {
                        name,
                        version: first_version(a),
                        ecosystem: eco,
                        ..Package::default()
                    });
                }
            }
        }
        let zip = zips.entry(eco_base.clone()).or_insert_with(|| {
            let dir = out.join(&eco_base);
            fs_err::create_dir_all(&dir).expect("mkdir");
            zip::ZipWriter::new(std::fs::File::create(dir.join("all.zip")).expect("create zip"))
        });
        zip.start_file(format!("{id}.json"), opts)
            .expect("zip entry");
        zip.write_all(&serde_json::to_vec_pretty(&v).expect("json"))
            .expect("zip write");
    }
    for (_, z) in zips {
        z.finish().expect("zip finish");
    }
    let rows: Vec<[&str; 3]> = inventory
        .iter()
        .map(|p| [p.name.as_str(), p.version.as_str(), p.ecosystem.as_str()])
        .collect();
    fs_err::write(
        out.join("inventory.json"),
        serde_json::to_vec(&rows).expect("json"),
    )
    .expect("write");
    println!(
        "generated {n} records from {} real templates; inventory of {} packages",
        templates.len(),
        inventory.len()
    );
}

fn import(out: &Path, data: &Path) {
    let mut zips = Vec::new();
    for e in std::fs::read_dir(out).expect("read").flatten() {
        let z = e.path().join("all.zip");
        if z.is_file() {
            zips.push(z);
        }
    }
    zips.sort();
    let started = Instant::now();
    let report = db::import(
        data,
        &zips,
        &ImportOptions {
            now: db::now_rfc3339(),
            ..ImportOptions::default()
        },
    )
    .expect("import");
    let took = started.elapsed();
    println!(
        "import: {} records read, {} added, {} skipped in {:.2} s; database {:.1} MB on disk",
        report.read,
        report.added,
        report.skipped.len(),
        took.as_secs_f64(),
        db::disk_size(data) as f64 / 1_000_000.0
    );
}

fn scan(data: &Path, inventory: &Path) {
    let rows: Vec<[String; 3]> =
        serde_json::from_slice(&fs_err::read(inventory).expect("read")).expect("inventory");
    let packages: Vec<Package> = rows
        .into_iter()
        .map(|[name, version, ecosystem]| Package {
            name,
            version,
            ecosystem,
            ..Package::default()
        })
        .collect();
    let started = Instant::now();
    let database = Database::open(data).expect("open");
    println!(
        "open: {} records in {:.1} ms",
        database.meta().records,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let now = db::now_rfc3339();
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = scan_in(&packages, &database, &now).expect("scan");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        findings = r.findings.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "scan: {} packages, {findings} findings: best {:.1} ms, median {:.1} ms (5 runs, database open)",
        packages.len(),
        times[0],
        times[2]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => generate(
            Path::new(&args[2]),
            args.get(3).and_then(|n| n.parse().ok()).unwrap_or(200_000),
        ),
        Some("import") => import(Path::new(&args[2]), Path::new(&args[3])),
        Some("scan") => scan(Path::new(&args[2]), Path::new(&args[3])),
        _ => println!("usage: osv_bench generate OUT [N] | import OUT DATA | scan DATA INVENTORY"),
    }
}
