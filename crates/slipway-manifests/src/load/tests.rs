use super::*;

#[test]
fn multi_document_yaml_keeps_lines() {
    let text = "# header\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n\n# c\nkind: Service\nmetadata: {name: b}\n";
    let docs = load_str(text, "x.yaml").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].source.line, 2);
    assert_eq!(docs[0].source.document, 0);
    assert_eq!(docs[1].source.line, 8);
    assert_eq!(docs[1].source.document, 1);
    assert_eq!(docs[1].object["kind"], "Service");
}

#[test]
fn list_kinds_are_expanded() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\n";
    let docs = load_str(text, "l.yaml").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].object["metadata"]["name"], "b");
}

#[test]
fn empty_documents_are_dropped() {
    let docs = load_str("---\n---\nkind: A\n---\n", "e.yaml").unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].source.document, 2);
}

#[test]
fn parse_errors_name_file_document_and_line() {
    let text = "kind: A\n---\nkind: B\nmetadata: [unclosed\n";
    let err = load_str(text, "bad.yaml").unwrap_err();
    match &err {
        LoadError::Parse { location, .. } => {
            assert_eq!(location.file, "bad.yaml");
            assert_eq!(location.document, 1);
            assert!(location.line >= 3, "line {}", location.line);
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn json_stream_is_read() {
    let loader = Loader::default();
    let docs = loader
        .load_json("{\"kind\":\"A\"}\n\n{\"kind\":\"B\"}", "s.json")
        .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].source.line, 3);
}

#[test]
fn directories_are_read_recursively_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs_err::create_dir(&sub).unwrap();
    fs_err::write(dir.path().join("b.yaml"), "kind: B\n").unwrap();
    fs_err::write(sub.join("a.yml"), "kind: A\n").unwrap();
    fs_err::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
    let docs = load_path(dir.path()).unwrap();
    let kinds: Vec<_> = docs.iter().map(|d| d.object["kind"].clone()).collect();
    assert_eq!(kinds, vec!["B", "A"]);
}

#[test]
fn binary_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bin.yaml");
    fs_err::write(&f, b"\x00\x01\x02").unwrap();
    assert!(matches!(load_path(&f), Err(LoadError::NotText { .. })));
}
