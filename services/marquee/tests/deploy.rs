//! The container and cluster descriptions, checked as far as this machine
//! allows without a container engine: they parse, every container runs a
//! service that exists with a config file that exists, and every Marquee
//! workload has its probes and resource requests.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use marquee::Service;
use serde::Deserialize;
use serde_yaml::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let mut value = Value::deserialize(doc).unwrap();
            // Compose's `<<: *anchor` merge keys.
            value.apply_merge().unwrap();
            value
        })
        .collect()
}

fn is_service(name: &str) -> bool {
    Service::value_variants()
        .iter()
        .any(|s| s.to_possible_value().unwrap().get_name() == name)
}

#[test]
fn compose_runs_every_service_from_one_image_with_healthchecks() {
    let compose = &yaml_documents(&repo().join("docker-compose.yml"))[0];
    let services = compose["services"].as_mapping().unwrap();
    for required in ["kafka", "kafka-topics", "postgres", "mailpit"] {
        assert!(services.contains_key(required), "compose lacks {required}");
    }
    let mut ran = Vec::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        let command: Vec<&str> = service["command"]
            .as_sequence()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ["run", marquee_service] = command.as_slice() else {
            continue;
        };
        assert!(
            is_service(marquee_service),
            "{name} runs unknown service {marquee_service}"
        );
        assert_eq!(service["image"].as_str(), Some("marquee:local"), "{name}");
        assert_eq!(
            service["build"]["dockerfile"].as_str(),
            Some("deploy/Dockerfile"),
            "{name}"
        );
        assert!(
            service["healthcheck"]["test"].is_sequence(),
            "{name} has no healthcheck"
        );
        let config = service["environment"]["MARQUEE_CONFIG"].as_str().unwrap();
        let local = config.replace("/etc/marquee", "config");
        assert!(
            repo().join(&local).is_file(),
            "{name} mounts missing {local}"
        );
        ran.push((*marquee_service).to_owned());
    }
    for service in Service::value_variants() {
        let name = service.to_possible_value().unwrap().get_name().to_owned();
        assert!(ran.contains(&name), "compose does not run {name}");
    }
}

#[test]
fn the_distributed_config_loads_and_selects_kafka() {
    let file = repo().join("config/distributed.toml");
    let settings: marquee::Settings =
        marquee_runtime::config::load(marquee::DEFAULT_CONFIG, Some(&file)).unwrap();
    assert_eq!(settings.bus.transport, marquee_bus::Transport::Kafka);
    assert!(settings.feeds.database_url.starts_with("postgres://"));
}

#[test]
fn kubernetes_workloads_have_probes_resources_and_known_services() {
    let dir = repo().join("deploy/kubernetes");
    let kustomization = &yaml_documents(&dir.join("kustomization.yaml"))[0];
    let mut deployments = 0;
    for resource in kustomization["resources"].as_sequence().unwrap() {
        for doc in yaml_documents(&dir.join(resource.as_str().unwrap())) {
            assert!(doc["apiVersion"].is_string() && doc["kind"].is_string());
            if doc["kind"] != "Deployment" {
                continue;
            }
            deployments += 1;
            let container = &doc["spec"]["template"]["spec"]["containers"][0];
            let args: Vec<&str> = container["args"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(args[0], "run");
            assert!(is_service(args[1]), "unknown service {}", args[1]);
            assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
            assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
            assert!(container["resources"]["requests"]["memory"].is_string());
            assert_eq!(
                doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
                true
            );
        }
    }
    assert_eq!(deployments, Service::value_variants().len());
}

/// Runs a checker the test command installs; missing, it fails saying so.
fn check_with(program: &str, args: &[&str], install: &str) {
    marquee_test_support::run_to_success(std::process::Command::new(program).args(args), install);
}

#[test]
fn kubernetes_manifests_validate_against_the_api_schemas() {
    let dir = repo().join("deploy/kubernetes");
    let kustomization = &yaml_documents(&dir.join("kustomization.yaml"))[0];
    let files: Vec<String> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| dir.join(r.as_str().unwrap()).display().to_string())
        .collect();
    let mut args = vec!["--strict", "--kubernetes-version", "1.31.0"];
    args.extend(files.iter().map(String::as_str));
    check_with(
        "kubernetes-validate",
        &args,
        "pip install -r scripts/test-requirements.txt",
    );
}

#[test]
fn the_compose_gateway_config_is_valid_nginx() {
    let prefix = tempfile::tempdir().unwrap();
    std::fs::create_dir(prefix.path().join("logs")).unwrap();
    let config = repo().join("deploy/gateway/nginx.conf");
    check_with(
        "nginx",
        &[
            "-t",
            "-p",
            prefix.path().to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        "apt-get install nginx-light (scripts/test does)",
    );
}

#[test]
fn gateway_and_ingress_route_each_prefix_to_the_same_service() {
    let gateway = std::fs::read_to_string(repo().join("deploy/gateway/nginx.conf")).unwrap();
    let ingress = &yaml_documents(&repo().join("deploy/kubernetes/ingress.yaml"))[0];
    let paths = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_sequence()
        .unwrap();
    let ingress_service = |path: &str| {
        paths
            .iter()
            .find(|p| p["path"] == path)
            .unwrap_or_else(|| panic!("the ingress does not route {path}"))["backend"]["service"]
            ["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (prefix, service) in [
        ("/admin/digest", "digest"),
        ("/admin/reviews-ingest", "reviews-ingest"),
        ("/admin/listings-ingest", "listings-ingest"),
        ("/admin/social", "social"),
        ("/admin", "feeds"),
        ("/actors", "social"),
        ("/nodeinfo", "social"),
        ("/console", "console"),
    ] {
        assert_eq!(ingress_service(prefix), service, "ingress {prefix}");
        let patterns = [format!("~^{prefix}/"), format!("~^{prefix}(/|$)")];
        let routed_to = gateway
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|words| {
                words
                    .first()
                    .is_some_and(|w| patterns.iter().any(|p| p == w))
            })
            .unwrap_or_else(|| panic!("the gateway does not route {prefix}"))[1]
            .trim_end_matches(';')
            .to_owned();
        assert_eq!(routed_to, service, "gateway {prefix}");
    }
}
