//! Requests to real servers on loopback: an HTTP/1.1 client (hyper) and a gRPC channel
//! (tonic), and a way to serve an axum router on a free port.

#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// A listener on a free loopback port, and its address.
pub async fn free_port() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Serves `router` on a free loopback port (HTTP/1.1 and HTTP/2 without TLS).
pub async fn serve_axum(router: axum::Router) -> SocketAddr {
    let (listener, addr) = free_port().await;
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Serves `router` on `listener`, with each connection's peer address in its requests'
/// `ConnectInfo<SocketAddr>`.
pub fn serve_axum_with_peers(listener: TcpListener, router: axum::Router) {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// Serves `router` with plain hyper on a free loopback port, telling it nothing of the peer:
/// its requests carry neither `ConnectInfo` nor a `ClientAddr`.
pub async fn serve_without_peers(router: axum::Router) -> SocketAddr {
    let (listener, addr) = free_port().await;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A request to `path`, with `Authorization: Bearer <key>` when a key is given.
pub fn request(method: &str, path: &str, key: Option<&str>) -> Request<Full<Bytes>> {
    let bearer = key.map(|key| format!("Bearer {key}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", &**b)).collect();
    request_with(method, path, &headers)
}

/// A request to `path` with these header lines (names and values as given, in order).
pub fn request_with(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// Sends `request` over a new HTTP/1.1 connection to `addr` and reads the whole answer.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    read_whole(sender.send_request(request).await.unwrap()).await
}

/// Sends `request` over a new HTTP/2 connection without TLS (h2c, prior knowledge) to `addr`
/// and reads the whole answer. The request URI's scheme becomes the `:scheme` pseudo-header.
pub async fn send_h2(addr: SocketAddr, request: Request<Full<Bytes>>) -> Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    read_whole(sender.send_request(request).await.unwrap()).await
}

/// An answer with its whole body read.
async fn read_whole(response: Response<hyper::body::Incoming>) -> Response<Bytes> {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// The answer's header `name`, as text.
pub fn header<'a>(response: &'a Response<Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", response.headers()))
        .to_str()
        .unwrap()
}

/// The `code` member of a problem+json answer.
pub fn problem_code(response: &Response<Bytes>) -> String {
    assert_eq!(header(response, "content-type"), "application/problem+json");
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    json["code"].as_str().unwrap().to_owned()
}

/// Asserts the answer is the error table's first row: 401 `missing_api_key` problem with its
/// challenge.
pub fn assert_missing_key_problem(response: &Response<Bytes>) {
    assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(response), "missing_api_key");
    assert_eq!(header(response, "www-authenticate"), "Bearer realm=\"api\"");
}

/// A gRPC channel to `addr` (HTTP/2 without TLS).
pub async fn grpc_channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A tonic request carrying `Authorization: Bearer <key>` metadata when a key is given.
pub fn grpc_request<T>(message: T, key: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    request
}

/// An answer read off the wire: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status code of the status line.
    pub status: u16,
    /// The header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Everything after the header block.
    pub body: String,
}

impl RawAnswer {
    /// The first header `name` (lower case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `code` member of a problem+json answer, if it is one.
    pub fn problem_code(&self) -> Option<String> {
        if self.header("content-type") != Some("application/problem+json") {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        json["code"].as_str().map(str::to_owned)
    }
}

/// Writes `raw` as it is to a new connection to `addr` (the way an attacker would, with no
/// client normalising the request line) and reads the answer until the server closes.
/// Requests should carry `Connection: close`.
pub async fn send_raw(addr: SocketAddr, raw: &[u8]) -> RawAnswer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut buf),
    )
    .await
    .expect("the server did not close the connection")
    .unwrap();
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A raw HTTP/1.1 request: `method target`, `Host`, `Connection: close`, the given extra
/// header lines and `Authorization: Bearer <key>` when a key is given.
pub fn raw_request(method: &str, target: &str, key: Option<&str>, extra: &[&str]) -> Vec<u8> {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for line in extra {
        raw.push_str(line);
        raw.push_str("\r\n");
    }
    if let Some(key) = key {
        raw.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

/// An answer as it crossed the wire: status, header lines in order (without `Date`), body.
#[derive(Debug, PartialEq, Eq)]
pub struct Wire {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Wire {
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The first header line called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The answer is a problem+json with `status` and `code`.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.json()["code"], code, "{}", self.body);
    }

    /// The same answer with `id` written as `{id}` wherever it appears.
    pub fn with_placeholder(&self, id: &str) -> Self {
        let swap = |text: &str| text.replace(id, "{id}");
        Self {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), swap(v)))
                .collect(),
            body: swap(&self.body),
        }
    }
}

/// `method path` with `key` and a JSON `body` (none if empty), as raw HTTP/1.1: the answer
/// byte for byte but its `Date`.
pub async fn json_call(addr: SocketAddr, method: &str, path: &str, key: &str, body: &str) -> Wire {
    let length = format!("Content-Length: {}", body.len());
    let mut raw = raw_request(
        method,
        path,
        Some(key),
        &["Content-Type: application/json", &length],
    );
    raw.extend_from_slice(body.as_bytes());
    let answer = send_raw(addr, &raw).await;
    Wire {
        status: answer.status,
        headers: answer
            .headers
            .into_iter()
            .filter(|(name, _)| name != "date")
            .collect(),
        body: answer.body,
    }
}
