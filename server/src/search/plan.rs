//! What the full-text backends index and ask, independent of the engine: the terms of a course
//! per field ([`course_terms`]) and the query for a search text as a tree of term matches, each
//! worth a fixed number of points ([`text_plan`]). tantivy and Elasticsearch each translate the
//! same tree, so they rank alike and a cursor means the same to both.
//!
//! Every term is made by [`text`]: nothing a student types is ever parsed as query syntax.

use super::SearchText;
use super::text::{
    self, chosung, code_forms, edge_ngrams, hangul_bigrams, initial_of, normalize, words,
};
use crate::domain::Course;

/// Points for each kind of match. A hit's points are the sum over what it matched, so an exact
/// title beats a prefix, a prefix a whole word, a word a part.
pub mod points {
    pub const EXACT_TITLE: f32 = 1000.0;
    pub const CODE: f32 = 800.0;
    pub const TITLE_PREFIX: f32 = 300.0;
    pub const WORD: f32 = 100.0;
    pub const CODE_WORD: f32 = 80.0;
    pub const PROFESSOR: f32 = 60.0;
    pub const WORD_PREFIX: f32 = 50.0;
    pub const PROFESSOR_PREFIX: f32 = 40.0;
    pub const CODE_PREFIX: f32 = 30.0;
    pub const PART: f32 = 10.0;
    pub const CHOSUNG: f32 = 5.0;
    pub const TYPO: f32 = 2.0;
}

/// The longest title prefix indexed: longer texts cannot be a prefix match.
pub const MAX_PREFIX: usize = 30;

/// The most words of one query that tolerate typos: each is an automaton to walk.
pub const MAX_TYPO_WORDS: usize = 4;

/// A field of exact terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermField {
    /// The whole title, compact (without spaces).
    Exact,
    /// The compact title's prefixes.
    Prefix,
    /// The title's words.
    Word,
    /// Each title word's prefixes.
    WordPrefix,
    /// The title's Hangul bigrams.
    Gram,
    /// The professor's name and its words.
    Professor,
    ProfessorPrefix,
    /// The code's forms (`cse2010-01`, `cse2010`, `cse`, `2010`).
    Code,
    CodePrefix,
    /// 2- and 3-grams of the title's 초성.
    Chosung,
}

impl TermField {
    pub const ALL: [TermField; 10] = [
        TermField::Exact,
        TermField::Prefix,
        TermField::Word,
        TermField::WordPrefix,
        TermField::Gram,
        TermField::Professor,
        TermField::ProfessorPrefix,
        TermField::Code,
        TermField::CodePrefix,
        TermField::Chosung,
    ];

    /// The field's name in every index.
    pub fn name(self) -> &'static str {
        match self {
            TermField::Exact => "exact",
            TermField::Prefix => "prefix",
            TermField::Word => "word",
            TermField::WordPrefix => "word_prefix",
            TermField::Gram => "gram",
            TermField::Professor => "professor",
            TermField::ProfessorPrefix => "professor_prefix",
            TermField::Code => "code",
            TermField::CodePrefix => "code_prefix",
            TermField::Chosung => "chosung",
        }
    }
}

/// Normalised, without spaces.
pub fn compact(text: &str) -> String {
    normalize(text).replace(' ', "")
}

/// The prefixes of `text` from one character to `max`.
fn prefixes(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    (1..=chars.len().min(max))
        .map(|len| chars[..len].iter().collect())
        .collect()
}

/// The 2- and 3-grams of a title's 초성, without spaces.
fn chosung_grams(title: &str) -> Vec<String> {
    let initials: Vec<char> = chosung(title).chars().filter(|c| *c != ' ').collect();
    let mut grams: Vec<String> = initials.windows(2).map(|w| w.iter().collect()).collect();
    grams.extend(initials.windows(3).map(|w| w.iter().collect::<String>()));
    grams
}

/// The terms of `field` for `course`: sorted, each once, none empty.
pub fn course_terms(course: &Course, field: TermField) -> Vec<String> {
    let spec = &course.spec;
    let title = compact(&spec.title);
    let mut terms = match field {
        TermField::Exact => vec![title],
        TermField::Prefix => prefixes(&title, MAX_PREFIX),
        TermField::Word => words(&spec.title),
        TermField::WordPrefix => edge_ngrams(&spec.title, 1, 20),
        TermField::Gram => hangul_bigrams(&spec.title),
        TermField::Professor => {
            let mut names = words(&spec.professor);
            names.push(compact(&spec.professor));
            names
        }
        TermField::ProfessorPrefix => {
            let mut names = edge_ngrams(&spec.professor, 1, 10);
            names.extend(prefixes(&compact(&spec.professor), 10));
            names
        }
        TermField::Code => code_forms(&spec.code.to_string()),
        TermField::CodePrefix => code_forms(&spec.code.to_string())
            .iter()
            .flat_map(|f| prefixes(f, 12))
            .filter(|p| p.len() >= 2)
            .collect(),
        TermField::Chosung => chosung_grams(&spec.title),
    };
    terms.retain(|t| !t.is_empty());
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// A query over term fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The field holds this term.
    Term(TermField, String),
    /// The field holds a term one edit (a transposition counts as one) from this.
    Typo(TermField, String),
    /// The word is part of the title: every one of its Hangul bigrams is (and, where the
    /// engine has a Korean analyzer, alternatively all its morphemes are).
    Part(String),
    /// Every part matches; no points of its own.
    All(Vec<Plan>),
    /// At least one part matches; the points of those that do, summed.
    Any(Vec<Plan>),
    /// The part matches, for exactly these points.
    Worth(f32, Box<Plan>),
}

fn worth(points: f32, plan: Plan) -> Plan {
    Plan::Worth(points, Box::new(plan))
}

/// What one word of the query may match, each worth its points; `typos` whether it may match
/// with one.
fn word_plan(word: &str, typos: bool) -> Plan {
    let term = |field| Plan::Term(field, word.to_owned());
    let mut any = vec![
        worth(points::WORD, term(TermField::Word)),
        worth(points::WORD_PREFIX, term(TermField::WordPrefix)),
        worth(points::PROFESSOR, term(TermField::Professor)),
        worth(points::PROFESSOR_PREFIX, term(TermField::ProfessorPrefix)),
        worth(points::CODE_WORD, term(TermField::Code)),
        worth(points::CODE_PREFIX, term(TermField::CodePrefix)),
    ];
    if word.chars().any(text::is_syllable) && !hangul_bigrams(word).is_empty() {
        any.push(worth(points::PART, Plan::Part(word.to_owned())));
    }
    let letters = word.chars().count();
    if typos && letters >= 4 && word.chars().all(|c| c.is_ascii_alphabetic()) {
        // One edit: two would cost more than the 2 ms a query may take, for little more found.
        any.push(worth(
            points::TYPO,
            Plan::Typo(TermField::Word, word.to_owned()),
        ));
    }
    Plan::Any(any)
}

/// The query for a search text; `None` when nothing can match. A 초성 text's plan finds
/// candidates only: each must still pass [`text::matches_chosung`] on its title.
pub fn text_plan(text: &SearchText) -> Option<Plan> {
    if let Some(pattern) = &text.chosung {
        let initials: Vec<char> = pattern
            .chars()
            .map(|c| initial_of(c).unwrap_or(c))
            .collect();
        let width = initials.len().min(3);
        if width < 2 {
            return None;
        }
        let grams = initials
            .windows(width)
            .map(|w| Plan::Term(TermField::Chosung, w.iter().collect()))
            .collect();
        return Some(worth(points::CHOSUNG, Plan::All(grams)));
    }
    if text.is_void() {
        return None;
    }
    let mut any = Vec::new();
    if !text.words.is_empty() {
        let every_word = text
            .words
            .iter()
            .enumerate()
            .map(|(n, w)| word_plan(w, n < MAX_TYPO_WORDS))
            .collect();
        any.push(Plan::All(every_word));
    }
    any.push(worth(
        points::EXACT_TITLE,
        Plan::Term(TermField::Exact, text.compact.clone()),
    ));
    if text.compact.chars().count() <= MAX_PREFIX {
        any.push(worth(
            points::TITLE_PREFIX,
            Plan::Term(TermField::Prefix, text.compact.clone()),
        ));
    }
    if let Some(code) = &text.code {
        any.push(worth(
            points::CODE,
            Plan::Term(TermField::Code, code.clone()),
        ));
    }
    Some(Plan::Any(any))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::contract::course;

    #[test]
    fn a_course_has_terms_for_each_way_it_is_typed() {
        let c = course(1, "CSE2010-01", "자료구조", "김민준");
        let terms = |f| course_terms(&c, f);
        assert_eq!(terms(TermField::Exact), ["자료구조"]);
        assert!(terms(TermField::Prefix).contains(&"자료".to_owned()));
        assert_eq!(terms(TermField::Gram), ["구조", "료구", "자료"]);
        assert!(terms(TermField::Code).contains(&"2010".to_owned()));
        assert!(terms(TermField::Code).contains(&"cse2010".to_owned()));
        assert!(terms(TermField::Chosung).contains(&"ㅈㄹㄱ".to_owned()));
        assert!(terms(TermField::Professor).contains(&"김민준".to_owned()));
        assert!(terms(TermField::ProfessorPrefix).contains(&"김민".to_owned()));
    }

    #[test]
    fn a_text_asks_for_words_the_title_and_the_code() {
        let text = SearchText::parse("cse 2010").unwrap().unwrap();
        let Some(Plan::Any(any)) = text_plan(&text) else {
            panic!("a plan of alternatives");
        };
        assert!(any.contains(&worth(
            points::CODE,
            Plan::Term(TermField::Code, "cse2010".into())
        )));
        assert!(any.contains(&worth(
            points::EXACT_TITLE,
            Plan::Term(TermField::Exact, "cse2010".into())
        )));
        let chosung = SearchText::parse("ㅈㄹㄱㅈ").unwrap().unwrap();
        assert_eq!(
            text_plan(&chosung),
            Some(worth(
                points::CHOSUNG,
                Plan::All(vec![
                    Plan::Term(TermField::Chosung, "ㅈㄹㄱ".into()),
                    Plan::Term(TermField::Chosung, "ㄹㄱㅈ".into()),
                ])
            ))
        );
        let void = SearchText::parse("!!!").unwrap().unwrap();
        assert_eq!(text_plan(&void), None);
    }
}
