use std::io::Write;

use super::*;
use crate::inventory::Package;
use crate::scan::scan_in;

const NOW: &str = "2026-01-01T00:00:00Z";

fn record(id: &str, modified: &str, name: &str, fixed: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"{modified}","aliases":["CVE-{id}"],"affected":[{{"package":{{"ecosystem":"npm","name":"{name}"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
    )
}

fn options() -> ImportOptions {
    ImportOptions {
        now: NOW.to_owned(),
        ..ImportOptions::default()
    }
}

fn npm(name: &str, version: &str) -> Package {
    Package {
        name: name.to_owned(),
        version: version.to_owned(),
        ecosystem: "npm".to_owned(),
        ..Package::default()
    }
}

fn ids(db: &Database, name: &str, version: &str) -> Vec<String> {
    let r = scan_in(&[npm(name, version)], db, NOW).unwrap();
    r.findings.into_iter().map(|f| f.vulnerability_id).collect()
}

#[test]
fn missing_database_is_an_error_naming_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let err = Database::open(data.path()).unwrap_err();
    assert!(matches!(err, DbError::Missing { .. }));
    assert!(err.to_string().contains("slipway db import"), "{err}");
}

#[test]
fn import_is_incremental_by_modified_and_skips_bad_records() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    fs_err::write(
        src.path().join("A-1.json"),
        record("A-1", "2024-01-01T00:00:00Z", "left-pad", "1.0.0"),
    )
    .unwrap();
    fs_err::write(
        src.path().join("A-2.json"),
        record("A-2", "2024-01-01T00:00:00Z", "lodash", "4.0.0"),
    )
    .unwrap();
    fs_err::write(
        src.path().join("bad.json"),
        "{\n  \"id\": \"X\",\n  oops\n}",
    )
    .unwrap();
    let report = import(data.path(), &[src.path().to_owned()], &options()).unwrap();
    assert_eq!((report.added, report.updated), (2, 0));
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].source.ends_with("bad.json"));
    assert!(
        report.skipped[0].reason.contains("line 3"),
        "{:?}",
        report.skipped
    );
    assert_eq!(report.meta.ecosystems.get("npm"), Some(&2));
    let db = Database::open(data.path()).unwrap();
    assert_eq!(ids(&db, "left-pad", "0.9.0"), ["A-1"]);
    drop(db);

    // A newer copy replaces the stored one; an older one is ignored.
    let src2 = tempfile::tempdir().unwrap();
    fs_err::write(
        src2.path().join("A-1.json"),
        record("A-1", "2025-01-01T00:00:00Z", "left-pad", "0.5.0"),
    )
    .unwrap();
    fs_err::write(
        src2.path().join("A-2.json"),
        record("A-2", "2023-01-01T00:00:00Z", "lodash", "9.0.0"),
    )
    .unwrap();
    let report = import(data.path(), &[src2.path().to_owned()], &options()).unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (0, 1, 1));
    assert_eq!(report.meta.records, 2);
    assert_eq!(report.meta.newest_modified, "2025-01-01T00:00:00Z");
    let db = Database::open(data.path()).unwrap();
    assert!(ids(&db, "left-pad", "0.9.0").is_empty());
    assert_eq!(ids(&db, "lodash", "5.0.0"), Vec::<String>::new());
    assert_eq!(ids(&db, "lodash", "3.0.0"), ["A-2"]);
    // Only one generation stays on disk.
    let mut files: Vec<String> = std::fs::read_dir(db.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "index-2.jsonl",
            "keys-2.jsonl",
            "match-2.bin",
            "meta.json",
            "records-2.jsonl"
        ]
    );
}

#[test]
fn an_older_format_asks_for_a_reimport_and_import_replaces_it() {
    let data = tempfile::tempdir().unwrap();
    let dir = db_dir(data.path());
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(
        dir.join("meta.json"),
        r#"{"format":1,"generation":4,"imported_at":"","newest_modified":"","records":0,"withdrawn":0,"ecosystems":{},"sources":[]}"#,
    )
    .unwrap();
    fs_err::write(dir.join("records-4.jsonl"), "").unwrap();
    fs_err::write(dir.join("index-4.jsonl"), "").unwrap();
    let err = Database::open(data.path()).unwrap_err();
    assert!(matches!(err, DbError::Format { found: 1, .. }), "{err}");
    assert!(err.to_string().contains("re-import"), "{err}");

    let src = tempfile::tempdir().unwrap();
    let path = src.path().join("A-1.json");
    fs_err::write(&path, record("A-1", "2024-01-01T00:00:00Z", "x", "2.0.0")).unwrap();
    let report = import(data.path(), &[path], &options()).unwrap();
    assert_eq!((report.added, report.meta.generation), (1, 5));
    let db = Database::open(data.path()).unwrap();
    assert_eq!(ids(&db, "x", "1.0.0"), ["A-1"]);
    assert!(!dir.join("records-4.jsonl").exists());
    assert!(!dir.join("index-4.jsonl").exists());
}

#[test]
fn a_damaged_matching_index_fails_the_scan() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let path = src.path().join("A-1.json");
    fs_err::write(&path, record("A-1", "2024-01-01T00:00:00Z", "x", "2.0.0")).unwrap();
    import(data.path(), &[path], &options()).unwrap();
    let match_path = db_dir(data.path()).join("match-1.bin");
    let bytes = fs_err::read(&match_path).unwrap();
    fs_err::write(&match_path, &bytes[..bytes.len() / 2]).unwrap();
    let db = Database::open(data.path()).unwrap();
    let err = scan_in(&[npm("x", "1.0.0")], &db, NOW).unwrap_err();
    assert!(err.to_string().contains("match-1.bin"), "{err}");
}

#[test]
fn many_records_import_in_input_order_and_scan_in_parallel() {
    // Enough records and packages for the parallel paths; a duplicated id keeps
    // the newer copy whatever thread parsed it.
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let zip_path = src.path().join("all.zip");
    let mut entries: Vec<(String, Vec<u8>)> = (0..600)
        .map(|i| {
            (
                format!("A-{i}.json"),
                record(
                    &format!("A-{i}"),
                    "2024-01-01T00:00:00Z",
                    &format!("p{}", i % 300),
                    "2.0.0",
                )
                .into_bytes(),
            )
        })
        .collect();
    entries.push((
        "A-7-again.json".to_owned(),
        record("A-7", "2025-01-01T00:00:00Z", "p7", "0.5.0").into_bytes(),
    ));
    entries.push((
        "A-8-older.json".to_owned(),
        record("A-8", "2023-01-01T00:00:00Z", "p8", "0.5.0").into_bytes(),
    ));
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    write_zip(&zip_path, &refs);
    let report = import(data.path(), &[zip_path], &options()).unwrap();
    assert_eq!((report.read, report.added, report.unchanged), (602, 600, 1));
    let db = Database::open(data.path()).unwrap();
    let packages: Vec<Package> = (0..300).map(|i| npm(&format!("p{i}"), "1.0.0")).collect();
    let r = scan_in(&packages, &db, NOW).unwrap();
    // Two records per package, except p7 whose A-7 is now fixed in 0.5.0.
    assert_eq!(r.findings.len(), 599);
    assert_eq!(r.findings[0].pkg_name, "p0");
    assert_eq!(r.findings[0].vulnerability_id, "A-0");
    assert_eq!(r.findings[0].fixed_version.as_deref(), Some("2.0.0"));
    assert!(!r.findings.iter().any(|f| f.vulnerability_id == "A-7"));
    assert_eq!(r.findings.last().unwrap().pkg_name, "p299");
}

#[test]
fn withdrawn_copy_replaces_the_record_and_never_matches() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let path = src.path().join("A-1.json");
    fs_err::write(&path, record("A-1", "2024-01-01T00:00:00Z", "x", "2.0.0")).unwrap();
    import(data.path(), std::slice::from_ref(&path), &options()).unwrap();
    let withdrawn = record("A-1", "2024-06-01T00:00:00Z", "x", "2.0.0").replacen(
        "\"aliases\"",
        "\"withdrawn\":\"2024-06-01T00:00:00Z\",\"aliases\"",
        1,
    );
    fs_err::write(&path, withdrawn).unwrap();
    let report = import(data.path(), &[path], &options()).unwrap();
    assert_eq!((report.updated, report.withdrawn), (1, 1));
    assert_eq!(report.meta.withdrawn, 1);
    let db = Database::open(data.path()).unwrap();
    assert!(ids(&db, "x", "1.0.0").is_empty());
}

fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let file = File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn imports_all_zip_exports() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let zip_path = src.path().join("all.zip");
    write_zip(
        &zip_path,
        &[
            (
                "A-1.json",
                record("A-1", "2024-01-01T00:00:00Z", "a", "1.0.0").into_bytes(),
            ),
            (
                "B-1.json",
                record("B-1", "2024-01-01T00:00:00Z", "b", "1.0.0").into_bytes(),
            ),
            ("README.txt", b"not a record".to_vec()),
        ],
    );
    let report = import(data.path(), &[zip_path], &options()).unwrap();
    assert_eq!(report.added, 2);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let db = Database::open(data.path()).unwrap();
    assert_eq!(ids(&db, "b", "0.1.0"), ["B-1"]);
}

#[test]
fn zip_bomb_entries_are_capped_not_inflated() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let zip_path = src.path().join("bomb.zip");
    // 8 MiB of spaces compresses to a few KiB.
    let mut bomb = record("A-1", "2024-01-01T00:00:00Z", "a", "1.0.0").into_bytes();
    bomb.extend(std::iter::repeat_n(b' ', 8 * 1024 * 1024));
    write_zip(
        &zip_path,
        &[
            ("bomb.json", bomb),
            (
                "B-1.json",
                record("B-1", "2024-01-01T00:00:00Z", "b", "1.0.0").into_bytes(),
            ),
        ],
    );
    let opts = ImportOptions {
        max_record_bytes: 1024 * 1024,
        ..options()
    };
    let report = import(data.path(), std::slice::from_ref(&zip_path), &opts).unwrap();
    assert_eq!(report.added, 1);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].source.ends_with("bomb.json"));
    assert!(report.skipped[0].reason.contains("limit"));

    // The total cap stops reading the archive.
    let data2 = tempfile::tempdir().unwrap();
    let opts = ImportOptions {
        max_archive_bytes: 100,
        ..options()
    };
    let report = import(data2.path(), &[zip_path], &opts).unwrap();
    assert_eq!(report.added, 0);
    assert!(report.skipped.iter().any(|s| s.reason.contains("not read")));
}

#[test]
fn nonexistent_input_is_an_error() {
    let data = tempfile::tempdir().unwrap();
    let err = import(
        data.path(),
        &[PathBuf::from("/nonexistent/osv")],
        &options(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/osv"), "{err}");
}

#[test]
fn age_and_staleness() {
    let meta = Meta {
        newest_modified: "2025-12-25T00:00:00Z".to_owned(),
        ..Meta::default()
    };
    assert_eq!(parse_age("7d").unwrap(), chrono::Duration::days(7));
    assert_eq!(parse_age("36h").unwrap(), chrono::Duration::hours(36));
    assert!(parse_age("7x").is_err());
    assert_eq!(data_age(&meta, NOW), Some(chrono::Duration::days(7)));
    assert!(check_fresh(Path::new("db"), &meta, NOW, chrono::Duration::days(8)).is_ok());
    let err = check_fresh(Path::new("db"), &meta, NOW, chrono::Duration::days(2)).unwrap_err();
    assert!(err.to_string().contains("older than"), "{err}");
}
