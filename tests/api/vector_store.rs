//! The local store's vector indexes, through the real SDK: `CreateTable`/`UpdateTable` with vector
//! indexes, `DescribeTable` reporting them, and `SearchVectors` as DynamoDB's API reference describes
//! it (infra/vector_index.py adds them to moto and lists the rules). Each test makes its own table.

use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::search_vectors::{SearchVectorsError, SearchVectorsOutput};
use aws_sdk_dynamodb::operation::update_table::UpdateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateVectorIndexAction, DeleteVectorIndexAction, IndexStatus,
    KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType, SearchSchemaElement,
    SearchSchemaElementType, VectorAttributeDefinition, VectorDistanceFunction, VectorIndex, VectorIndexUpdate,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::helpers::{TestApp, spawn_app};

const INDEX: &str = "by-embedding";
const EMBEDDING: &str = "embedding";

/// A search schema element: the vector index partition key or an inline filter.
enum Element {
    Hash(&'static str),
    Filter(&'static str),
}

struct Definition {
    function: VectorDistanceFunction,
    dimensions: i64,
    schema: Vec<Element>,
    projection: Projection,
}

impl Definition {
    fn new(function: VectorDistanceFunction, dimensions: i64) -> Self {
        let projection = Projection::builder().projection_type(ProjectionType::All).build();
        Self { function, dimensions, schema: Vec::new(), projection }
    }

    fn schema(mut self, schema: Vec<Element>) -> Self {
        self.schema = schema;
        self
    }

    fn projection(mut self, kind: ProjectionType, non_key: &[&str]) -> Self {
        let mut projection = Projection::builder().projection_type(kind);
        for attribute in non_key {
            projection = projection.non_key_attributes(*attribute);
        }
        self.projection = projection.build();
        self
    }

    fn search_schema(&self) -> Vec<SearchSchemaElement> {
        self.schema
            .iter()
            .map(|element| {
                let (name, kind) = match element {
                    Element::Hash(name) => (name, SearchSchemaElementType::Hash),
                    Element::Filter(name) => (name, SearchSchemaElementType::InlineFilter),
                };
                SearchSchemaElement::builder().attribute_name(*name).search_schema_element_type(kind).build().unwrap()
            })
            .collect()
    }

    fn attribute_definitions(&self) -> Vec<AttributeDefinition> {
        let names = self.schema.iter().map(|e| match e {
            Element::Hash(name) | Element::Filter(name) => *name,
        });
        std::iter::once("pk").chain(names).map(string_attribute).collect()
    }
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
}

/// A new on-demand table keyed by `pk`, with the vector index `INDEX` on `EMBEDDING` if `index` is given.
async fn vector_table(app: &TestApp, suffix: &str, index: Option<&Definition>) -> String {
    let table = format!("{}-vec-{suffix}", app.table);
    let mut create = app
        .dynamo
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap());
    match index {
        Some(definition) => {
            let mut vector_index = VectorIndex::builder()
                .index_name(INDEX)
                .vector_attribute(VectorAttributeDefinition::builder().attribute_name(EMBEDDING).build().unwrap())
                .dimensions(definition.dimensions)
                .distance_function(definition.function.clone())
                .projection(definition.projection.clone());
            for element in definition.search_schema() {
                vector_index = vector_index.search_schema(element);
            }
            create = create
                .set_attribute_definitions(Some(definition.attribute_definitions()))
                .vector_indexes(vector_index.build().unwrap());
        }
        None => create = create.attribute_definitions(string_attribute("pk")),
    }
    create.send().await.expect("create the vector table");
    table
}

fn vector(values: &[f64]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|v| AttributeValue::N(v.to_string())).collect())
}

/// Puts item `pk` with the vector (if any) and string attributes.
async fn put(app: &TestApp, table: &str, pk: &str, embedding: Option<&[f64]>, strings: &[(&str, &str)]) {
    put_result(app, table, pk, embedding, strings).await.expect("put item");
}

async fn put_result(
    app: &TestApp,
    table: &str,
    pk: &str,
    embedding: Option<&[f64]>,
    strings: &[(&str, &str)],
) -> Result<(), SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, HttpResponse>> {
    let mut put = app.dynamo.put_item().table_name(table).item("pk", AttributeValue::S(pk.to_owned()));
    if let Some(values) = embedding {
        put = put.item(EMBEDDING, vector(values));
    }
    for (name, value) in strings {
        put = put.item(*name, AttributeValue::S((*value).to_owned()));
    }
    put.send().await.map(|_| ())
}

/// A search: `condition` with its `:values` (and `#names`), `projection` if given.
struct Search<'a> {
    query: &'a [f64],
    top_k: i32,
    condition: Option<&'a str>,
    names: &'a [(&'a str, &'a str)],
    values: &'a [(&'a str, &'a str)],
    projection: Option<&'a str>,
    index: &'a str,
}

impl<'a> Search<'a> {
    fn new(query: &'a [f64], top_k: i32) -> Self {
        Self { query, top_k, condition: None, names: &[], values: &[], projection: None, index: INDEX }
    }

    fn condition(
        mut self,
        condition: &'a str,
        names: &'a [(&'a str, &'a str)],
        values: &'a [(&'a str, &'a str)],
    ) -> Self {
        self.condition = Some(condition);
        self.names = names;
        self.values = values;
        self
    }

    fn names(mut self, names: &'a [(&'a str, &'a str)]) -> Self {
        self.names = names;
        self
    }

    fn projection(mut self, projection: &'a str) -> Self {
        self.projection = Some(projection);
        self
    }

    fn index(mut self, index: &'a str) -> Self {
        self.index = index;
        self
    }

    async fn send(
        &self,
        app: &TestApp,
        table: &str,
    ) -> Result<SearchVectorsOutput, SdkError<SearchVectorsError, HttpResponse>> {
        let mut request = app
            .dynamo
            .search_vectors()
            .table_name(table)
            .index_name(self.index)
            .set_search_vector(Some(self.query.iter().map(|v| AttributeValue::N(v.to_string())).collect()))
            .top_k(self.top_k)
            .set_search_condition_expression(self.condition.map(str::to_owned))
            .set_projection_expression(self.projection.map(str::to_owned));
        for (name, attribute) in self.names {
            request = request.expression_attribute_names(*name, *attribute);
        }
        for (name, value) in self.values {
            request = request.expression_attribute_values(*name, AttributeValue::S((*value).to_owned()));
        }
        request.send().await
    }
}

/// (pk, score) of each result, in the order returned.
fn ranked(output: &SearchVectorsOutput) -> Vec<(String, f64)> {
    output
        .search_results()
        .iter()
        .map(|result| (result.item().unwrap()["pk"].as_s().unwrap().clone(), result.score()))
        .collect()
}

fn pks(output: &SearchVectorsOutput) -> Vec<String> {
    ranked(output).into_iter().map(|(pk, _)| pk).collect()
}

fn assert_scores(got: &[(String, f64)], want: &[(&str, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((pk, score), (want_pk, want_score)) in got.iter().zip(want) {
        assert_eq!(pk, want_pk, "{got:?}");
        assert!((score - want_score).abs() < 1e-5, "{pk}: score {score}, expected {want_score}; {got:?}");
    }
}

/// The HTTP status and the error of a request DynamoDB answered with an error.
fn service_error<O: Debug, E: Debug>(result: Result<O, SdkError<E, HttpResponse>>) -> (u16, E) {
    match result {
        Err(SdkError::ServiceError(context)) => (context.raw().status().as_u16(), context.into_err()),
        other => panic!("expected an error answer, got {other:?}"),
    }
}

/// A 400 ValidationException (not a modelled error of SearchVectors: the SDK reports it by its code).
fn assert_validation<E: ProvideErrorMetadata + Debug>((status, error): (u16, E), message: &str) {
    assert_eq!(status, 400, "{error:?}");
    assert_eq!(error.code(), Some("ValidationException"), "{error:?}");
    assert!(error.message().unwrap_or_default().contains(message), "{error:?}");
}

#[tokio::test]
async fn cosine_ranks_the_smallest_score_first_from_0_identical_to_2_opposite() {
    let app = spawn_app().await;
    let table = vector_table(&app, "cos", Some(&Definition::new(VectorDistanceFunction::Cosine, 3))).await;
    put(&app, &table, "orthogonal", Some(&[0.0, 5.0, 0.0]), &[]).await;
    put(&app, &table, "opposite", Some(&[-2.0, 0.0, 0.0]), &[]).await;
    put(&app, &table, "same-direction", Some(&[3.0, 0.0, 0.0]), &[]).await;
    put(&app, &table, "close", Some(&[0.8, 0.6, 0.0]), &[]).await;

    let found = Search::new(&[1.0, 0.0, 0.0], 10).send(&app, &table).await.unwrap();

    assert_scores(&ranked(&found), &[("same-direction", 0.0), ("close", 0.2), ("orthogonal", 1.0), ("opposite", 2.0)]);
    let described = app.dynamo.describe_table().table_name(&table).send().await.unwrap();
    let index = &described.table().unwrap().vector_indexes()[0];
    assert_eq!(index.index_name(), Some(INDEX));
    assert_eq!(index.index_status(), Some(&IndexStatus::Active), "filled at once");
    assert_eq!(index.dimensions(), Some(3));
    assert_eq!(index.distance_function(), Some(&VectorDistanceFunction::Cosine));
    assert_eq!(index.vector_attribute().unwrap().attribute_name(), EMBEDDING);
    assert!(index.index_arn().unwrap().ends_with(&format!("table/{table}/index/{INDEX}")), "{index:?}");
}

#[tokio::test]
async fn euclidean_ranks_the_smallest_distance_first() {
    let app = spawn_app().await;
    let table = vector_table(&app, "l2", Some(&Definition::new(VectorDistanceFunction::Euclidean, 2))).await;
    put(&app, &table, "far", Some(&[3.0, 4.0]), &[]).await;
    put(&app, &table, "origin", Some(&[0.0, 0.0]), &[]).await;
    put(&app, &table, "near", Some(&[1.0, 1.0]), &[]).await;

    let found = Search::new(&[0.0, 0.0], 10).send(&app, &table).await.unwrap();

    assert_scores(&ranked(&found), &[("origin", 0.0), ("near", 2f64.sqrt()), ("far", 5.0)]);
}

#[tokio::test]
async fn dot_product_ranks_the_highest_score_first_and_rewards_magnitude() {
    let app = spawn_app().await;
    let table = vector_table(&app, "dot", Some(&Definition::new(VectorDistanceFunction::DotProduct, 2))).await;
    put(&app, &table, "unit", Some(&[1.0, 0.0]), &[]).await;
    put(&app, &table, "against", Some(&[-1.0, 0.0]), &[]).await;
    put(&app, &table, "long", Some(&[2.0, 0.0]), &[]).await;
    put(&app, &table, "across", Some(&[0.0, 1.0]), &[]).await;

    let found = Search::new(&[1.0, 0.0], 10).send(&app, &table).await.unwrap();

    assert_scores(&ranked(&found), &[("long", 2.0), ("unit", 1.0), ("across", 0.0), ("against", -1.0)]);
}

#[tokio::test]
async fn top_k_bounds_the_results_to_the_nearest() {
    let app = spawn_app().await;
    let table = vector_table(&app, "topk", Some(&Definition::new(VectorDistanceFunction::Euclidean, 1))).await;
    for n in 0..5 {
        put(&app, &table, &format!("at-{n}"), Some(&[f64::from(n)]), &[]).await;
    }

    let two = Search::new(&[3.2], 2).send(&app, &table).await.unwrap();
    let hundred = Search::new(&[3.2], 100).send(&app, &table).await.unwrap();

    assert_eq!(pks(&two), ["at-3", "at-4"]);
    assert_eq!(pks(&hundred), ["at-3", "at-4", "at-2", "at-1", "at-0"], "all five, nearest first");
}

#[tokio::test]
async fn the_hash_equality_and_an_inline_filter_select_the_items_searched() {
    let app = spawn_app().await;
    let definition = Definition::new(VectorDistanceFunction::Cosine, 2)
        .schema(vec![Element::Hash("tenant"), Element::Filter("colour")]);
    let table = vector_table(&app, "filter", Some(&definition)).await;
    put(&app, &table, "other-tenant", Some(&[1.0, 0.0]), &[("tenant", "t2"), ("colour", "red")]).await;
    put(&app, &table, "red", Some(&[0.9, 0.1]), &[("tenant", "t1"), ("colour", "red")]).await;
    put(&app, &table, "blue", Some(&[0.8, 0.2]), &[("tenant", "t1"), ("colour", "blue")]).await;
    put(&app, &table, "no-colour", Some(&[0.7, 0.3]), &[("tenant", "t1")]).await;

    let tenant = Search::new(&[1.0, 0.0], 10)
        .condition("#t = :t", &[("#t", "tenant")], &[(":t", "t1")])
        .send(&app, &table)
        .await
        .unwrap();
    let red = Search::new(&[1.0, 0.0], 10)
        .condition("tenant = :t AND :c = colour", &[], &[(":t", "t1"), (":c", "red")])
        .send(&app, &table)
        .await
        .unwrap();

    assert_eq!(pks(&tenant), ["red", "blue", "no-colour"], "only tenant t1, though t2's item is nearest");
    assert_eq!(pks(&red), ["red"], "an item without the inline filter attribute matches no equality on it");
}

#[tokio::test]
async fn items_without_the_hash_attribute_or_with_a_vector_of_another_dimension_are_not_in_the_index() {
    let app = spawn_app().await;
    let definition = Definition::new(VectorDistanceFunction::Cosine, 2).schema(vec![Element::Hash("tenant")]);
    let table = vector_table(&app, "absent", Some(&definition)).await;
    put(&app, &table, "indexed", Some(&[0.5, 0.5]), &[("tenant", "t1")]).await;
    put(&app, &table, "no-tenant", Some(&[1.0, 0.0]), &[]).await;
    let three = put_result(&app, &table, "three", Some(&[1.0, 0.0, 0.0]), &[("tenant", "t1")]).await;
    let not_a_list = app
        .dynamo
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("text".into()))
        .item("tenant", AttributeValue::S("t1".into()))
        .item(EMBEDDING, AttributeValue::S("1,0".into()))
        .send()
        .await;

    let found =
        Search::new(&[1.0, 0.0], 10).condition("tenant = :t", &[], &[(":t", "t1")]).send(&app, &table).await.unwrap();

    assert_eq!(pks(&found), ["indexed"], "the item without the HASH attribute is stored but not searched");
    assert_validation(service_error(three), "dimension");
    assert_validation(service_error(not_a_list), "Invalid type for parameter");
    let stored = app.dynamo.scan().table_name(&table).send().await.unwrap();
    assert_eq!(stored.count(), 2, "the rejected writes stored nothing");

    // Items already in the table when an index is added: one with a vector of another dimension is
    // left out of the index, the others are in it at once.
    let plain = vector_table(&app, "backfill", None).await;
    put(&app, &plain, "two", Some(&[0.0, 1.0]), &[]).await;
    put(&app, &plain, "three", Some(&[1.0, 0.0, 0.0]), &[]).await;
    put(&app, &plain, "none", None, &[]).await;
    let create = CreateVectorIndexAction::builder()
        .index_name(INDEX)
        .vector_attribute(VectorAttributeDefinition::builder().attribute_name(EMBEDDING).build().unwrap())
        .dimensions(2)
        .distance_function(VectorDistanceFunction::Euclidean)
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
        .unwrap();
    app.dynamo
        .update_table()
        .table_name(&plain)
        .vector_index_updates(VectorIndexUpdate::builder().create(create).build())
        .send()
        .await
        .unwrap();

    let backfilled = Search::new(&[1.0, 0.0], 10).send(&app, &plain).await.unwrap();

    assert_eq!(pks(&backfilled), ["two"]);
}

#[tokio::test]
async fn an_updated_item_is_found_by_its_new_vector_and_a_deleted_one_is_gone() {
    let app = spawn_app().await;
    let table = vector_table(&app, "fresh", Some(&Definition::new(VectorDistanceFunction::Euclidean, 2))).await;
    put(&app, &table, "moved", Some(&[10.0, 10.0]), &[]).await;
    put(&app, &table, "deleted", Some(&[0.1, 0.0]), &[]).await;
    put(&app, &table, "stays", Some(&[1.0, 1.0]), &[]).await;

    app.dynamo
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("moved".into()))
        .update_expression("SET #e = :v")
        .expression_attribute_names("#e", EMBEDDING)
        .expression_attribute_values(":v", vector(&[0.0, 0.0]))
        .send()
        .await
        .unwrap();
    app.dynamo.delete_item().table_name(&table).key("pk", AttributeValue::S("deleted".into())).send().await.unwrap();
    let rejected = app
        .dynamo
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("stays".into()))
        .update_expression("SET #e = :v")
        .expression_attribute_names("#e", EMBEDDING)
        .expression_attribute_values(":v", vector(&[0.0]))
        .send()
        .await;

    let found = Search::new(&[0.0, 0.0], 10).send(&app, &table).await.unwrap();

    assert_eq!(pks(&found), ["moved", "stays"]);
    assert_validation(service_error(rejected), "dimension");
    assert_scores(&ranked(&found), &[("moved", 0.0), ("stays", 2f64.sqrt())]);
}

#[tokio::test]
async fn only_projected_attributes_come_back_and_the_vector_only_when_asked_for() {
    let app = spawn_app().await;
    let keys_only = Definition::new(VectorDistanceFunction::Cosine, 2)
        .schema(vec![Element::Hash("tenant"), Element::Filter("colour")])
        .projection(ProjectionType::KeysOnly, &[]);
    let include = Definition::new(VectorDistanceFunction::Cosine, 2).projection(ProjectionType::Include, &["title"]);
    let all = Definition::new(VectorDistanceFunction::Cosine, 2);
    let attributes = [("tenant", "t1"), ("colour", "red"), ("title", "Lamp"), ("note", "n")];
    let names = |found: &SearchVectorsOutput| {
        let mut names: Vec<String> = found.search_results()[0].item().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    let tenant: &[(&str, &str)] = &[(":t", "t1")];

    let table = vector_table(&app, "keys", Some(&keys_only)).await;
    put(&app, &table, "a", Some(&[1.0, 0.0]), &attributes).await;
    let default = Search::new(&[1.0, 0.0], 1).condition("tenant = :t", &[], tenant).send(&app, &table).await.unwrap();
    let asked = Search::new(&[1.0, 0.0], 1)
        .condition("tenant = :t", &[], tenant)
        .projection("pk, #e, title")
        .names(&[("#e", EMBEDDING)])
        .send(&app, &table)
        .await
        .unwrap();
    assert_eq!(names(&default), ["colour", "pk", "tenant"], "keys, search schema; no vector");
    assert_eq!(names(&asked), [EMBEDDING, "pk"], "the vector when named; title is not projected");
    assert_eq!(asked.search_results()[0].item().unwrap()[EMBEDDING], vector(&[1.0, 0.0]));

    let table = vector_table(&app, "include", Some(&include)).await;
    put(&app, &table, "a", Some(&[1.0, 0.0]), &attributes).await;
    let found = Search::new(&[1.0, 0.0], 1).send(&app, &table).await.unwrap();
    assert_eq!(names(&found), ["pk", "title"]);

    let table = vector_table(&app, "all", Some(&all)).await;
    put(&app, &table, "a", Some(&[1.0, 0.0]), &attributes).await;
    let found = Search::new(&[1.0, 0.0], 1).send(&app, &table).await.unwrap();
    assert_eq!(names(&found), ["colour", "note", "pk", "tenant", "title"], "all but the vector");
}

#[tokio::test]
async fn invalid_searches_are_rejected_with_dynamodb_errors() {
    let app = spawn_app().await;
    let definition = Definition::new(VectorDistanceFunction::Cosine, 2).schema(vec![Element::Hash("tenant")]);
    let table = vector_table(&app, "errors", Some(&definition)).await;
    put(&app, &table, "a", Some(&[1.0, 0.0]), &[("tenant", "t1")]).await;
    let tenant: &[(&str, &str)] = &[(":t", "t1")];
    let valid = |query: &'static [f64], top_k: i32| Search::new(query, top_k).condition("tenant = :t", &[], tenant);

    assert!(valid(&[1.0, 0.0], 1).send(&app, &table).await.is_ok());
    assert_validation(
        service_error(valid(&[1.0, 0.0], 0).send(&app, &table).await),
        "Provided TopK value is out of valid range",
    );
    assert_validation(
        service_error(valid(&[1.0, 0.0], 101).send(&app, &table).await),
        "Provided TopK value is out of valid range",
    );
    assert_validation(service_error(valid(&[1.0, 0.0, 0.0], 1).send(&app, &table).await), "dimensions");
    assert_validation(
        service_error(Search::new(&[1.0, 0.0], 1).send(&app, &table).await),
        "SearchConditionExpression must be provided when SearchSchema has a HASH key",
    );
    for comparator in ["tenant <> :t", "tenant > :t", "tenant IN (:t)", "begins_with(tenant, :t)"] {
        assert_validation(
            service_error(Search::new(&[1.0, 0.0], 1).condition(comparator, &[], tenant).send(&app, &table).await),
            "Invalid comparator used in SearchConditionExpression",
        );
    }
    assert_validation(
        service_error(valid(&[1.0, 0.0], 1).index("no-such-index").send(&app, &table).await),
        "The table does not have the specified index: no-such-index",
    );
    let (status, missing) = service_error(valid(&[1.0, 0.0], 1).send(&app, &format!("{table}-missing")).await);
    assert_eq!(status, 400);
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");

    let two_at_once = app
        .dynamo
        .update_table()
        .table_name(&table)
        .vector_index_updates(
            VectorIndexUpdate::builder()
                .delete(DeleteVectorIndexAction::builder().index_name(INDEX).build().unwrap())
                .build(),
        )
        .vector_index_updates(
            VectorIndexUpdate::builder()
                .delete(DeleteVectorIndexAction::builder().index_name("other").build().unwrap())
                .build(),
        )
        .send()
        .await;
    let (status, error) = service_error(two_at_once);
    assert_eq!(status, 400);
    assert!(matches!(error, UpdateTableError::LimitExceededException(_)), "{error:?}");
}

#[tokio::test]
async fn a_deleted_index_is_no_longer_described_or_searchable() {
    let app = spawn_app().await;
    let table = vector_table(&app, "drop", Some(&Definition::new(VectorDistanceFunction::Cosine, 2))).await;
    put(&app, &table, "a", Some(&[1.0, 0.0]), &[]).await;

    app.dynamo
        .update_table()
        .table_name(&table)
        .vector_index_updates(
            VectorIndexUpdate::builder()
                .delete(DeleteVectorIndexAction::builder().index_name(INDEX).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let described = app.dynamo.describe_table().table_name(&table).send().await.unwrap();
    assert!(described.table().unwrap().vector_indexes().is_empty());
    assert_validation(
        service_error(Search::new(&[1.0, 0.0], 1).send(&app, &table).await),
        "The table does not have the specified index",
    );
    let stored = app.dynamo.get_item().table_name(&table).key("pk", AttributeValue::S("a".into())).send().await;
    assert!(stored.unwrap().item.is_some(), "deleting an index leaves the items");
}
