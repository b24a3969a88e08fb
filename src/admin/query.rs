//! Reading a route's query string: each `name=value` pair handed to the route's own reader,
//! a parameter given twice refused, and every refusal collected into one 422
//! `invalid_request` naming each parameter.

use super::{AdminError, FieldError};

/// The longest parameter name a refusal echoes back, in characters.
const MAX_ECHOED_NAME: usize = 32;

/// Hands each `name=value` pair of `raw` (a missing `=` reads as an empty value) to `read`,
/// which keeps the value or says why it refuses it. A name given twice is refused without
/// being read again. Every refusal is reported at once, in the order of the query.
pub(super) fn read_query<'q>(
    raw: Option<&'q str>,
    mut read: impl FnMut(&'q str, &'q str) -> Result<(), String>,
) -> Result<(), AdminError> {
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if seen.contains(&name) {
            errors.push(FieldError::new(echoed(name), "give it once"));
            continue;
        }
        seen.push(name);
        if let Err(message) = read(name, value) {
            errors.push(FieldError::new(echoed(name), message));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(errors))
    }
}

/// A percent-encoded query value as text (`+` is a space); `None` if the bytes it encodes
/// are not UTF-8 or an escape is cut short.
pub(super) fn decoded(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A parameter name as a refusal names it: at most [`MAX_ECHOED_NAME`] characters of the
/// caller's text.
fn echoed(name: &str) -> String {
    name.chars().take(MAX_ECHOED_NAME).collect()
}

/// The fields a query parser refused `raw` for, naming each; panics if it accepted it.
#[cfg(test)]
pub(super) fn refused_fields<T: std::fmt::Debug>(
    raw: &str,
    parse: impl FnOnce(Option<&str>) -> Result<T, super::AdminError>,
) -> Vec<String> {
    match parse(Some(raw)) {
        Err(super::AdminError::Invalid(errors)) => errors
            .into_iter()
            .map(|e| e.field.expect("each refusal names its field"))
            .collect(),
        other => panic!("{raw:?} was not refused: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_unknown_name_is_echoed_cut_to_the_bound() {
        let name = "x".repeat(10_000);
        let refused = read_query(Some(&name), |_, _| Err("unknown".to_owned()));
        let Err(AdminError::Invalid(errors)) = refused else {
            panic!("not refused");
        };
        assert_eq!(errors[0].field.as_ref().unwrap().len(), MAX_ECHOED_NAME);
    }

    #[test]
    fn a_percent_encoded_value_is_decoded_and_a_broken_escape_refused() {
        assert_eq!(decoded("ci-%2Dx+y").as_deref(), Some("ci--x y"));
        assert_eq!(decoded("%E2%9C%93").as_deref(), Some("\u{2713}"));
        assert_eq!(decoded("%2"), None);
        assert_eq!(decoded("%zz"), None);
        assert_eq!(decoded("%FF"), None);
    }
}
