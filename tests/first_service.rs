//! The README's "Your first service" (`examples/first_service.rs`, the same text), run as a
//! new user runs it: a process in an empty directory prints its first admin key once, answers
//! over a real socket, and manages keys through the nested admin API.

#![cfg(all(feature = "sqlite", feature = "axum"))]

mod wire;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

/// The example's binary, built by `cargo test` beside this test's own.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|deps| deps.parent()).unwrap();
    debug.join("examples").join("first_service")
}

/// A running first service; the process is killed when this is dropped.
struct Running {
    child: Child,
    /// Kept open, so that the service's later prints never meet a closed pipe.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts the service in `dir` on a free loopback port and waits until it listens.
    fn start(dir: &std::path::Path) -> (Self, Vec<String>) {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut child = Command::new(example_binary())
            .current_dir(dir)
            .env("ADDR", addr.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run `cargo test --all-features` (it builds the examples), or `cargo build --example first_service --features sqlite,axum` first");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let listening = line.starts_with("listening on");
            printed.push(line);
            if listening {
                break;
            }
        }
        (
            Self {
                child,
                _stdout: lines,
                addr,
            },
            printed,
        )
    }
}

fn admin_key(printed: &[String]) -> Option<String> {
    printed
        .iter()
        .find_map(|l| l.strip_prefix("admin key: ").map(str::to_owned))
}

fn request(method: &str, path: &str, key: &str, body: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

#[tokio::test]
async fn first_service_prints_one_admin_key_that_manages_keys_and_reads_records() {
    let dir = tempfile::tempdir().unwrap();
    let (service, printed) = Running::start(dir.path());
    let admin = admin_key(&printed).expect("the first start prints the admin key");

    let records = wire::send(service.addr, request("GET", "/v1/records", &admin, "")).await;
    assert_eq!(records.status(), StatusCode::OK);
    assert_eq!(
        records.body(),
        &Bytes::from("records for admin (scopes admin)\n")
    );

    let create = r#"{"name": "ci-pipeline", "scopes": ["read:all"]}"#;
    let created = wire::send(service.addr, request("POST", "/admin/keys", &admin, create)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: serde_json::Value = serde_json::from_slice(created.body()).unwrap();
    let ci = created["key"].as_str().unwrap();

    let read = wire::send(service.addr, request("GET", "/v1/records", ci, "")).await;
    assert_eq!(read.status(), StatusCode::OK);
    let listed = wire::send(service.addr, request("GET", "/admin/keys", ci, "")).await;
    assert_eq!(listed.status(), StatusCode::FORBIDDEN);
    assert_eq!(wire::problem_code(&listed), "insufficient_scope");
    drop(service);
}

#[tokio::test]
async fn first_service_restarted_on_its_database_prints_no_key_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (first, printed) = Running::start(dir.path());
    let admin = admin_key(&printed).unwrap();
    drop(first);

    let (again, printed) = Running::start(dir.path());
    assert_eq!(admin_key(&printed), None, "{printed:?}");
    let records = wire::send(again.addr, request("GET", "/v1/records", &admin, "")).await;
    assert_eq!(records.status(), StatusCode::OK);
}
