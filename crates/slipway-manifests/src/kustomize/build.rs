//! The build: accumulating one kustomization (resources, configurations,
//! components, generators, transformers, vars), recursively for bases, then
//! the top-level finishing steps (hash suffixes, back references, vars,
//! local-config removal, output order).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::KustomizeError;
use super::config::TransformerConfig;
use super::generate::{self, GenKind, GenOptions};
use super::kustomization::{Kustomization, confined, parse_yaml};
use super::nameref;
use super::origin::{self, BuildMetadata, Origin};
use super::plugins::{self, ImageTag, PatchOptions, ResList};
use super::resource::{Behavior, Resource, legacy_sort};
use super::selector::Selector;
use super::vars::{self, Var};

/// What one kustomization accumulates.
#[derive(Debug)]
pub(crate) struct Acc {
    pub resources: ResList,
    pub config: TransformerConfig,
    pub vars: Vec<Var>,
}

impl Acc {
    fn new() -> Self {
        Self {
            resources: Vec::new(),
            config: TransformerConfig::default_config(),
            vars: Vec::new(),
        }
    }

    fn append(&mut self, r: Resource) -> Result<(), String> {
        let id = r.cur_id();
        if self.resources.iter().any(|x| x.cur_id().equals(&id)) {
            return Err(format!(
                "may not add resource with an already registered id: {id}"
            ));
        }
        self.resources.push(r);
        Ok(())
    }

    /// Upstream's `appendReplaceOrMerge` for generated resources.
    fn absorb(&mut self, mut r: Resource) -> Result<(), String> {
        let id = r.cur_id();
        let matches: Vec<usize> = self
            .resources
            .iter()
            .enumerate()
            .filter(|(_, x)| x.any_ids().iter().any(|i| i.equals(&id)))
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [] => match r.behavior {
                Behavior::Create => self.append(r),
                _ => Err(format!("id {id} does not exist; cannot merge or replace")),
            },
            [i] => {
                let old = &self.resources[*i];
                match r.behavior {
                    Behavior::Create => {
                        return Err(format!("id {id} exists; behavior must be merge or replace"));
                    }
                    Behavior::Replace => {}
                    Behavior::Merge => {
                        for field in ["data", "binaryData"] {
                            let mut merged = old
                                .obj
                                .get(field)
                                .and_then(Value::as_object)
                                .cloned()
                                .unwrap_or_default();
                            if let Some(new) = r.obj.get(field).and_then(Value::as_object) {
                                merged.extend(new.clone());
                            }
                            if let Some(m) = r.obj.as_object_mut()
                                && !merged.is_empty()
                            {
                                m.insert(field.into(), Value::Object(merged));
                            }
                        }
                    }
                }
                let mut labels = old.labels();
                labels.extend(r.labels());
                let mut annotations = old.annotations();
                annotations.extend(r.annotations());
                r.set_string_map("labels", labels);
                r.set_string_map("annotations", annotations);
                r.set_name(old.name());
                r.set_namespace(old.namespace());
                r.org = old.org.clone();
                r.prev = old.prev.clone();
                r.prefixes = old.prefixes.clone();
                r.suffixes = old.suffixes.clone();
                // The hash setting is the incoming generator's (upstream drops
                // the old needs-hash mark unless the new resource has it).
                r.ref_vars = old.ref_vars.clone();
                // A merge keeps the old origin, a replace takes the new one;
                // the transformations annotation merges like any annotation.
                r.origin = match r.behavior {
                    Behavior::Merge => old.origin.clone().or(r.origin.take()),
                    _ => r.origin.take().or(old.origin.clone()),
                };
                if r.transformations.is_empty() {
                    r.transformations = old.transformations.clone();
                }
                r.behavior = Behavior::Create;
                self.resources[*i] = r;
                Ok(())
            }
            _ => Err(format!(
                "found multiple objects that could accept merge of {id}"
            )),
        }
    }
}

/// Builds the kustomization in `dir` (`kustomize build DIR`) and returns the
/// output objects in output order.
pub fn kustomize_build(dir: &Path) -> Result<Vec<Value>, KustomizeError> {
    let dir = fs_err::canonicalize(dir).map_err(|source| KustomizeError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut k = Kustomization::load(&dir)?;
    let meta = BuildMetadata::from_value(k.get("buildMetadata")).map_err(|m| k.invalid(m))?;
    if meta.tracks_origin() {
        k.origin = Some(Origin::default());
    }
    let mut stack = Vec::new();
    let acc = accumulate(&k, Acc::new(), &mut stack)?;
    let fail = |message: String| KustomizeError::Build {
        dir: dir.clone(),
        message,
    };
    let mut resources = acc.resources;
    for r in &mut resources {
        if r.needs_hash {
            let h = generate::hash_suffix(&r.obj);
            r.store_previous_id();
            let name = format!("{}-{h}", r.name());
            r.set_name(&name);
        }
    }
    nameref::fix_back_references(&mut resources, &acc.config.name_reference).map_err(fail)?;
    vars::resolve(&mut resources, &acc.vars, &acc.config.var_reference).map_err(fail)?;
    resources.retain(|r| !r.is_local_config());
    let order = sort_order(&k)?;
    match order {
        SortOrder::Legacy => legacy_sort(&mut resources),
        SortOrder::Fifo => {}
    }
    Ok(resources
        .into_iter()
        .map(|r| with_build_metadata(r, meta))
        .collect())
}

/// The object with the build metadata the top kustomization asks for.
fn with_build_metadata(mut r: Resource, meta: BuildMetadata) -> Value {
    if meta.managed_by_label {
        let mut labels = r.labels();
        labels.insert(
            origin::MANAGED_BY_LABEL.into(),
            Value::String(origin::MANAGED_BY_VALUE.into()),
        );
        r.set_string_map("labels", labels);
    }
    let mut annotations = r.annotations();
    let before = annotations.len();
    if meta.origin_annotations
        && let Some(o) = &r.origin
    {
        annotations.insert(
            origin::ORIGIN_ANNOTATION.into(),
            Value::String(o.to_annotation()),
        );
    }
    if meta.transformer_annotations && !r.transformations.is_empty() {
        annotations.insert(
            origin::TRANSFORMATIONS_ANNOTATION.into(),
            Value::String(origin::transformations_annotation(&r.transformations)),
        );
    }
    if annotations.len() != before {
        r.set_string_map("annotations", annotations);
    }
    r.obj
}

enum SortOrder {
    Legacy,
    Fifo,
}

fn sort_order(k: &Kustomization) -> Result<SortOrder, KustomizeError> {
    let Some(opts) = k.get("sortOptions") else {
        return Ok(SortOrder::Legacy);
    };
    match opts.get("order").and_then(Value::as_str) {
        Some("fifo") => Ok(SortOrder::Fifo),
        Some("legacy") => {
            if opts.get("legacySortOptions").is_some() {
                return Err(KustomizeError::Unsupported {
                    path: k.path.clone(),
                    field: "sortOptions.legacySortOptions".into(),
                });
            }
            Ok(SortOrder::Legacy)
        }
        _ => Err(k.invalid("the field 'sortOptions.order' must be one of [fifo, legacy]".into())),
    }
}

fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com/")
        || entry.starts_with("git@")
        || entry.starts_with("gitlab.com/")
}

/// Loads the documents of one resource file.
fn load_resource_file(path: &Path) -> Result<Vec<Value>, KustomizeError> {
    let docs = crate::load_path(path)?;
    Ok(docs.into_iter().map(|d| d.object).collect())
}

/// Reads a file named in the kustomization, relative to its directory.
fn read_rel(k: &Kustomization, rel: &str) -> Result<(PathBuf, String), KustomizeError> {
    let path = confined(&k.dir, rel)?;
    let text = fs_err::read_to_string(&path).map_err(|source| KustomizeError::Io {
        path: path.clone(),
        source,
    })?;
    Ok((path, text))
}

/// Splits YAML text into documents (values), dropping empty ones.
fn yaml_docs(text: &str, path: &Path) -> Result<Vec<Value>, KustomizeError> {
    let docs = crate::load::Loader {
        expand_lists: false,
        keep_empty: false,
    }
    .load_str(text, &path.display().to_string())?;
    Ok(docs.into_iter().map(|d| d.object).collect())
}

fn accumulate(
    k: &Kustomization,
    mut acc: Acc,
    stack: &mut Vec<PathBuf>,
) -> Result<Acc, KustomizeError> {
    if stack.contains(&k.dir) {
        return Err(k.invalid(format!(
            "cycle detected: {} includes itself",
            k.dir.display()
        )));
    }
    stack.push(k.dir.clone());
    let result = accumulate_inner(k, &mut acc, stack);
    stack.pop();
    result.map(|()| acc)
}

fn accumulate_inner(
    k: &Kustomization,
    acc: &mut Acc,
    stack: &mut Vec<PathBuf>,
) -> Result<(), KustomizeError> {
    let build_err = |message: String| KustomizeError::Build {
        dir: k.dir.clone(),
        message,
    };
    // Only the top kustomization's `buildMetadata` counts (upstream copies
    // it into every kustomization it reaches); others are only checked.
    BuildMetadata::from_value(k.get("buildMetadata")).map_err(|m| k.invalid(m))?;
    // `openapi` only changes merge keys of custom types; the schema-less
    // merge already infers `name` keys, so it needs no step here.
    // resources (and the deprecated `bases`, appended as upstream does)
    let mut entries = k.string_list("resources")?;
    entries.extend(k.string_list("bases")?);
    for entry in entries {
        if is_remote(&entry) {
            return Err(KustomizeError::Unsupported {
                path: k.path.clone(),
                field: format!("resources: remote base `{entry}`"),
            });
        }
        let path = k.dir.join(&entry);
        if path.is_dir() {
            let path = fs_err::canonicalize(&path).map_err(|source| KustomizeError::Io {
                path: path.clone(),
                source,
            })?;
            let mut sub = Kustomization::load(&path)?;
            sub.origin = k.origin.as_ref().map(|o| o.append(&entry));
            if sub.is_component {
                return Err(build_err(format!(
                    "expected kind != 'Component' for path '{}'",
                    path.display()
                )));
            }
            let sub_acc = accumulate(&sub, Acc::new(), stack)?;
            for r in sub_acc.resources {
                acc.append(r).map_err(build_err)?;
            }
            acc.vars.extend(sub_acc.vars);
            acc.config.merge(&sub_acc.config);
        } else if path.is_file() {
            let path = confined(&k.dir, &entry)?;
            for obj in load_resource_file(&path)? {
                check_object(&obj).map_err(|m| build_err(format!("{}: {m}", path.display())))?;
                let mut r = Resource::new(obj);
                r.origin = k.origin.as_ref().map(|o| o.append(&entry));
                acc.append(r).map_err(build_err)?;
            }
        } else {
            return Err(build_err(format!(
                "accumulating resources: '{}': no such file or directory",
                path.display()
            )));
        }
    }
    // configurations
    for c in k.string_list("configurations")? {
        let (path, text) = read_rel(k, &c)?;
        let v = parse_yaml(&text, &path)?;
        let cfg = TransformerConfig::from_value(&v).map_err(|message| KustomizeError::Invalid {
            path: path.clone(),
            message,
        })?;
        acc.config.merge(&cfg);
    }
    // crds
    for c in k.string_list("crds")? {
        let (path, text) = read_rel(k, &c)?;
        for doc in yaml_docs(&text, &path)? {
            acc.config.merge(&super::vars::config_from_crd(&doc));
        }
    }
    run_generators(k, acc, stack)?;
    // Components run after this kustomization's generators and before its
    // transformers (upstream since v5.1).
    // components
    for c in k.string_list("components")? {
        let path = k.dir.join(&c);
        if !path.is_dir() {
            return Err(build_err(format!(
                "accumulating components: must build at directory: '{}': file is not directory",
                path.display()
            )));
        }
        let path = fs_err::canonicalize(&path).map_err(|source| KustomizeError::Io {
            path: path.clone(),
            source,
        })?;
        let mut sub = Kustomization::load(&path)?;
        sub.origin = k.origin.as_ref().map(|o| o.append(&c));
        if !sub.is_component {
            return Err(build_err(format!(
                "accumulating components: expected kind 'Component' for path '{}' but got '{}'",
                path.display(),
                sub.fields
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("Kustomization")
            )));
        }
        let taken = std::mem::replace(acc, Acc::new());
        *acc = accumulate(&sub, taken, stack)?;
    }
    run_transformers(k, acc, stack)?;
    for v in k.list("vars")? {
        let var = Var::from_value(&v).map_err(|m| k.invalid(m))?;
        vars::merge_var(&mut acc.vars, &mut acc.resources, var).map_err(build_err)?;
    }
    Ok(())
}

fn check_object(obj: &Value) -> Result<(), String> {
    if !obj.is_object() {
        return Err("a resource must be a mapping".into());
    }
    if obj
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("missing kind in object".into());
    }
    Ok(())
}

fn run_generators(
    k: &Kustomization,
    acc: &mut Acc,
    stack: &mut Vec<PathBuf>,
) -> Result<(), KustomizeError> {
    let build_err = |message: String| KustomizeError::Build {
        dir: k.dir.clone(),
        message,
    };
    let global = GenOptions::from_value(k.get("generatorOptions")).map_err(|m| k.invalid(m))?;
    for (field, kind) in [
        ("configMapGenerator", GenKind::ConfigMap),
        ("secretGenerator", GenKind::Secret),
    ] {
        for g in k.list(field)? {
            let mut r = generate::generate(kind, &g, &global, &k.dir)
                .map_err(|m| k.invalid(format!("{field}: {m}")))?;
            r.origin = k.builtin_origin(match kind {
                GenKind::ConfigMap => "ConfigMapGenerator",
                GenKind::Secret => "SecretGenerator",
            });
            acc.absorb(r).map_err(build_err)?;
        }
    }
    for (cfg, cfg_origin) in plugin_configs(k, &k.string_list("generators")?, stack)? {
        let kind = cfg
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let api = cfg.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let generated = match (api, kind.as_str()) {
            ("builtin", "ConfigMapGenerator") => {
                generate::generate(GenKind::ConfigMap, &cfg, &GenOptions::default(), &k.dir)
            }
            ("builtin", "SecretGenerator") => {
                generate::generate(GenKind::Secret, &cfg, &GenOptions::default(), &k.dir)
            }
            ("builtin", "IAMPolicyGenerator") => generate::iam_policy(&cfg),
            _ => return Err(plugin_kind_error(k, "generators", api, &kind)),
        };
        let mut r = generated.map_err(|m| k.invalid(format!("generators: {kind}: {m}")))?;
        r.origin = cfg_origin.map(|o| o.of_plugin(&cfg));
        acc.absorb(r).map_err(build_err)?;
    }
    Ok(())
}

/// The plugin configs the entries of `transformers`/`generators` stand for,
/// each with its origin when origins are tracked: inline YAML documents
/// first, then files and kustomization directories (whose accumulated
/// resources are the configs), as upstream orders them.
fn plugin_configs(
    k: &Kustomization,
    entries: &[String],
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<(Value, Option<Origin>)>, KustomizeError> {
    let mut out = Vec::new();
    let inline_origin = k.origin.as_ref().map(|o| o.append(&k.file_name()));
    for entry in entries.iter().filter(|e| e.contains('\n')) {
        for doc in yaml_docs(entry, &k.path)? {
            out.push((doc, inline_origin.clone()));
        }
    }
    for entry in entries.iter().filter(|e| !e.contains('\n')) {
        let path = k.dir.join(entry);
        let entry_origin = k.origin.as_ref().map(|o| o.append(entry));
        if path.is_dir() {
            let path = fs_err::canonicalize(&path).map_err(|source| KustomizeError::Io {
                path: path.clone(),
                source,
            })?;
            let mut sub = Kustomization::load(&path)?;
            sub.origin = entry_origin;
            let sub_acc = accumulate(&sub, Acc::new(), stack)?;
            out.extend(sub_acc.resources.into_iter().map(|r| (r.obj, r.origin)));
            continue;
        }
        let (path, text) = read_rel(k, entry)?;
        for doc in yaml_docs(&text, &path)? {
            out.push((doc, entry_origin.clone()));
        }
    }
    Ok(out)
}

/// Loads patch documents from a `path` or inline `patch`.
fn patch_docs(k: &Kustomization, entry: &Value) -> Result<Vec<Value>, KustomizeError> {
    if let Some(p) = entry.get("path").and_then(Value::as_str) {
        let (path, text) = read_rel(k, p)?;
        return yaml_docs(&text, &path);
    }
    if let Some(p) = entry.get("patch").and_then(Value::as_str) {
        return yaml_docs(p, &k.path);
    }
    Err(k.invalid("a patch needs `path` or `patch`".into()))
}

fn selector(k: &Kustomization, v: Option<&Value>) -> Result<Option<Selector>, KustomizeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Selector::from_value(v)
            .map(Some)
            .map_err(|m| k.invalid(format!("patch target: {m}"))),
    }
}

/// Upstream's `AddTransformerAnnotation`, run after each transformer when
/// origins are tracked: a resource without an origin takes the
/// transformer's, others record it as a transformation.
fn note_transformer(res: &mut [Resource], origin: Option<Origin>) {
    let Some(o) = origin else {
        return;
    };
    for r in res {
        if r.origin.is_none() {
            r.origin = Some(o.clone());
        } else {
            r.transformations.push(o.clone());
        }
    }
}

fn run_transformers(
    k: &Kustomization,
    acc: &mut Acc,
    stack: &mut Vec<PathBuf>,
) -> Result<(), KustomizeError> {
    let build_err = |message: String| KustomizeError::Build {
        dir: k.dir.clone(),
        message,
    };
    let res = &mut acc.resources;
    let cfg = acc.config.clone();
    let track = |res: &mut ResList, kind: &str| note_transformer(res, k.builtin_origin(kind));
    // patchesStrategicMerge
    let psm = k.list("patchesStrategicMerge")?;
    for entry in &psm {
        let Some(s) = entry.as_str() else {
            return Err(k.invalid("patchesStrategicMerge entries must be strings".into()));
        };
        let docs = if s.contains('\n') || !k.dir.join(s).is_file() && (s.contains(':')) {
            yaml_docs(s, &k.path)?
        } else {
            let (path, text) = read_rel(k, s)?;
            yaml_docs(&text, &path)?
        };
        for d in docs {
            plugins::smp_by_id(res, &d, PatchOptions::default()).map_err(build_err)?;
        }
    }
    if !psm.is_empty() {
        track(res, "PatchStrategicMergeTransformer");
    }
    // patches
    for entry in k.list("patches")? {
        let opts = patch_options(entry.get("options"));
        let docs = patch_docs(k, &entry)?;
        let target = selector(k, entry.get("target"))?;
        apply_patch_docs(res, &docs, target.as_ref(), opts).map_err(build_err)?;
        track(res, "PatchTransformer");
    }
    // namespace
    let ns = k.string("namespace")?;
    if !ns.is_empty() {
        plugins::namespace(res, &ns, &cfg.namespace, false).map_err(build_err)?;
        track(res, "NamespaceTransformer");
    }
    let prefix = k.string("namePrefix")?;
    if !prefix.is_empty() {
        plugins::prefix_suffix(res, &prefix, "", &cfg.name_prefix).map_err(build_err)?;
        track(res, "PrefixTransformer");
    }
    let suffix = k.string("nameSuffix")?;
    if !suffix.is_empty() {
        plugins::prefix_suffix(res, "", &suffix, &cfg.name_suffix).map_err(build_err)?;
        track(res, "SuffixTransformer");
    }
    // labels, then commonLabels
    let labels = k.list("labels")?;
    let common_labels = k.string_map("commonLabels")?;
    for l in &labels {
        let pairs = l
            .get("pairs")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(a, b)| {
                        (
                            a.clone(),
                            Value::String(
                                super::kustomization::scalar_string(b).unwrap_or_default(),
                            ),
                        )
                    })
                    .collect::<Map<String, Value>>()
            })
            .unwrap_or_default();
        let mut specs: Vec<super::config::FieldSpec> = l
            .get("fields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(super::config::FieldSpec::from_value)
                    .collect()
            })
            .unwrap_or_default();
        let flag = |n: &str| l.get(n).and_then(Value::as_bool).unwrap_or(false);
        let add = |specs: &mut Vec<super::config::FieldSpec>, more: &[super::config::FieldSpec]| {
            for fs in more {
                if !specs.contains(fs) {
                    specs.push(fs.clone());
                }
            }
        };
        if flag("includeSelectors") {
            add(&mut specs, &cfg.common_labels);
        } else {
            add(
                &mut specs,
                &[super::config::FieldSpec::new(
                    "",
                    "",
                    "",
                    "metadata/labels",
                    true,
                )],
            );
            if flag("includeTemplates") {
                add(&mut specs, &cfg.template_labels);
            }
        }
        plugins::set_map_entries(res, &pairs, &specs).map_err(build_err)?;
        track(res, "LabelTransformer");
    }
    if !labels.is_empty() || !common_labels.is_empty() {
        plugins::set_map_entries(res, &common_labels, &cfg.common_labels).map_err(build_err)?;
        track(res, "LabelTransformer");
    }
    let common_annotations = k.string_map("commonAnnotations")?;
    if !common_annotations.is_empty() {
        plugins::set_map_entries(res, &common_annotations, &cfg.common_annotations)
            .map_err(build_err)?;
        track(res, "AnnotationsTransformer");
    }
    // patchesJson6902
    for entry in k.list("patchesJson6902")? {
        let docs = patch_docs(k, &entry)?;
        let Some(target) = selector(k, entry.get("target"))? else {
            return Err(k.invalid("patchesJson6902 entries need a `target`".into()));
        };
        for d in docs {
            plugins::json6902_by_selector(res, &d, &target, PatchOptions::default())
                .map_err(build_err)?;
        }
        track(res, "PatchJson6902Transformer");
    }
    // replicas
    match k.get("replicas") {
        None => {}
        Some(Value::Array(entries)) => {
            for e in entries {
                plugins::replicas(res, &Value::Array(vec![e.clone()]), &cfg.replicas)
                    .map_err(build_err)?;
                track(res, "ReplicaCountTransformer");
            }
        }
        Some(_) => return Err(k.invalid("field `replicas` must be a list".into())),
    }
    // images
    // The deprecated `imageTags` are appended to `images`, as upstream does.
    let mut image_entries = k.list("images")?;
    image_entries.extend(k.list("imageTags")?);
    let tags: Vec<ImageTag> = image_entries
        .iter()
        .map(ImageTag::from_value)
        .collect::<Result<_, _>>()
        .map_err(|m| k.invalid(format!("images: {m}")))?;
    for tag in &tags {
        plugins::images(res, std::slice::from_ref(tag), &cfg.images).map_err(build_err)?;
        track(res, "ImageTagTransformer");
    }
    // replacements, the last builtin transformer
    let reps = super::replacements::load(k, &k.list("replacements")?)?;
    if !reps.is_empty() {
        super::replacements::run(&reps, res).map_err(build_err)?;
        track(res, "ReplacementTransformer");
    }
    // custom transformers
    for (pc, pc_origin) in plugin_configs(k, &k.string_list("transformers")?, stack)? {
        run_builtin_transformer(k, res, &cfg, &pc)?;
        note_transformer(res, pc_origin.map(|o| o.of_plugin(&pc)));
    }
    Ok(())
}

fn patch_options(v: Option<&Value>) -> PatchOptions {
    let flag = |n: &str| {
        v.and_then(|o| o.get(n))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    PatchOptions {
        allow_name_change: flag("allowNameChange"),
        allow_kind_change: flag("allowKindChange"),
    }
}

fn apply_patch_docs(
    res: &mut ResList,
    docs: &[Value],
    target: Option<&Selector>,
    opts: PatchOptions,
) -> Result<(), String> {
    if let [Value::Array(_)] = docs {
        let Some(target) = target else {
            return Err("a JSON 6902 patch needs a `target`".into());
        };
        return plugins::json6902_by_selector(res, &docs[0], target, opts);
    }
    for d in docs {
        match target {
            Some(t) => plugins::smp_by_selector(res, d, t, opts)?,
            None => plugins::smp_by_id(res, d, opts)?,
        }
    }
    Ok(())
}

fn specs_of(pc: &Value, default: &[super::config::FieldSpec]) -> Vec<super::config::FieldSpec> {
    match pc.get("fieldSpecs").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(super::config::FieldSpec::from_value)
            .collect(),
        None => default.to_vec(),
    }
}

/// Builtin plugin kinds upstream has that this renderer does not run.
const UNSUPPORTED_BUILTINS: &[&str] = &["HelmChartInflationGenerator", "HashTransformer"];

/// The error for a generator or transformer config this renderer cannot
/// run: a non-builtin (exec, container or Go) plugin or a builtin it lacks
/// is unsupported; any other builtin kind does not exist upstream either.
fn plugin_kind_error(k: &Kustomization, field: &str, api: &str, kind: &str) -> KustomizeError {
    if api == "builtin" && !UNSUPPORTED_BUILTINS.contains(&kind) {
        return k.invalid(format!("{field}: unable to load builtin {kind}"));
    }
    KustomizeError::Unsupported {
        path: k.path.clone(),
        field: format!("{field}: plugin {api} {kind}"),
    }
}

fn run_builtin_transformer(
    k: &Kustomization,
    res: &mut ResList,
    cfg: &TransformerConfig,
    pc: &Value,
) -> Result<(), KustomizeError> {
    let build_err = |message: String| KustomizeError::Build {
        dir: k.dir.clone(),
        message,
    };
    let kind = pc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = pc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let unsupported = || plugin_kind_error(k, "transformers", api, kind);
    if api != "builtin" {
        return Err(unsupported());
    }
    let strmap = |key: &str| -> Map<String, Value> {
        pc.get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(a, b)| {
                        (
                            a.clone(),
                            Value::String(
                                super::kustomization::scalar_string(b).unwrap_or_default(),
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let s = |key: &str| {
        pc.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match kind {
        "LabelTransformer" => {
            plugins::set_map_entries(res, &strmap("labels"), &specs_of(pc, &[])).map_err(build_err)
        }
        "AnnotationsTransformer" => {
            plugins::set_map_entries(res, &strmap("annotations"), &specs_of(pc, &[]))
                .map_err(build_err)
        }
        "NamespaceTransformer" => {
            let ns = pc
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let unset_only = pc
                .get("unsetOnly")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            plugins::namespace(res, &ns, &specs_of(pc, &cfg.namespace), unset_only)
                .map_err(build_err)
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            plugins::prefix_suffix(
                res,
                &s("prefix"),
                &s("suffix"),
                &specs_of(pc, &cfg.name_prefix),
            )
            .map_err(build_err)
        }
        "ImageTagTransformer" => {
            let t = ImageTag::from_value(pc.get("imageTag").unwrap_or(&Value::Null))
                .map_err(|m| k.invalid(m))?;
            plugins::images(res, &[t], &specs_of(pc, &cfg.images)).map_err(build_err)
        }
        "ReplicaCountTransformer" => {
            let entry = pc.get("replica").cloned().unwrap_or(Value::Null);
            plugins::replicas(
                res,
                &Value::Array(vec![entry]),
                &specs_of(pc, &cfg.replicas),
            )
            .map_err(build_err)
        }
        "PatchTransformer" => {
            let docs = patch_docs(k, pc)?;
            let target = selector(k, pc.get("target"))?;
            apply_patch_docs(
                res,
                &docs,
                target.as_ref(),
                patch_options(pc.get("options")),
            )
            .map_err(build_err)
        }
        "PatchStrategicMergeTransformer" => {
            let mut docs = Vec::new();
            for p in pc
                .get("paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (path, text) = read_rel(k, p.as_str().unwrap_or(""))?;
                docs.extend(yaml_docs(&text, &path)?);
            }
            if let Some(p) = pc.get("patches").and_then(Value::as_str) {
                docs.extend(yaml_docs(p, &k.path)?);
            }
            for d in docs {
                plugins::smp_by_id(res, &d, PatchOptions::default()).map_err(build_err)?;
            }
            Ok(())
        }
        "PatchJson6902Transformer" => {
            let docs = patch_docs(k, pc)?;
            let Some(target) = selector(k, pc.get("target"))? else {
                return Err(k.invalid("PatchJson6902Transformer needs a `target`".into()));
            };
            for d in docs {
                plugins::json6902_by_selector(res, &d, &target, PatchOptions::default())
                    .map_err(build_err)?;
            }
            Ok(())
        }
        "ValueAddTransformer" => {
            let t = plugins::ValueAdd::from_value(pc, &k.dir)
                .map_err(|m| k.invalid(format!("transformers: ValueAddTransformer: {m}")))?;
            t.apply(res).map_err(build_err)
        }
        "ReplacementTransformer" => {
            let entries = match pc.get("replacements") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => {
                    return Err(
                        k.invalid("ReplacementTransformer: `replacements` must be a list".into())
                    );
                }
            };
            let reps = super::replacements::load(k, &entries)?;
            super::replacements::run(&reps, res).map_err(build_err)
        }
        _ => Err(unsupported()),
    }
}
