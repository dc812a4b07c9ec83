//! The `kyverno-test.yaml` runner, strict.
//!
//! It runs a suite as `kyverno test` does (see `shared/conformance/kyverno/INDEX.md`):
//! every resource goes through all mutate policies in order, then validate, then
//! generate; each (result entry, resource) pair is one *check*. Unlike the
//! upstream CLI, a check counts as matched only when the engine produced
//! exactly the expected status for that rule and resource: no response
//! matches only an expected `skip`, a missing resource is a mismatch, and a
//! `patchedResources` / `generatedResource` file without the object is a
//! mismatch too. Policy kinds the engine cannot evaluate yet are reported as
//! unsupported errors, never as passes.

mod compare;
pub mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use slipway_model::{Document, ObjectExt, is_cluster_scoped};

use crate::engine::{
    ContextValues, Engine, EngineResponse, Operation, Request, RuleStatus, UserInfo,
};
use crate::model::{LoadedPolicy, Policy, load_policy};
use spec::{TestFile, UserInfoFile, ValuesFile};

/// The name of a test file.
pub const TEST_FILE_NAME: &str = "kyverno-test.yaml";

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The suite: the test file's directory (the `.kyverno-test` part dropped).
    pub suite: String,
    /// Policy name as written in the entry.
    pub policy: String,
    /// Rule name (empty for rule-less kinds).
    pub rule: String,
    /// Resource name as written in the entry.
    pub resource: String,
    /// Resource kind as written in the entry.
    pub kind: String,
    /// Expected outcome.
    pub expected: String,
    /// What the engine produced: `pass`, `fail`, `skip`, `error`, several joined
    /// by `,`, `n/a` (no response), `not-found`, `unsupported`.
    pub actual: String,
    /// Whether the check matched (strictly).
    pub matched: bool,
    /// Why, when it did not match (or the rule's message).
    pub message: String,
    /// The check could not be evaluated at all (suite error, unsupported kind).
    #[serde(skip)]
    pub error: bool,
}

/// Everything about one suite.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SuiteReport {
    /// The suite directory.
    pub suite: String,
    /// The test file.
    pub file: PathBuf,
    /// The checks.
    pub checks: Vec<CheckResult>,
    /// A suite-level problem (a file that could not be read).
    pub error: Option<String>,
    /// Policies of kinds the engine does not evaluate yet (`Kind/name: reason`).
    pub unsupported: Vec<String>,
}

/// Totals over suites.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks.
    pub checks: usize,
    /// Matched.
    pub matched: usize,
    /// Evaluated and not matched.
    pub mismatched: usize,
    /// Not evaluated (suite errors, unsupported kinds).
    pub errors: usize,
}

impl Summary {
    /// Sums the checks of `reports`.
    pub fn of(reports: &[SuiteReport]) -> Self {
        let mut s = Self::default();
        for c in reports.iter().flat_map(|r| &r.checks) {
            s.checks += 1;
            if c.matched {
                s.matched += 1;
            } else if c.error {
                s.errors += 1;
            } else {
                s.mismatched += 1;
            }
        }
        s
    }
}

/// Problems finding suites.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A path could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Finds every `kyverno-test.yaml` below `paths` (also inside `.kyverno-test/`
/// directories), sorted. A path that is itself a test file is taken as is.
pub fn discover<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        if p.is_file() {
            out.push(p.to_path_buf());
            continue;
        }
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| DiscoverError::Io {
                path: e.path().map_or_else(|| p.to_path_buf(), Path::to_path_buf),
                source: e.into(),
            })?;
            if entry.file_type().is_file() && entry.file_name() == TEST_FILE_NAME {
                out.push(entry.into_path());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The suite name of a test file: its directory, without a trailing `.kyverno-test`.
pub fn suite_name(test_file: &Path) -> String {
    let dir = test_file.parent().unwrap_or(Path::new("."));
    let dir = if dir.file_name().is_some_and(|n| n == ".kyverno-test") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    dir.display().to_string()
}

/// Runs one suite.
pub fn run_suite(engine: &Engine, test_file: &Path) -> SuiteReport {
    let suite = suite_name(test_file);
    let mut report = SuiteReport {
        suite: suite.clone(),
        file: test_file.to_path_buf(),
        ..SuiteReport::default()
    };
    let test: TestFile = match read_single(test_file) {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    match Suite::load(test_file, test) {
        Ok(s) => s.run(engine, &mut report),
        Err(e) => {
            // Every listed check becomes an error: nothing could be evaluated.
            if let Ok(test) = read_single::<TestFile>(test_file) {
                for entry in &test.results {
                    for name in entry.resource_names() {
                        report.checks.push(CheckResult {
                            suite: suite.clone(),
                            policy: entry.policy.clone(),
                            rule: entry.rule.clone().unwrap_or_default(),
                            resource: name,
                            kind: entry.kind.clone().unwrap_or_default(),
                            expected: entry.expected().unwrap_or("").to_string(),
                            actual: "error".into(),
                            matched: false,
                            message: e.clone(),
                            error: true,
                        });
                    }
                }
            }
            report.error = Some(e);
        }
    }
    report
}

fn read_single<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let docs = load_docs(path)?;
    let first = docs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: the file is empty", path.display()))?;
    serde_json::from_value(first.object).map_err(|e| format!("{}: {e}", first.source))
}

fn load_docs(path: &Path) -> Result<Vec<Document>, String> {
    slipway_manifests::load_path(path).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        msg
    })
}

struct LoadedResource {
    object: Value,
}

enum SuitePolicy {
    Kyverno(Box<Policy>),
    Unsupported(String),
    Invalid(String),
}

struct Suite {
    dir: PathBuf,
    test: TestFile,
    policies: Vec<(String, SuitePolicy)>,
    resources: Vec<LoadedResource>,
    values: ValuesFile,
    user: Option<UserInfo>,
}

impl Suite {
    fn load(test_file: &Path, test: TestFile) -> Result<Self, String> {
        let dir = test_file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut policies = Vec::new();
        for p in &test.policies {
            for doc in load_docs(&dir.join(p))? {
                let name = doc.object.name().to_string();
                if !doc.object.api_version().contains("kyverno.io")
                    && !doc
                        .object
                        .api_version()
                        .starts_with("admissionregistration")
                {
                    continue;
                }
                let entry = match load_policy(&doc) {
                    Some(LoadedPolicy::Kyverno(p)) => SuitePolicy::Kyverno(p),
                    Some(LoadedPolicy::Unsupported { kind, reason, .. }) => {
                        SuitePolicy::Unsupported(format!("{kind}/{name}: {reason}"))
                    }
                    Some(LoadedPolicy::Invalid { error, .. }) => {
                        SuitePolicy::Invalid(error.to_string())
                    }
                    None => continue,
                };
                policies.push((name, entry));
            }
        }
        let mut resources: Vec<LoadedResource> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in &test.resources {
            for doc in load_docs(&dir.join(r))? {
                let mut object = doc.object;
                if !object.is_object() {
                    continue;
                }
                let kind = object.kind().to_string();
                if object.namespace().is_none()
                    && !is_cluster_scoped(&kind)
                    && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    meta.insert("namespace".into(), Value::String("default".into()));
                }
                // Only the first of several objects with one identity is evaluated.
                let gvk = object.gvk();
                let key = (
                    gvk.group,
                    kind,
                    object.namespace().map(str::to_string),
                    object.name().to_string(),
                );
                if seen.insert(key) {
                    resources.push(LoadedResource { object });
                }
            }
        }
        let values = match (&test.values, &test.variables) {
            (Some(v), _) => v.clone(),
            (None, Some(file)) => read_single(&dir.join(file))?,
            (None, None) => ValuesFile::default(),
        };
        let user = match &test.userinfo {
            Some(file) => {
                let u: UserInfoFile = read_single(&dir.join(file))?;
                Some(UserInfo {
                    user_info: u.user_info,
                    roles: u.roles,
                    cluster_roles: u.cluster_roles,
                })
            }
            None => None,
        };
        Ok(Self {
            dir,
            test,
            policies,
            resources,
            values,
            user,
        })
    }

    fn namespace_labels(&self, ns: Option<&str>) -> Option<Map<String, Value>> {
        self.values.namespace_labels(ns?)
    }

    fn context_values(&self, policy: &str, resource: &str) -> ContextValues {
        self.values.context_values(policy, resource)
    }

    fn operation(&self, cv: &ContextValues, forced: Option<Operation>) -> Operation {
        forced.unwrap_or_else(|| spec::operation_of(cv))
    }

    fn request(&self, object: &Value, op: Operation) -> Request {
        let (obj, old) = match op {
            Operation::Create | Operation::Connect => (object.clone(), Value::Null),
            Operation::Update => (object.clone(), object.clone()),
            Operation::Delete => (Value::Null, object.clone()),
        };
        Request {
            operation: op,
            object: obj,
            old_object: old,
            user_info: self.user.clone(),
            namespace_labels: self.namespace_labels(object.namespace()),
            subresource: String::new(),
            background: false,
        }
    }

    /// Evaluates every policy on one resource: mutate (chained), validate, generate.
    fn evaluate(
        &self,
        engine: &Engine,
        index: usize,
        forced: Option<Operation>,
    ) -> Vec<Evaluation> {
        let original = &self.resources[index].object;
        let name = original.name().to_string();
        let mut current = original.clone();
        let mut out: Vec<Evaluation> = Vec::new();
        for (pname, policy) in &self.policies {
            let SuitePolicy::Kyverno(policy) = policy else {
                continue;
            };
            let cv = self.context_values(pname, &name);
            let op = self.operation(&cv, forced);
            let req = self.request(&current, op);
            let resp = engine.mutate(policy, &req, &cv);
            if let Some(p) = &resp.patched
                && op != Operation::Delete
            {
                current = p.clone();
            }
            out.push(Evaluation {
                policy: pname.clone(),
                patched: current.clone(),
                responses: vec![resp],
            });
        }
        let mut i = 0;
        for (pname, policy) in &self.policies {
            let SuitePolicy::Kyverno(policy) = policy else {
                continue;
            };
            let cv = self.context_values(pname, &name);
            let op = self.operation(&cv, forced);
            let req = self.request(&current, op);
            let v = engine.validate(policy, &req, &cv);
            let g = engine.generate(policy, &req, &cv);
            out[i].responses.push(v);
            out[i].responses.push(g);
            i += 1;
        }
        out
    }

    fn run(self, engine: &Engine, report: &mut SuiteReport) {
        for (_, p) in &self.policies {
            if let SuitePolicy::Unsupported(s) = p {
                report.unsupported.push(s.clone());
            }
        }
        let mut cache: HashMap<(usize, Option<Operation>), Vec<Evaluation>> = HashMap::new();
        for entry in &self.test.results {
            let forced = entry.operation.as_deref().and_then(Operation::parse);
            let expected = entry.expected().unwrap_or("").to_ascii_lowercase();
            let rule = entry.rule.clone().unwrap_or_default();
            for name in entry.resource_names() {
                let mut check = CheckResult {
                    suite: report.suite.clone(),
                    policy: entry.policy.clone(),
                    rule: rule.clone(),
                    resource: name.clone(),
                    kind: entry.kind.clone().unwrap_or_default(),
                    expected: expected.clone(),
                    actual: String::new(),
                    matched: false,
                    message: String::new(),
                    error: false,
                };
                let policy = self.policies.iter().find(|(n, _)| n == entry.policy_name());
                match policy {
                    None => {
                        check.actual = "error".into();
                        check.error = true;
                        check.message =
                            format!("policy {} is not in the suite's policy files", entry.policy);
                    }
                    Some((_, SuitePolicy::Unsupported(why))) => {
                        check.actual = "unsupported".into();
                        check.error = true;
                        check.message = format!("not supported yet: {why}");
                    }
                    Some((_, SuitePolicy::Invalid(why))) => {
                        // The Kyverno CLI drops a policy that fails validation
                        // and reports its entries as skipped.
                        check.actual = "skip".into();
                        check.matched = expected == "skip";
                        check.message = format!("policy failed validation: {why}");
                    }
                    Some((_, SuitePolicy::Kyverno(_))) => {
                        self.check_entry(engine, entry, &name, forced, &mut cache, &mut check);
                    }
                }
                report.checks.push(check);
            }
        }
    }

    fn find_resource(&self, entry: &spec::ResultEntry, name: &str) -> Option<usize> {
        let (ns, n) = match name.split_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, name),
        };
        self.resources.iter().position(|r| {
            r.object.name() == n
                && ns.is_none_or(|ns| r.object.namespace() == Some(ns))
                && entry
                    .kind
                    .as_deref()
                    .is_none_or(|k| k.is_empty() || r.object.kind() == k)
        })
    }

    fn check_entry(
        &self,
        engine: &Engine,
        entry: &spec::ResultEntry,
        name: &str,
        forced: Option<Operation>,
        cache: &mut HashMap<(usize, Option<Operation>), Vec<Evaluation>>,
        check: &mut CheckResult,
    ) {
        let Some(index) = self.find_resource(entry, name) else {
            check.actual = "not-found".into();
            check.message = format!(
                "no resource {}{name} in the suite's resource files",
                entry
                    .kind
                    .as_deref()
                    .map(|k| format!("{k} "))
                    .unwrap_or_default()
            );
            return;
        };
        let evals = cache
            .entry((index, forced))
            .or_insert_with(|| self.evaluate(engine, index, forced));
        let Some(eval) = evals.iter().find(|e| e.policy == entry.policy_name()) else {
            check.actual = "n/a".into();
            check.matched = check.expected == "skip";
            return;
        };
        let rule = entry.rule.as_deref();
        let statuses: Vec<(RuleStatus, &str)> = eval
            .responses
            .iter()
            .flat_map(|r| &r.rules)
            .filter(|r| match rule {
                None => true,
                Some(rule) => {
                    r.name == rule
                        || r.name == format!("autogen-{rule}")
                        || r.name == format!("autogen-cronjob-{rule}")
                }
            })
            .map(|r| (r.status, r.message.as_str()))
            .collect();
        if statuses.is_empty() {
            check.actual = "n/a".into();
            check.matched = check.expected == "skip";
            if !check.matched {
                check.message = "the rule produced no response for this resource (it did not match, was excluded, or a foreach had no element)".into();
            }
        } else {
            let mut names: Vec<&str> = statuses.iter().map(|(s, _)| s.as_str()).collect();
            names.dedup();
            check.actual = names.join(",");
            check.matched = statuses.iter().all(|(s, _)| s.as_str() == check.expected);
            check.message = statuses
                .iter()
                .map(|(_, m)| *m)
                .filter(|m| !m.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
        }
        if let Some(file) = entry.patched_file()
            && let Err(why) = self.compare_file(file, std::slice::from_ref(&eval.patched))
        {
            check.matched = false;
            check.message = format!("patched resource differs: {why}");
        }
        if let Some(file) = &entry.generated_resource {
            let generated: Vec<Value> = eval
                .responses
                .iter()
                .flat_map(|r| r.generated.iter().cloned())
                .collect();
            if let Err(why) = self.compare_file(file, &generated) {
                check.matched = false;
                check.message = format!("generated resource differs: {why}");
            }
        }
    }

    /// Every object in `file` must equal the candidate with the same
    /// apiVersion, kind, namespace and name.
    fn compare_file(&self, file: &str, candidates: &[Value]) -> Result<(), String> {
        let docs = load_docs(&self.dir.join(file))?;
        let mut compared = 0;
        for doc in &docs {
            let e = &doc.object;
            let found = candidates.iter().find(|c| same_identity(c, e));
            if let Some(c) = found {
                compare::compare(&without_default_namespace(c, e), e)?;
                compared += 1;
            }
        }
        if compared == 0 {
            return Err(format!(
                "{file} holds no object with the identity of the resource ({})",
                candidates
                    .iter()
                    .map(|c| slipway_model::ObjectKey::of(c).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}

/// The runner puts namespaced resources without a namespace into `default`
/// (as the Kyverno CLI does); an expected object written without a namespace
/// is compared without it.
fn without_default_namespace(actual: &Value, expected: &Value) -> Value {
    let mut a = actual.clone();
    if expected.namespace().is_none()
        && actual.namespace() == Some("default")
        && let Some(meta) = a.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.remove("namespace");
    }
    a
}

fn same_identity(a: &Value, b: &Value) -> bool {
    a.api_version() == b.api_version()
        && a.kind() == b.kind()
        && a.name() == b.name()
        && a.namespace().unwrap_or("default") == b.namespace().unwrap_or("default")
}

struct Evaluation {
    policy: String,
    patched: Value,
    responses: Vec<EngineResponse>,
}

#[cfg(test)]
mod tests;
