//! Secrets are generated at run time so the repository itself holds nothing that looks like
//! a credential to other scanners.

use super::*;

/// Deterministic pseudo-random text over `charset`.
fn fake(seed: u64, charset: &str, len: usize) -> String {
    let chars: Vec<char> = charset.chars().collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}

const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn rules_found(text: &str) -> Vec<String> {
    scan_text(text, "config.txt")
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

#[test]
fn token_formats() {
    let cases = [
        (
            "aws-access-key-id",
            format!("key = {}{}{}", "AK", "IA", fake(1, UPPER_DIGITS, 16)),
        ),
        (
            "github-token",
            format!("token: {}_{}", "ghp", fake(2, ALNUM, 36)),
        ),
        (
            "gitlab-token",
            format!("{}-{}", "glpat", fake(3, ALNUM, 20)),
        ),
        (
            "slack-token",
            format!(
                "{}-{}-{}",
                "xoxb",
                fake(4, "0123456789", 12),
                fake(5, ALNUM, 24)
            ),
        ),
        (
            "stripe-key",
            format!("STRIPE={}_live_{}", "sk", fake(6, ALNUM, 24)),
        ),
        (
            "google-api-key",
            format!("k: {}{}{}", "AI", "za", fake(7, ALNUM, 35)),
        ),
        (
            "jwt",
            format!(
                "auth {}{}.{}{}.{}",
                "eyJ",
                fake(8, ALNUM, 20),
                "eyJ",
                fake(9, ALNUM, 30),
                fake(10, ALNUM, 30)
            ),
        ),
        (
            "private-key",
            format!("-----BEGIN RSA {} KEY-----", "PRIVATE"),
        ),
    ];
    for (rule, line) in &cases {
        assert_eq!(rules_found(line), vec![rule.to_string()], "{line}");
    }
}

#[test]
fn aws_secret_and_generic_values() {
    let line = format!("aws_secret_access_key = {}", fake(11, ALNUM, 40));
    assert_eq!(rules_found(&line), ["aws-secret-access-key"]);
    let line = format!("DB_PASSWORD: \"{}\"", fake(12, ALNUM, 20));
    assert_eq!(rules_found(&line), ["generic-secret"]);
    // Low entropy, placeholders and references are not secrets.
    assert!(rules_found("password: aaaaaaaaaaaaaaaa").is_empty());
    assert!(rules_found("password: ${DB_PASSWORD}").is_empty());
    assert!(rules_found("secretName: my-app-tls-certificate").is_empty());
    assert!(rules_found("- name: API_TOKEN\n  valueFrom:\n    secretKeyRef:").is_empty());
}

#[test]
fn findings_never_contain_the_secret() {
    let secret = format!("{}_{}", "ghp", fake(13, ALNUM, 36));
    let found = scan_text(&format!("x: {secret}\n"), "a.yaml");
    assert_eq!(found.len(), 1);
    let shown = serde_json::to_string(&found[0]).unwrap();
    assert!(!shown.contains(&secret[4..]), "{shown}");
    let finding = serde_json::to_string(&found[0].to_finding()).unwrap();
    assert!(!finding.contains(&secret[4..]), "{finding}");
    assert_eq!(found[0].line, 1);
}

#[test]
fn kubernetes_secret_manifests() {
    let value = fake(14, ALNUM, 16);
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  user: YWRtaW4=\n  password: {value}\nstringData:\n  empty: \"\"\n"
    );
    let found = scan_text(&text, "secret.yaml");
    let k8s: Vec<_> = found
        .iter()
        .filter(|f| f.rule == KUBERNETES_SECRET)
        .collect();
    assert_eq!(k8s.len(), 2);
    assert_eq!(found.len(), 2, "no generic duplicate: {found:?}");
    assert_eq!((k8s[0].line, k8s[1].line), (13, 14));
    assert!(k8s[1].redacted.starts_with("Secret/db data.password: "));
}

#[test]
fn files_baseline_and_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("{}_{}", "ghp", fake(15, ALNUM, 36));
    fs_err::write(
        dir.path().join("app.env"),
        format!("# config\nGH={token}\n"),
    )
    .unwrap();
    fs_err::write(dir.path().join("blob.bin"), [0u8, 1, 2, 3]).unwrap();
    fs_err::create_dir(dir.path().join(".git")).unwrap();
    fs_err::write(dir.path().join(".git").join("config"), format!("t={token}")).unwrap();
    let scan = scan_paths(&[dir.path()]);
    assert_eq!(scan.findings.len(), 1);
    assert_eq!(scan.findings[0].line, 2);
    assert!(scan.findings[0].file.ends_with("app.env"));
    assert_eq!(scan.skipped.len(), 1);
    let baseline = Baseline::of(&scan.findings);
    let path = dir.path().join("baseline.json");
    fs_err::write(&path, serde_json::to_string(&baseline).unwrap()).unwrap();
    let loaded = Baseline::load(&path).unwrap();
    assert!(loaded.filter(scan.findings.clone()).is_empty());
    assert_eq!(Baseline::default().filter(scan.findings).len(), 1);
}

#[test]
fn git_history_reports_the_commit_that_added_a_removed_secret() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["config", "user.email", "t@example.invalid"]);
    git(&["config", "user.name", "t"]);
    let token = format!("{}-{}", "glpat", fake(16, ALNUM, 20));
    fs_err::write(
        dir.path().join("ci.yml"),
        format!("a: 1\nb: 2\ntoken: {token}\n"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "add"]);
    let added = git(&["rev-parse", "HEAD"]);
    fs_err::write(dir.path().join("ci.yml"), "a: 1\nb: 2\n").unwrap();
    git(&["commit", "-qam", "remove"]);
    let scan = scan_git_history(dir.path());
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!(scan.findings.len(), 1);
    let f = &scan.findings[0];
    assert_eq!(
        (f.rule.as_str(), f.file.as_str(), f.line),
        ("gitlab-token", "ci.yml", 3)
    );
    assert_eq!(f.commit.as_deref(), Some(added.as_str()));
    // The working tree is clean now.
    assert!(scan_paths(&[dir.path()]).findings.is_empty());
}

#[test]
fn not_a_repository_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let scan = scan_git_history(dir.path());
    assert_eq!(scan.errors.len(), 1);
}

#[test]
fn hunk_headers() {
    assert_eq!(hunk_start("@@ -1,2 +3,4 @@ fn x"), Some(3));
    assert_eq!(hunk_start("@@ -0,0 +1 @@"), Some(1));
}
