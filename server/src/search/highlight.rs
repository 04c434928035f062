//! Which parts of a hit's title, professor and code the query matched, as character ranges a
//! page can mark.

use super::SearchText;
use super::text::{initial_of, is_initial};

/// A matched part: characters `start..end` of the text (Unicode scalar values; every Hangul
/// syllable is one, as it is one UTF-16 unit in a browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// The parts of `text` the query matched, in order, never overlapping.
pub fn spans(text: &str, query: &SearchText) -> Vec<Span> {
    Highlighter::new(query).spans(text)
}

/// Marks the matched parts of many texts for one query: the query is taken apart into
/// characters once, and the buffers are reused from text to text (a page of hits has sixty
/// fields, and allocating for each took most of the time of its highlights).
pub struct Highlighter {
    /// The 초성 pattern; when there is one, the only thing looked for.
    chosung: Option<Vec<char>>,
    /// Each word, then the neighbouring pairs of a word longer than two, looked for when the
    /// whole word is not found.
    words: Vec<(Vec<char>, Vec<Vec<char>>)>,
    code: Option<Vec<char>>,
    folded: Vec<char>,
    found: Vec<Span>,
}

impl Highlighter {
    /// A highlighter for `query`'s words, code or 초성 pattern.
    pub fn new(query: &SearchText) -> Highlighter {
        let chars = |text: &str| -> Vec<char> { text.chars().collect() };
        let words = query
            .words
            .iter()
            .map(|word| {
                let word = chars(word);
                // A compound's part: each neighbouring pair of the word.
                let pairs = match word.len() > 2 {
                    true => word.windows(2).map(<[char]>::to_vec).collect(),
                    false => Vec::new(),
                };
                (word, pairs)
            })
            .collect();
        Highlighter {
            chosung: query.chosung.as_deref().map(chars),
            words,
            code: query.code.as_deref().map(chars),
            folded: Vec::new(),
            found: Vec::new(),
        }
    }

    /// The parts of `text` the query matched, in order, never overlapping.
    pub fn spans(&mut self, text: &str) -> Vec<Span> {
        // Folded one character at a time so positions stay those of the original.
        self.folded.clear();
        self.folded.extend(text.chars().map(fold));
        self.found.clear();
        let (folded, found) = (&self.folded, &mut self.found);
        match &self.chosung {
            Some(pattern) => find_chosung(folded, pattern, found),
            None => {
                for (word, pairs) in &self.words {
                    let before = found.len();
                    find(folded, word, found);
                    if found.len() == before {
                        for pair in pairs {
                            find(folded, pair, found);
                        }
                    }
                }
                if let Some(code) = &self.code {
                    find(folded, code, found);
                }
            }
        }
        merge(found)
    }
}

/// A character in lower case. ASCII and Hangul (which has no case) skip Unicode's case tables,
/// which took most of the time of a page's highlights.
fn fold(c: char) -> char {
    match c {
        _ if c.is_ascii() => c.to_ascii_lowercase(),
        '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' | '\u{AC00}'..='\u{D7A3}' => c,
        _ => c.to_lowercase().next().unwrap_or(c),
    }
}

fn find(text: &[char], part: &[char], found: &mut Vec<Span>) {
    if part.is_empty() || part.len() > text.len() {
        return;
    }
    for start in 0..=text.len() - part.len() {
        // The first character alone rules out most places, without comparing the rest.
        if text[start] == part[0] && text[start..start + part.len()] == *part {
            found.push(Span {
                start,
                end: start + part.len(),
            });
        }
    }
}

/// Runs where each syllable starts with the pattern's consonant (or is its syllable), spaces in
/// the text skipped.
fn find_chosung(text: &[char], pattern: &[char], found: &mut Vec<Span>) {
    if pattern.is_empty() {
        return;
    }
    for start in 0..text.len() {
        let (mut at, mut matched) = (start, 0);
        while matched < pattern.len() && at < text.len() {
            if text[at] == ' ' && matched > 0 {
                at += 1;
                continue;
            }
            let want = pattern[matched];
            let ok = if is_initial(want) {
                initial_of(text[at]) == Some(want)
            } else {
                text[at] == want
            };
            if !ok {
                break;
            }
            matched += 1;
            at += 1;
        }
        if matched == pattern.len() {
            found.push(Span { start, end: at });
        }
    }
}

fn merge(spans: &mut [Span]) -> Vec<Span> {
    spans.sort_unstable_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Span> = Vec::new();
    for &span in spans.iter() {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, query: &str) -> String {
        let query = SearchText::parse(query).unwrap().unwrap();
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        for span in spans(text, &query) {
            out.extend(&chars[at..span.start]);
            out.push('[');
            out.extend(&chars[span.start..span.end]);
            out.push(']');
            at = span.end;
        }
        out.extend(&chars[at..]);
        out
    }

    #[test]
    fn the_matched_parts_are_marked() {
        let cases = [
            ("자료구조", "자료구조", "[자료구조]"),
            ("고급 자료구조", "구조", "고급 자료[구조]"),
            ("데이터베이스", "베이스", "데이터[베이스]"),
            ("자료구조론", "ㅈㄹㄱㅈ", "[자료구조]론"),
            ("고급 자료구조", "자ㄹ구조", "고급 [자료구조]"),
            ("Operating Systems", "operating", "[Operating] Systems"),
            ("운영체제", "운영", "[운영]체제"),
            ("CSE2010-01", "cse 2010", "[CSE2010]-01"),
            ("운영체제", "컴파일러", "운영체제"),
        ];
        for (text, query, expected) in cases {
            assert_eq!(marked(text, query), expected, "{query} in {text}");
        }
    }

    #[test]
    fn folding_takes_the_short_way_to_the_same_lower_case() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(fold(c), c.to_lowercase().next().unwrap_or(c), "{c:?}");
        }
    }
}
