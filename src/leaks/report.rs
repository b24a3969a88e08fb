//! The report and its answer: [`ReportedToken`] (what GitHub sends for each match) and
//! [`TokenLabel`] (what the service answers of it, in GitHub's feedback format).

use serde::{Deserialize, Serialize};

/// One match of a report: `{"token", "type", "url", "source"}`. Members GitHub may add are
/// ignored; `url` and `source` may be missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ReportedToken {
    /// The string found in public.
    pub token: String,
    /// The name the service registered its token format under (echoed in the answer).
    #[serde(rename = "type")]
    pub token_type: String,
    /// Where it was found (may be empty).
    #[serde(default)]
    pub url: String,
    /// What kind of place it was found in (`content`, `commit`, `issue_comment`, `npm`, …).
    #[serde(default)]
    pub source: String,
}

impl ReportedToken {
    /// A match of `token`, registered as `token_type`, found at `url` in `source`.
    pub fn new(token: &str, token_type: &str, url: &str, source: &str) -> Self {
        Self {
            token: token.to_owned(),
            token_type: token_type.to_owned(),
            url: url.to_owned(),
            source: source.to_owned(),
        }
    }
}

/// Whether a reported token is a real key of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A key of this service, proven by its secret: acted on.
    TruePositive,
    /// Not a key of this service: another format, a bad checksum, an unknown id or a wrong
    /// secret (the last two indistinguishable).
    FalsePositive,
}

impl Label {
    /// `true_positive` or `false_positive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TruePositive => "true_positive",
            Self::FalsePositive => "false_positive",
        }
    }
}

/// The answer about one reported token: `{"token_raw", "token_type", "label"}`, GitHub's
/// feedback format, in the report's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TokenLabel {
    /// The token as reported.
    pub token_raw: String,
    /// The report's `type`, echoed.
    pub token_type: String,
    /// The verdict.
    pub label: Label,
}

impl TokenLabel {
    /// The answer about `reported`.
    pub fn of(reported: &ReportedToken, label: Label) -> Self {
        Self {
            token_raw: reported.token.clone(),
            token_type: reported.token_type.clone(),
            label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_reads_its_four_members_and_ignores_others() {
        let json = r#"[{"token":"t","type":"acme_api_key","url":"https://x/y","source":"content","extra":1}]"#;
        let report: Vec<ReportedToken> = serde_json::from_str(json).unwrap();
        assert_eq!(
            report,
            vec![ReportedToken::new(
                "t",
                "acme_api_key",
                "https://x/y",
                "content"
            )]
        );
    }

    #[test]
    fn url_and_source_may_be_missing() {
        let report: Vec<ReportedToken> =
            serde_json::from_str(r#"[{"token":"t","type":"k"}]"#).unwrap();
        assert_eq!(report[0].url, "");
        assert_eq!(report[0].source, "");
    }

    #[test]
    fn a_match_without_a_token_is_refused() {
        assert!(serde_json::from_str::<Vec<ReportedToken>>(r#"[{"type":"k"}]"#).is_err());
    }

    #[test]
    fn the_answer_is_in_the_feedback_format() {
        let reported = ReportedToken::new("t", "acme_api_key", "", "");
        let answer = TokenLabel::of(&reported, Label::TruePositive);
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::json!({"token_raw": "t", "token_type": "acme_api_key", "label": "true_positive"})
        );
        assert_eq!(Label::FalsePositive.as_str(), "false_positive");
    }
}
