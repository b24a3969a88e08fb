//! Any reply Redis could send to the rate-limit script: decoded as the limiter decodes it
//! (redis-rs into four integers, then keygate's check), never a panic, and a decision only for
//! a well-formed reply.
#![no_main]

use std::time::Duration;

use keygate::Quota;
use keygate::limit::redis::fuzzing::decision;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use redis::Value;

fn value(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    Ok(match u.int_in_range(0..=7)? {
        0 => Value::Nil,
        1 => Value::Int(u.arbitrary()?),
        2 => Value::BulkString(u.arbitrary()?),
        3 => Value::SimpleString(u.arbitrary()?),
        4 => Value::Okay,
        5 => Value::Double(u.arbitrary()?),
        6 => Value::Boolean(u.arbitrary()?),
        _ if depth < 3 => {
            let n = u.int_in_range(0..=6)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(value(u, depth + 1)?);
            }
            Value::Array(items)
        }
        _ => Value::Nil,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(reply) = value(&mut u, 0) else { return };
    let quota = Quota::new(5, Duration::from_secs(1)).unwrap();
    if let Ok(four) = redis::from_redis_value::<[i64; 4]>(reply) {
        if let Ok(d) = decision(four, &quota) {
            assert_eq!(d.allowed, four[0] == 1);
            assert_eq!(d.limit, 5);
            assert!(four[1] >= 0 && four[2] >= 0 && four[3] >= 0);
            assert!(d.retry_after_secs() >= 1);
        } else {
            assert!(!(0..=1).contains(&four[0]) || four[1..].iter().any(|&n| n < 0));
        }
    }
});
