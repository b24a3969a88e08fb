//! [`Metadata`]: a key's own small JSON object, for the application's use.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value};

/// The largest metadata object, in bytes of its compact JSON serialization.
pub const MAX_METADATA_BYTES: usize = 1024;

/// Longest JSON text [`Metadata::from_json`] reads at all: text beyond it cannot serialize
/// within [`MAX_METADATA_BYTES`] except by whitespace, and is refused before parsing.
const MAX_METADATA_TEXT: usize = 16 * 1024;

/// A key's metadata: a JSON object of at most [`MAX_METADATA_BYTES`] (serialized compactly),
/// set when the key is created and editable later.
///
/// It is the application's: a plan tier, the customer's id in the billing system, an
/// environment. keygate stores it with the key and hands it to handlers through
/// [`AuthenticatedKey::metadata`](crate::AuthenticatedKey::metadata), with no extra store
/// round trip, but never reads it to decide anything.
///
/// Cloning is cheap (the object is shared).
///
/// ```
/// use keygate::{InvalidMetadata, Metadata};
///
/// let meta: Metadata = r#"{"tier": "pro", "customer": 4711}"#.parse().unwrap();
/// assert_eq!(meta.get("tier").and_then(|v| v.as_str()), Some("pro"));
/// assert_eq!(meta.as_json(), r#"{"customer":4711,"tier":"pro"}"#);
///
/// let refused: Result<Metadata, InvalidMetadata> = "[1, 2]".parse();
/// assert!(refused.is_err());
/// assert!(Metadata::empty().is_empty());
/// ```
#[derive(Clone)]
pub struct Metadata(Arc<Inner>);

struct Inner {
    map: Map<String, Value>,
    /// The compact serialization, made once.
    json: Box<str>,
}

/// Why a value is not metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidMetadata {
    /// Not JSON at all.
    #[error("metadata is not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("metadata must be a JSON object (such as {{\"tier\": \"pro\"}}), not {0}")]
    NotAnObject(&'static str),
    /// An object larger than [`MAX_METADATA_BYTES`] serialized.
    #[error("metadata is {0} bytes serialized; at most {MAX_METADATA_BYTES} are kept")]
    TooLarge(usize),
}

static EMPTY: LazyLock<Metadata> = LazyLock::new(|| {
    Metadata(Arc::new(Inner {
        map: Map::new(),
        json: "{}".into(),
    }))
});

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Metadata {
    /// The empty object `{}`: what a key has unless given more.
    pub fn empty() -> Self {
        EMPTY.clone()
    }

    /// Metadata from JSON text: an object whose compact serialization is at most
    /// [`MAX_METADATA_BYTES`].
    pub fn from_json(text: &str) -> Result<Self, InvalidMetadata> {
        // What most keys have, as stores read it back: shared, not parsed.
        if text == "{}" {
            return Ok(Self::empty());
        }
        if text.len() > MAX_METADATA_TEXT {
            return Err(InvalidMetadata::TooLarge(text.len()));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| InvalidMetadata::NotJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Metadata from a JSON value: an object whose compact serialization is at most
    /// [`MAX_METADATA_BYTES`].
    pub fn from_value(value: Value) -> Result<Self, InvalidMetadata> {
        match value {
            Value::Object(map) => Self::from_map(map),
            other => Err(InvalidMetadata::NotAnObject(kind(&other))),
        }
    }

    /// Metadata from a JSON object's entries, at most [`MAX_METADATA_BYTES`] serialized.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, InvalidMetadata> {
        if map.is_empty() {
            return Ok(Self::empty());
        }
        // Serializing a map of JSON values cannot fail: every key is a string.
        let json = serde_json::to_string(&map).unwrap_or_default();
        if json.len() > MAX_METADATA_BYTES {
            return Err(InvalidMetadata::TooLarge(json.len()));
        }
        Ok(Self(Arc::new(Inner {
            map,
            json: json.into(),
        })))
    }

    /// The value of one field.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.map.get(field)
    }

    /// The object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0.map
    }

    /// The object, compactly serialized: what stores keep.
    pub fn as_json(&self) -> &str {
        &self.0.json
    }

    /// The object as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.map.clone())
    }

    /// Whether the object has no field.
    pub fn is_empty(&self) -> bool {
        self.0.map.is_empty()
    }
}

impl Default for Metadata {
    fn default() -> Self {
        Self::empty()
    }
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.map == other.0.map
    }
}

impl Eq for Metadata {}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.json)
    }
}

impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.json)
    }
}

impl FromStr for Metadata {
    type Err = InvalidMetadata;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_json(s)
    }
}

impl TryFrom<Value> for Metadata {
    type Error = InvalidMetadata;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_round_trips_through_its_json() {
        let meta = Metadata::from_json(r#"{"tier":"pro","ids":[1,2],"env":{"k":null}}"#).unwrap();
        let again = Metadata::from_json(meta.as_json()).unwrap();
        assert_eq!(meta, again);
        assert_eq!(again.get("tier"), Some(&Value::from("pro")));
    }

    #[test]
    fn values_that_are_not_objects_are_refused() {
        for text in ["[]", "1", "\"tier\"", "null", "true"] {
            assert!(
                matches!(
                    Metadata::from_json(text),
                    Err(InvalidMetadata::NotAnObject(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        for text in ["", "{", "{tier: 1}", "{\"a\":1}x", "{'a':1}"] {
            assert!(
                matches!(Metadata::from_json(text), Err(InvalidMetadata::NotJson(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn an_object_of_exactly_the_bound_is_kept_and_one_byte_more_is_refused() {
        // {"a":"…"} is 8 bytes around the string.
        let fits = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_METADATA_BYTES - 8));
        assert_eq!(Metadata::from_json(&fits).unwrap().as_json().len(), 1024);
        let over = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_METADATA_BYTES - 7));
        assert_eq!(
            Metadata::from_json(&over).unwrap_err(),
            InvalidMetadata::TooLarge(1025)
        );
    }

    #[test]
    fn whitespace_does_not_count_toward_the_bound() {
        let spaced = format!(r#"{{ "a" :  "{}" }}"#, "x".repeat(MAX_METADATA_BYTES - 8));
        assert!(Metadata::from_json(&spaced).is_ok());
    }

    #[test]
    fn huge_text_is_refused_before_it_is_parsed() {
        let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(1 << 20));
        assert!(matches!(
            Metadata::from_json(&huge),
            Err(InvalidMetadata::TooLarge(_))
        ));
    }

    #[test]
    fn deeply_nested_json_is_refused_without_a_panic() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        assert!(Metadata::from_json(&deep).is_err());
    }

    #[test]
    fn the_empty_object_is_empty() {
        let meta = Metadata::from_json("{}").unwrap();
        assert!(meta.is_empty());
        assert_eq!(meta, Metadata::empty());
        assert_eq!(meta.as_json(), "{}");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_either_refused_or_kept_within_the_bound_and_round_trips(text in ".{0,64}|\\{[ -~]{0,1100}\\}") {
            if let Ok(meta) = Metadata::from_json(&text) {
                proptest::prop_assert!(meta.as_json().len() <= MAX_METADATA_BYTES);
                proptest::prop_assert_eq!(Metadata::from_json(meta.as_json()).unwrap(), meta);
            }
        }

        #[test]
        fn objects_of_string_fields_are_kept_exactly_when_they_fit(
            fields in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,40}", 0..40)
        ) {
            let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            let size = serde_json::to_string(&map).unwrap().len();
            let kept = Metadata::from_map(map.clone());
            proptest::prop_assert_eq!(kept.is_ok(), size <= MAX_METADATA_BYTES);
            if let Ok(meta) = kept {
                proptest::prop_assert_eq!(meta.as_map(), &map);
            }
        }
    }
}
