//! What a student typed, checked and taken apart once, the same way for every backend: the
//! words, the whole text without spaces, a 초성 pattern, a course code.

use super::text;

/// The longest search text taken, in characters once trimmed.
pub const MAX_CHARS: usize = 100;

/// Why a search text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("q must be at most {MAX_CHARS} characters")]
    TooLong,
    #[error("q must not contain control characters")]
    ControlCharacter,
    /// A query string's invalid UTF-8 arrives decoded as U+FFFD, which no one types.
    #[error("q must be valid UTF-8")]
    NotUtf8,
}

/// A search text, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    /// As typed, trimmed.
    pub raw: String,
    /// Normalised ([`text::normalize`]).
    pub normalized: String,
    /// Normalised, without spaces: compared with a title's whole text.
    pub compact: String,
    /// The words ([`text::words`]); empty for a text of symbols only.
    pub words: Vec<String>,
    /// The 초성 pattern without spaces, when the text is one (ㅈㄹㄱㅈ, 자ㄹ구조).
    pub chosung: Option<String>,
    /// The code form the text names, when it looks like a course code.
    pub code: Option<String>,
}

impl SearchText {
    /// Checks and takes apart a search text; `None` for a blank one (which searches everything).
    pub fn parse(raw: &str) -> Result<Option<SearchText>, QueryError> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_CHARS {
            return Err(QueryError::TooLong);
        }
        // No title or name holds one, and PostgreSQL refuses NUL in text outright.
        if raw.chars().any(char::is_control) {
            return Err(QueryError::ControlCharacter);
        }
        if raw.contains(char::REPLACEMENT_CHARACTER) {
            return Err(QueryError::NotUtf8);
        }
        if raw.is_empty() {
            return Ok(None);
        }
        let normalized = text::normalize(raw);
        let words = text::words(raw);
        let chosung = text::is_chosung_query(&normalized).then(|| normalized.replace(' ', ""));
        Ok(Some(SearchText {
            raw: raw.to_owned(),
            compact: normalized.replace(' ', ""),
            code: text::code_query(raw),
            normalized,
            words,
            chosung,
        }))
    }

    /// Whether nothing in the text can match anything (only symbols): the answer is empty.
    pub fn is_void(&self) -> bool {
        self.words.is_empty() && self.chosung.is_none() && self.code.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_taken_apart() {
        let text = SearchText::parse("  자료 구조 ").unwrap().unwrap();
        assert_eq!(text.normalized, "자료 구조");
        assert_eq!(text.compact, "자료구조");
        assert_eq!(text.words, ["자료", "구조"]);
        assert_eq!(text.chosung, None);
        let text = SearchText::parse("ㅈㄹ 구조").unwrap().unwrap();
        assert_eq!(text.chosung.as_deref(), Some("ㅈㄹ구조"));
        let text = SearchText::parse("cse 2010").unwrap().unwrap();
        assert_eq!(text.code.as_deref(), Some("cse2010"));
    }

    #[test]
    fn blank_symbols_and_hostile_texts() {
        assert_eq!(SearchText::parse("   "), Ok(None));
        assert!(SearchText::parse("*?~^\"():!").unwrap().unwrap().is_void());
        assert_eq!(
            SearchText::parse(&"가".repeat(101)),
            Err(QueryError::TooLong)
        );
        assert!(SearchText::parse(&"가".repeat(100)).is_ok());
        assert_eq!(
            SearchText::parse("자료\u{0}구조"),
            Err(QueryError::ControlCharacter)
        );
        assert_eq!(SearchText::parse("자료\u{fffd}"), Err(QueryError::NotUtf8));
        // Query syntax is not syntax here: the words are what is left.
        let text = SearchText::parse("자료구조 AND (NOT 운영체제)")
            .unwrap()
            .unwrap();
        assert_eq!(text.words, ["자료구조", "and", "not", "운영체제"]);
    }
}
