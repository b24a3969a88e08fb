//! A dudect-style timing check: is the layer's answer time independent of *why* a key is
//! wrong? Three classes of wrong key are sent, interleaved at random:
//!
//! - `unknown`: a well-formed key whose id is not in the store;
//! - `wrong`: a known id with an unrelated secret;
//! - `last_char`: a known id with the right secret but for its last character.
//!
//! Each request is timed on its own; Welch's t statistic compares the classes pairwise, on all
//! samples and on the fastest 90 % (cropping interrupts and the like, as dudect does).
//! |t| < 4.5 is the usual bar for "indistinguishable".
//!
//! `cargo bench --bench timing` (a quiet machine gives the meaningful figure).

mod support;

use std::hint::black_box;
use std::time::Instant;

use keygate::key::KeyPrefix;
use support::*;
use tower::{ServiceBuilder, service_fn};

fn welch(a: &[f64], b: &[f64]) -> f64 {
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let var =
        |x: &[f64], m: f64| x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0);
    let (ma, mb) = (mean(a), mean(b));
    let (va, vb) = (var(a, ma), var(b, mb));
    (ma - mb) / (va / a.len() as f64 + vb / b.len() as f64).sqrt()
}

fn cropped(x: &[f64], keep: f64) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v.truncate((v.len() as f64 * keep) as usize);
    v
}

/// A small xorshift generator: the class order must not be predictable by the branch predictor.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() {
    let samples: usize = std::env::var("KEYGATE_TIMING_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300_000);
    let keys = Keys::new(100_000);
    // One client sends every wrong key: without the failure limit, which would answer 429.
    let mut svc = ServiceBuilder::new()
        .layer(keys.layer_without_failure_limit())
        .service(service_fn(hello));
    let prefix = KeyPrefix::default();
    let secret = &keys.valid[keys.valid.len() - 49..keys.valid.len() - 6];
    let mut last_char = secret.to_owned();
    let last = last_char.pop().unwrap();
    last_char.push(if last == 'z' { 'y' } else { 'z' });
    let last_char = keygate::key::assemble_key(&prefix, keys.valid_id, &last_char).unwrap();
    // Each request gets a freshly allocated header value, whatever its class, so that where a
    // class's bytes happen to sit in memory cannot tell the classes apart.
    let classes = [
        ("unknown", format!("Bearer {}", keys.unknown).into_bytes()),
        (
            "wrong",
            format!("Bearer {}", keys.wrong_secret).into_bytes(),
        ),
        (
            "last_char",
            format!("Bearer {}", last_char.expose_secret()).into_bytes(),
        ),
    ];
    let header = |bytes: &[u8]| http::HeaderValue::from_bytes(bytes).expect("header-safe key");
    let mut times: [Vec<f64>; 3] = Default::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..10_000 {
        for (_, auth) in &classes {
            black_box(call(&mut svc, request(Some(&header(auth)))));
        }
    }
    for _ in 0..samples * 3 {
        let class = (rng.next() % 3) as usize;
        let req = request(Some(&header(&classes[class].1)));
        let start = Instant::now();
        let response = call(&mut svc, req);
        let elapsed = start.elapsed();
        assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
        times[class].push(elapsed.as_nanos() as f64);
    }
    println!("| comparison | samples | t (all) | t (fastest 90 %) | verdict |");
    println!("|---|---|---|---|---|");
    for (i, j) in [(0, 1), (1, 2), (0, 2)] {
        let t_all = welch(&times[i], &times[j]);
        let t_crop = welch(&cropped(&times[i], 0.9), &cropped(&times[j], 0.9));
        let verdict = if t_all.abs() < 4.5 && t_crop.abs() < 4.5 {
            "indistinguishable"
        } else {
            "DIFFERENT"
        };
        println!(
            "| {} vs {} | {} / {} | {t_all:.2} | {t_crop:.2} | {verdict} |",
            classes[i].0,
            classes[j].0,
            times[i].len(),
            times[j].len()
        );
    }
    for (k, (name, _)) in classes.iter().enumerate() {
        let mut v = times[k].clone();
        v.sort_by(f64::total_cmp);
        println!("median {name}: {:.0} ns", v[v.len() / 2]);
    }
}
