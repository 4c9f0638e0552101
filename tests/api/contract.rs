//! One list of routes, four places that must agree: the route table in shared/src/http/route.rs
//! (what the functions admit), template.yaml (what is deployed), openapi.yaml (the contract), and
//! the `cargo lambda watch` router in Cargo.toml (what runs locally).

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::helpers::repo_root;

type Route = (String, String);

fn read(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// (METHOD, path, binary) of every HTTP API event in template.yaml.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template: Value = serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is YAML");
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_owned();
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"].as_str() == Some("HttpApi") {
                let method = event["Properties"]["Method"].as_str().expect("Method").to_uppercase();
                let path = event["Properties"]["Path"].as_str().expect("Path").to_owned();
                routes.insert((method, path, binary.clone()));
            }
        }
    }
    routes
}

fn openapi_routes() -> BTreeSet<Route> {
    let spec: Value = serde_yaml::from_str(&read("openapi.yaml")).expect("openapi.yaml is YAML");
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().unwrap_or_default();
            if ["get", "put", "post", "patch", "delete"].contains(&method) {
                routes.insert((method.to_uppercase(), path.as_str().unwrap_or_default().to_owned()));
            }
        }
    }
    routes
}

fn watch_routes() -> BTreeSet<(String, String, String)> {
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml is TOML");
    let router = &manifest["workspace"]["metadata"]["lambda"]["watch"]["router"];
    let mut routes = BTreeSet::new();
    for (path, targets) in router.as_table().expect("router table") {
        for target in targets.as_array().expect("route list") {
            let method = target["method"].as_str().expect("method").to_uppercase();
            let function = target["function"].as_str().expect("function").to_owned();
            routes.insert((method, path.clone(), function));
        }
    }
    routes
}

#[test]
fn template_openapi_and_local_router_list_the_same_routes() {
    let deployed = template_routes();
    assert!(deployed.len() >= 12, "template.yaml has the API's routes: {deployed:?}");

    let deployed_routes: BTreeSet<Route> = deployed.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    let documented = openapi_routes();
    assert_eq!(
        deployed_routes.symmetric_difference(&documented).collect::<Vec<_>>(),
        Vec::<&Route>::new(),
        "routes in only one of template.yaml and openapi.yaml"
    );
    let declared: BTreeSet<Route> = shared::http::route::ROUTES
        .iter()
        .map(|route| {
            let (method, path) = route.key.split_once(' ').expect("a route key is `METHOD /path`");
            (method.to_owned(), path.to_owned())
        })
        .collect();
    assert_eq!(
        deployed_routes.symmetric_difference(&declared).collect::<Vec<_>>(),
        Vec::<&Route>::new(),
        "routes in only one of template.yaml and the route table (shared/src/http/route.rs)"
    );
    let local = watch_routes();
    assert_eq!(
        deployed.symmetric_difference(&local).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "template.yaml and the cargo lambda watch router disagree (method, path, function)"
    );
}

#[test]
fn every_function_in_the_template_is_a_workspace_binary() {
    for (_, _, binary) in template_routes() {
        assert!(repo_root().join("functions").join(&binary).join("src/main.rs").exists(), "{binary} has no crate");
    }
}

/// `sam build` builds each function in its CodeUri: its own package, so SAM never walks or hashes the
/// rest of the tree (target/ included), and the package's binary is the function's.
#[test]
fn every_function_is_built_from_its_own_package() {
    let template: Value = serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is YAML");
    let mut functions = 0;
    for (name, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary");
        assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name:?}");
        let code_uri = resource["Properties"]["CodeUri"].as_str().expect("CodeUri");
        assert_eq!(code_uri, format!("functions/{binary}"), "{name:?}");
        let manifest = read(&format!("{code_uri}/Cargo.toml"));
        assert!(manifest.contains(&format!("name = \"{binary}\"")), "{code_uri}/Cargo.toml builds {binary}");
    }
    assert_eq!(functions, 13, "12 routes and the index worker");
}

#[test]
fn the_vector_index_fits_the_embedder_and_the_vector_records() {
    let template: Value = serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is YAML");
    let table = &template["Resources"]["ItemsTable"]["Properties"];
    let defaults = shared::config::VectorIndexConfig::default();
    let index = table["VectorIndexes"]
        .as_sequence()
        .and_then(|indexes| indexes.iter().find(|index| index["IndexName"].as_str() == Some(defaults.name.as_str())))
        .expect("ItemsTable declares the vector index search uses");

    assert_eq!(index["VectorAttribute"]["AttributeName"].as_str(), Some(defaults.attribute.as_str()));
    assert_eq!(index["Dimensions"].as_u64(), Some(shared::search::DIMENSIONS as u64), "dimensions = the embedder's");
    assert_eq!(index["DistanceFunction"].as_str(), Some("COSINE"), "the score is 1 - the cosine distance");
    let schema: Vec<(&str, &str)> = index["SearchSchema"]
        .as_sequence()
        .expect("a search schema")
        .iter()
        .map(|e| (e["AttributeName"].as_str().unwrap(), e["SearchSchemaElementType"].as_str().unwrap()))
        .collect();
    use shared::repository::{SEARCH_OWNER, SEARCH_STATUS, SHELF};
    assert_eq!(schema, [(SHELF, "HASH"), (SEARCH_STATUS, "INLINE_FILTER"), (SEARCH_OWNER, "INLINE_FILTER")]);
    let search_policy = serde_yaml::to_string(&template["Resources"]["SearchItemsFunction"]["Properties"]["Policies"])
        .expect("policies");
    assert!(
        search_policy.contains("dynamodb:SearchVectors")
            && search_policy.contains(&format!("/index/{}", defaults.name)),
        "search-items may search exactly that index: {search_policy}"
    );
}
