use super::*;

fn check(eco: Ecosystem, a: &str, op: Ordering, b: &str) {
    assert_eq!(compare(eco, a, b).unwrap(), op, "{eco}: {a} vs {b}");
    assert_eq!(
        compare(eco, b, a).unwrap(),
        op.reverse(),
        "{eco}: {b} vs {a}"
    );
}

use Ordering::{Equal, Greater, Less};

#[test]
fn debian_examples_from_the_spec() {
    check(Ecosystem::Debian, "1.2.3-1~deb7u1", Less, "1.2.3-1");
    check(Ecosystem::Debian, "0.9", Less, "0.10");
    check(Ecosystem::Debian, "1:0.1", Greater, "9.9");
    check(Ecosystem::Debian, "0.0.0", Equal, "0.0.0-00");
    assert!(compare(Ecosystem::Debian, "1.2.3", "1.2.3-not-a-debian:version!@#$").is_err());
}

#[test]
fn alpine_examples_from_the_spec() {
    check(Ecosystem::Alpine, "1.01", Less, "1.1");
    check(Ecosystem::Alpine, "1.0_rc1", Less, "1.0");
    check(Ecosystem::Alpine, "1.0", Less, "1.0_p1");
    check(Ecosystem::Alpine, "1.0a", Less, "1.0.1");
    assert!(alpine_is_valid("1.2.3_rc1-r4"));
    assert!(!alpine_is_valid("1.18.-r2"));
}

#[test]
fn pypi_orders_legacy_before_valid() {
    check(Ecosystem::PyPI, "trunk", Less, "0.1");
    check(Ecosystem::PyPI, "1.0.dev0", Less, "1.0a0");
    check(Ecosystem::PyPI, "1.0", Equal, "1.0.0");
}

#[test]
fn semver_family() {
    check(Ecosystem::Npm, "1.2.3-r100", Less, "1.2.3-r2");
    check(Ecosystem::CratesIo, "0.10.2+wasi", Equal, "0.10.2");
    check(
        Ecosystem::Go,
        "1.2.3-0.20200101000000-abcdefabcdef",
        Greater,
        "1.2.2",
    );
    assert!(go_is_valid("v1.2.3-pre+meta"));
    assert!(!go_is_valid("1.2.3"));
}

#[test]
fn maven_examples_from_the_spec() {
    check(Ecosystem::Maven, "1", Equal, "1.0.0");
    check(Ecosystem::Maven, "1-SNAPSHOT", Less, "1");
    check(Ecosystem::Maven, "2.0.1", Less, "2.0.1-xyz");
    check(Ecosystem::Maven, "2.0.1-xyz", Less, "2.0.1-123");
}

#[test]
fn check_comparisons_reports_mismatches_with_line_numbers() {
    let r = check_comparisons(
        Ecosystem::Npm,
        "# c\n1.0.0 < 2.0.0\n\n2.0.0 < 1.0.0\nbad line\n",
    );
    assert_eq!(r.passed, 1);
    assert_eq!(r.mismatches.len(), 2);
    assert_eq!(r.mismatches[0].line, 4);
    assert_eq!(r.mismatches[1].line, 5);
}
