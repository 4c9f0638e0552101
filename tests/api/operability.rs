//! What template.yaml promises operators: every function traced, every alarm described and sent to
//! the one optional alarm topic, and a dashboard that shows every route and the index queues.
//! The per-route figures are EMF metrics dimensioned by the route string each function passes to
//! `serve`, so those strings are checked against the template's routes too.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::helpers::repo_root;

fn template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("snippet is YAML")
}

fn resources<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    let all = template["Resources"].as_mapping().expect("Resources");
    all.iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(name, resource)| (name.as_str().expect("resource name").to_owned(), resource))
        .collect()
}

/// The string of `"text"` or `!Sub "text"` or `!Sub ["text", {vars}]`.
fn text_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) => Some(text.as_str()),
        Value::Tagged(tagged) if tagged.tag == "Sub" => match &tagged.value {
            Value::String(text) => Some(text.as_str()),
            Value::Sequence(parts) => parts.first().and_then(Value::as_str),
            _ => None,
        },
        _ => None,
    }
}

/// (logical id, "METHOD /path", binary) of every function behind an HTTP API route.
fn api_functions(template: &Value) -> Vec<(String, String, String)> {
    let mut functions = Vec::new();
    for (name, function) in resources(template, "AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_owned();
        for (_, event) in function["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"].as_str() == Some("HttpApi") {
                let method = event["Properties"]["Method"].as_str().expect("Method").to_uppercase();
                let path = event["Properties"]["Path"].as_str().expect("Path");
                functions.push((name.clone(), format!("{method} {path}"), binary.clone()));
            }
        }
    }
    functions
}

#[test]
fn every_function_has_active_tracing() {
    let template = template();
    let global = &template["Globals"]["Function"]["Tracing"];
    let functions = resources(&template, "AWS::Serverless::Function");
    assert!(functions.len() >= 13, "the template's functions: {}", functions.len());
    for (name, function) in functions {
        let own = &function["Properties"]["Tracing"];
        let tracing = if own.is_null() { global } else { own };
        assert_eq!(tracing.as_str(), Some("Active"), "{name} has no active X-Ray tracing");
    }
}

#[test]
fn every_alarm_is_described_and_goes_only_to_the_optional_alarm_topic() {
    let template = template();
    assert_eq!(
        template["Conditions"]["HasAlarmTopic"],
        yaml(r#"!Not [!Equals [!Ref AlarmTopicArn, ""]]"#),
        "HasAlarmTopic means: AlarmTopicArn is set"
    );
    assert_eq!(template["Parameters"]["AlarmTopicArn"]["Default"].as_str(), Some(""), "the topic is optional");
    let routed = yaml("!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]");
    let routes: BTreeSet<String> = api_functions(&template).into_iter().map(|(_, route, _)| route).collect();

    let alarms = resources(&template, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 8, "the template's alarms: {}", alarms.len());
    for (name, alarm) in alarms {
        let properties = &alarm["Properties"];
        let description = text_of(&properties["AlarmDescription"]).unwrap_or_default();
        assert!(description.len() >= 30, "{name} needs an AlarmDescription that says what users feel");
        assert_eq!(properties["AlarmActions"], routed, "{name} must notify AlarmTopicArn, if set");
        for other in ["OKActions", "InsufficientDataActions"] {
            let actions = &properties[other];
            assert!(actions.is_null() || *actions == routed, "{name}'s {other} go somewhere else");
        }
        assert!(properties["TreatMissingData"].as_str().is_some(), "{name} must choose TreatMissingData");
        // Latency alarms read the functions' per-route metrics: each Route must be a real route.
        for query in properties["Metrics"].as_sequence().into_iter().flatten() {
            for dimension in query["MetricStat"]["Metric"]["Dimensions"].as_sequence().into_iter().flatten() {
                if dimension["Name"].as_str() == Some("Route") {
                    let route = dimension["Value"].as_str().expect("Route value");
                    assert!(routes.contains(route), "{name} watches {route:?}, which is not a route");
                }
            }
        }
    }
}

#[test]
fn the_dashboard_shows_every_route_the_index_queues_and_the_alarms() {
    let template = template();
    let dashboards = resources(&template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one operations dashboard");
    let body_value = &dashboards[0].1["Properties"]["DashboardBody"];
    let body = text_of(body_value).expect("DashboardBody is a !Sub string");

    // The namespace the dashboard reads is the one the functions write to.
    let namespace = &template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"];
    assert_eq!(body_value.as_sequence().expect("!Sub [body, vars]")[1]["Ns"], *namespace);

    // Per route and per function by search, so every route and function shows without naming it.
    for metric in ["Requests", "Latency", "ClientErrors", "ServerErrors", "Throttled", "ColdStarts"] {
        let search = format!("SEARCH('{{${{Ns}},Route}} MetricName=\\\"{metric}\\\"'");
        assert!(body.contains(&search), "the dashboard does not search the routes' {metric}: {search}");
    }
    for metric in ["Duration", "Errors", "Throttles"] {
        let search =
            format!("SEARCH('{{AWS/Lambda,FunctionName}} MetricName=\\\"{metric}\\\" \\\"${{AWS::StackName}}\\\"'");
        assert!(body.contains(&search), "the dashboard does not search this stack's functions' {metric}: {search}");
    }
    let functions = api_functions(&template);
    assert!(functions.len() >= 12, "the API's functions: {functions:?}");
    for (_, route, binary) in &functions {
        assert_eq!(
            served_route(binary).as_deref(),
            Some(route.as_str()),
            "{binary} emits its metrics under another route"
        );
    }
    for queue in ["IndexQueue", "IndexDeadLetterQueue"] {
        assert!(body.contains(&format!("${{{queue}.QueueName}}")), "the dashboard does not show {queue}");
    }
    for (alarm, _) in resources(&template, "AWS::CloudWatch::Alarm") {
        assert!(body.contains(&format!("${{{alarm}.Arn}}")), "the dashboard's alarm widget lacks {alarm}");
    }

    // With every ${...} replaced, the body must be JSON (CloudFormation would reject it at deploy).
    let mut plain = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closed ${") + start;
        plain.push_str(&rest[..start]);
        plain.push('0');
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    let json: serde_json::Value = serde_json::from_str(&plain).expect("DashboardBody is JSON");
    assert!(json["widgets"].as_array().is_some_and(|widgets| !widgets.is_empty()));
}

/// The route key a function serves (and emits its metrics under), from the route table.
fn served_route(binary: &str) -> Option<String> {
    shared::http::route::ROUTES.iter().find(|route| route.function == binary).map(|route| route.key.to_owned())
}
