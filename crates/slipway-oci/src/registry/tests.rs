use super::*;

#[test]
fn challenge_parsing() {
    let c = parse_challenge(
        r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
    );
    assert_eq!(c.scheme, "bearer");
    assert_eq!(c.params["realm"], "https://auth.example/token");
    assert_eq!(c.params["service"], "registry.example");
    assert_eq!(c.params["scope"], "repository:a/b:pull,push");
    let c = parse_challenge(r#"Basic realm="basic-realm""#);
    assert_eq!(c.scheme, "basic");
    assert_eq!(c.params["realm"], "basic-realm");
}

#[test]
fn loopback_only_for_plain_http() {
    assert!(is_loopback("127.0.0.1:5000"));
    assert!(is_loopback("localhost"));
    assert!(is_loopback("[::1]:5000"));
    assert!(!is_loopback("registry.example:5000"));
    let opts = RegistryOptions {
        insecure: true,
        ..Default::default()
    };
    assert!(matches!(
        Registry::new("example.com", &opts),
        Err(RegistryError::InsecureNotLoopback(_))
    ));
    assert!(Registry::new("127.0.0.1:5000", &opts).is_ok());
}
