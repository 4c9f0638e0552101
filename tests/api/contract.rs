//! One list of routes, and what must agree with it: the route table in shared/src/http/route.rs
//! (what the functions admit and run), template.yaml (what is deployed, and from which the local
//! router is derived), openapi.yaml (the contract), the binaries in functions/src/bin, and dispatch.

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

/// (METHOD, path, function) of every route in the table.
fn table_routes() -> BTreeSet<(String, String, String)> {
    shared::http::route::ROUTES
        .iter()
        .map(|route| {
            let (method, path) = route.key.split_once(' ').expect("a route key is `METHOD /path`");
            (method.to_owned(), path.to_owned(), route.function.to_owned())
        })
        .collect()
}

#[test]
fn the_route_table_template_and_openapi_list_the_same_routes() {
    let declared = table_routes();
    assert!(declared.len() >= 12, "the route table has the API's routes: {declared:?}");
    let deployed = template_routes();
    assert_eq!(
        declared.symmetric_difference(&deployed).collect::<Vec<_>>(),
        Vec::<&(String, String, String)>::new(),
        "(method, path, function) in only one of the route table (shared/src/http/route.rs) and template.yaml"
    );
    let declared: BTreeSet<Route> = declared.into_iter().map(|(method, path, _)| (method, path)).collect();
    let documented = openapi_routes();
    assert_eq!(
        declared.symmetric_difference(&documented).collect::<Vec<_>>(),
        Vec::<&Route>::new(),
        "routes in only one of the route table and openapi.yaml"
    );
}

/// The function names of `functions/src/bin/*.rs`.
fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions/src/bin"))
        .expect("functions/src/bin")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| path.file_stem().unwrap_or_default().to_string_lossy().into_owned())
        .collect()
}

/// `sam build` builds every function from the one `functions` package (its CodeUri: SAM copies and
/// hashes only that folder, never target/), and the function's `Binary` is its `src/bin/<name>.rs`.
/// Every binary is deployed, and every route's binary calls that route's handler.
#[test]
fn every_function_is_a_binary_of_the_functions_package_and_every_binary_a_function() {
    let template: Value = serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is YAML");
    let mut deployed = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name:?}");
        assert_eq!(resource["Properties"]["CodeUri"].as_str(), Some("functions"), "{name:?}");
        deployed.insert(resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_owned());
    }
    assert_eq!(deployed, binaries(), "template.yaml's functions and functions/src/bin/*.rs");
    for route in shared::http::route::ROUTES {
        let main = read(&format!("functions/src/bin/{}.rs", route.function));
        let handler = format!("shared::http::route::{}", route.function.replace('-', "_"));
        assert!(main.contains(&handler), "functions/src/bin/{}.rs serves {handler}", route.function);
    }
}

/// The tests (and `cargo lambda watch`-free hosts) reach every route through `dispatch`: a route
/// added to the table without its arm there would be unreachable in-process.
#[tokio::test]
async fn every_route_in_the_table_is_dispatched_to_its_handler() {
    let app = crate::helpers::spawn_app().await;
    for route in shared::http::route::ROUTES {
        let (method, path) = route.key.split_once(' ').expect("METHOD /path");
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(path.replace("{id}", "01JDQ3G9X2V0Y8M6K4T5R7N3PA"))
            .body(lambda_http::Body::Empty)
            .expect("a request");
        let response = shared::http::route::dispatch(app.app.apis(), route.key, request).await;
        let response = response.unwrap_or_else(|| panic!("{} is not dispatched", route.key));
        assert_eq!(response.status(), 401, "{}: admitted through its own gate, so no token is a 401", route.key);
    }
    assert!(
        shared::http::route::dispatch(app.app.apis(), "GET /nowhere", lambda_http::Request::default()).await.is_none()
    );
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
