//! Hostile input: each `Authorization` value or request shape, with the error-table row it
//! must get. None may produce a 500, a panic, or a pass.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use keygate::clock::Clock;
use keygate::{KeyManager, NewKey};

/// One hostile request and the `code` it must be answered with.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    headers: Vec<Vec<u8>>,
    expect: &'static str,
}

fn case(what: &'static str, value: impl Into<Vec<u8>>, expect: &'static str) -> Case {
    Case {
        what,
        method: Method::GET,
        path: "/v1/records".into(),
        headers: vec![value.into()],
        expect,
    }
}

struct Fixture {
    h: Harness,
    valid: String,
    reader: String,
    revoked: String,
    disabled: String,
    expired: String,
    wrong_secret: String,
    unknown: String,
}

async fn fixture() -> Fixture {
    let h = Harness::new();
    let (valid_id, valid) = h.key("production-backend", "admin").await;
    let (_, reader) = h.key("local-dev", "read:all").await;
    let (_, revoked) = h.revoked_key("old", "read:all").await;
    let (disabled_id, disabled) = h.key("paused", "read:all").await;
    h.store
        .disable(&keygate::Workspace::default(), &disabled_id)
        .await
        .unwrap();
    let created = h
        .store
        .create(
            NewKey::new("temp".parse().unwrap(), "read:all".parse().unwrap())
                .expires_at(h.clock.now() + Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let expired = created.plaintext.expose_secret().to_owned();
    h.clock.advance(Duration::from_secs(2));
    let prefix = keygate::key::KeyPrefix::default();
    let wrong_secret = keygate::key::generate_for(&prefix, valid_id)
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned();
    let unknown = keygate::key::generate(&prefix)
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned();
    Fixture {
        h,
        valid,
        reader,
        revoked,
        disabled,
        expired,
        wrong_secret,
        unknown,
    }
}

fn flip_last(key: &str) -> String {
    let mut k = key.to_owned();
    let last = k.pop().unwrap();
    k.push(if last == 'Q' { 'R' } else { 'Q' });
    k
}

fn cases(f: &Fixture) -> Vec<Case> {
    let v = &f.valid;
    let b = |s: &str| format!("Bearer {s}");
    let mut cases = vec![
        case(
            "non-ASCII UTF-8 in the token",
            "Bearer café".as_bytes(),
            "malformed_api_key",
        ),
        case(
            "obs-text byte 0xFF",
            b"Bearer abc\xff".to_vec(),
            "malformed_api_key",
        ),
        case(
            "obs-text byte 0x80 inside a real key",
            [
                b"Bearer ".as_slice(),
                &v.as_bytes()[..20],
                b"\x80",
                &v.as_bytes()[21..],
            ]
            .concat(),
            "malformed_api_key",
        ),
        case(
            "Cyrillic homoglyph in a real key",
            b(&format!("{}а{}", &v[..20], &v[21..])),
            "malformed_api_key",
        ),
        case(
            "a 64 KiB token",
            b(&"A".repeat(64 * 1024)),
            "malformed_api_key",
        ),
        case(
            "a 1 KiB b64token",
            b(&"A".repeat(1024)),
            "malformed_api_key",
        ),
        case(
            "right shape, wrong checksum",
            b(&flip_last(v)),
            "malformed_api_key",
        ),
        case(
            "right checksum, unknown id",
            b(&f.unknown),
            "invalid_api_key",
        ),
        case(
            "known id, wrong secret",
            b(&f.wrong_secret),
            "invalid_api_key",
        ),
        case(
            "a key of another prefix",
            b(keygate::key::generate(&"acme".parse().unwrap())
                .unwrap()
                .plaintext
                .expose_secret()),
            "malformed_api_key",
        ),
        case(
            "upper-cased prefix",
            b(&v.replacen("kg_", "KG_", 1)),
            "malformed_api_key",
        ),
        case("Bearer alone", "Bearer", "malformed_api_key"),
        case("Bearer and spaces", "Bearer    ", "malformed_api_key"),
        case(
            "Bearer with a tab",
            format!("Bearer\t{v}"),
            "malformed_api_key",
        ),
        case(
            "tab inside the token",
            format!("Bearer {}\t{}", &v[..10], &v[10..]),
            "malformed_api_key",
        ),
        case(
            "space inside the token",
            format!("Bearer {} {}", &v[..10], &v[10..]),
            "malformed_api_key",
        ),
        case(
            "lowercase scheme, unknown key",
            format!("bearer {}", f.unknown),
            "invalid_api_key",
        ),
        case(
            "mixed-case scheme, unknown key",
            format!("BeArEr {}", f.unknown),
            "invalid_api_key",
        ),
        case(
            "Basic credentials",
            "Basic dXNlcjpwYXNzd29yZA==",
            "malformed_api_key",
        ),
        case("Token scheme", format!("Token {v}"), "malformed_api_key"),
        case("Negotiate scheme", "Negotiate YIIC", "malformed_api_key"),
        case(
            "scheme with a colon",
            format!("Bearer: {v}"),
            "malformed_api_key",
        ),
        case("key without a scheme", v.clone(), "malformed_api_key"),
        case(
            "comma-joined credentials",
            format!("Bearer {v}, Bearer {v}"),
            "malformed_api_key",
        ),
        case(
            "trailing comma",
            format!("Bearer {v},"),
            "malformed_api_key",
        ),
        case(
            "auth-param after the token",
            format!("Bearer {v}; realm=x"),
            "malformed_api_key",
        ),
        case(
            "= padding after a real key",
            format!("Bearer {v}=="),
            "malformed_api_key",
        ),
        case("only padding", "Bearer ===", "malformed_api_key"),
        case("tildes", "Bearer ~~~~", "malformed_api_key"),
        case(
            "a real key twice",
            b(&format!("{v}{v}")),
            "malformed_api_key",
        ),
        case(
            "a real key minus one character",
            b(&v[..v.len() - 1]),
            "malformed_api_key",
        ),
        case(
            "a real key plus one character",
            b(&format!("{v}A")),
            "malformed_api_key",
        ),
        case(
            "dash inside a real key",
            b(&format!("{}-{}", &v[..20], &v[21..])),
            "malformed_api_key",
        ),
        case("the prefix alone", "Bearer kg_", "malformed_api_key"),
        case("empty id and secret", "Bearer kg__", "malformed_api_key"),
        case(
            "percent-encoded key",
            b(&v.bytes().map(|c| format!("%{c:02X}")).collect::<String>()),
            "malformed_api_key",
        ),
        case("quoted key", format!("Bearer \"{v}\""), "malformed_api_key"),
        case("empty header", "", "malformed_api_key"),
        case(
            "revoked key, right secret",
            b(&f.revoked),
            "revoked_api_key",
        ),
        case(
            "disabled key, right secret",
            b(&f.disabled),
            "disabled_api_key",
        ),
        case(
            "expired key, right secret",
            b(&f.expired),
            "expired_api_key",
        ),
    ];
    cases.push(Case {
        what: "two Authorization headers",
        method: Method::GET,
        path: "/v1/records".into(),
        headers: vec![b(v).into_bytes(), b(v).into_bytes()],
        expect: "malformed_api_key",
    });
    cases.push(Case {
        what: "key split over two Authorization headers",
        method: Method::GET,
        path: "/v1/records".into(),
        headers: vec![b(&v[..20]).into_bytes(), v.as_bytes()[20..].to_vec()],
        expect: "malformed_api_key",
    });
    cases.push(Case {
        what: "key in the query string only",
        method: Method::GET,
        path: format!("/v1/records?api_key={v}&access_token={v}"),
        headers: vec![],
        expect: "missing_api_key",
    });
    for (what, path) in [
        ("dot-dot segment", "/v1/records/.."),
        ("dot segment", "/v1/./records"),
        ("encoded dot-dot segment", "/v1/records/%2E%2e"),
        ("empty segment", "/v1//records"),
        ("encoded slash", "/v1%2Frecords"),
        ("encoded backslash", "/v1%5crecords"),
        ("encoded letter", "/v1/%72ecords"),
        ("broken percent-encoding", "/v1/records%g0"),
        ("path parameter", "/v1/records;x=1"),
    ] {
        cases.push(Case {
            what,
            method: Method::GET,
            path: path.into(),
            headers: vec![b(v).into_bytes()],
            expect: "malformed_request",
        });
    }
    cases.push(Case {
        what: "read-only key writing",
        method: Method::DELETE,
        path: "/v1/records/1".into(),
        headers: vec![b(&f.reader).into_bytes()],
        expect: "insufficient_scope",
    });
    cases
}

#[tokio::test]
async fn every_hostile_input_gets_its_row_of_the_error_table() {
    let f = fixture().await;
    let svc = f.h.service();
    let cases = cases(&f);
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut wrong = Vec::new();
    for c in &cases {
        let mut req = Request::builder()
            .method(c.method.clone())
            .uri(c.path.as_str())
            .body(Full::new(Bytes::new()))
            .unwrap();
        for value in &c.headers {
            req.headers_mut()
                .append("authorization", HeaderValue::from_bytes(value).unwrap());
        }
        let answer = send(&svc, req).await;
        assert_ne!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            c.what
        );
        assert_ne!(answer.status, StatusCode::OK, "{} passed", c.what);
        let code = answer.code();
        if code != c.expect {
            wrong.push(format!("{}: expected {}, got {code}", c.what, c.expect));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn the_valid_key_still_passes_after_the_hostile_inputs() {
    let f = fixture().await;
    let svc = f.h.service();
    for c in cases(&f) {
        let mut req = bare(get(&c.path));
        for value in &c.headers {
            req.headers_mut()
                .append("authorization", HeaderValue::from_bytes(value).unwrap());
        }
        send(&svc, req).await;
    }
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &f.valid))
            .await
            .status,
        StatusCode::OK
    );
}

#[test]
fn control_characters_cannot_even_reach_the_layer() {
    for bad in [
        &b"Bearer a\x00b"[..],
        b"Bearer a\r\nX-Injected: 1",
        b"Bearer a\nb",
        b"Bearer \x7f",
    ] {
        assert!(HeaderValue::from_bytes(bad).is_err(), "{bad:?}");
    }
}

/// Raw bytes on a real socket: NUL, CR/LF and folding are refused by the HTTP server before
/// the layer, with a 400, never a 500 or a pass.
#[tokio::test]
async fn raw_control_bytes_on_the_wire_get_a_400_from_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture().await;
    let app = axum::Router::new()
        .route("/v1/records", axum::routing::get(|| async { "records" }))
        .layer(f.h.builder().build());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let v = &f.valid;
    let raws: Vec<Vec<u8>> = vec![
        format!("GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {v}\x00\r\n\r\n")
            .into_bytes(),
        format!("GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n {v}\r\n\r\n")
            .into_bytes(),
        format!("GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {v}\rX: y\r\n\r\n")
            .into_bytes(),
    ];
    for raw in raws {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(&raw).await.unwrap();
        let mut buf = vec![0; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 400") || n == 0, "{head}");
    }
}

#[tokio::test]
async fn the_inner_service_sees_the_authorization_header_marked_sensitive() {
    let f = fixture().await;
    let layer = f.h.builder().build();
    let svc = tower::ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(|req: Request<Full<Bytes>>| async move {
            let value = &req.headers()["authorization"];
            let seen = format!("{} {:?}", value.is_sensitive(), value);
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(seen))))
        }));
    let answer = send(
        &tower::util::BoxCloneService::new(svc),
        with_key(get("/v1/records"), &f.valid),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "true Sensitive");
}

#[tokio::test]
async fn a_retry_after_of_duration_max_saturates_instead_of_overflowing() {
    let f = fixture().await;
    let layer = keygate::ApiKeyLayer::builder(DownStore, f.h.limiter.clone())
        .unavailable_retry_after(Duration::MAX)
        .build();
    let svc = tower::util::BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(tower::service_fn(echo)),
    );
    let answer = send(&svc, with_key(get("/v1/records"), &f.valid)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("retry-after"), u64::MAX.to_string());
    assert_eq!(answer.json()["retry_after"].as_u64(), Some(u64::MAX));
    let grpc = send(
        &svc,
        with_key(
            get("/pkg.Service/Method").header("content-type", "application/grpc"),
            &f.valid,
        ),
    )
    .await;
    assert_eq!(grpc.header("grpc-status"), "14");
    assert_eq!(grpc.header("grpc-retry-pushback-ms"), u64::MAX.to_string());
}
