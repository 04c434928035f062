//! Korean text as the search index sees it, without a morphological dictionary: normalised
//! text, whole words, Hangul character bigrams (so a compound matches its parts), edge n-grams
//! (for as-you-type prefixes), 초성 (initial consonants: ㅈㄹㄱㅈ for 자료구조), and course codes
//! typed loosely. Pure functions; the index backends build their fields and queries from them.

use unicode_normalization::UnicodeNormalization;

/// The first Hangul syllable, 가.
const SYLLABLE_FIRST: u32 = 0xAC00;
/// The last Hangul syllable, 힣.
const SYLLABLE_LAST: u32 = 0xD7A3;
/// Syllables per initial consonant: 21 vowels × 28 finals.
const SYLLABLES_PER_INITIAL: u32 = 21 * 28;

/// The 19 initial consonants in syllable order, as compatibility jamo (what a keyboard types).
const INITIALS: [char; 19] = [
    'ㄱ', 'ㄲ', 'ㄴ', 'ㄷ', 'ㄸ', 'ㄹ', 'ㅁ', 'ㅂ', 'ㅃ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅉ', 'ㅊ', 'ㅋ',
    'ㅌ', 'ㅍ', 'ㅎ',
];

/// Text folded for matching: NFKC (full-width `ＣＳＥ` is `CSE`, compatibility forms become
/// their plain ones, decomposed Hangul is composed), lower case, runs of whitespace one space,
/// trimmed.
pub fn normalize(text: &str) -> String {
    let folded: String = text
        .nfkc()
        .map(keyboard_initial)
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// NFKC turns the consonants a keyboard types (ㅈ, U+3148) into conjoining jamo (U+110C); a
/// lone one is turned back, so 초성 queries survive normalising.
fn keyboard_initial(c: char) -> char {
    match c as u32 {
        code @ 0x1100..=0x1112 => INITIALS[(code - 0x1100) as usize],
        _ => c,
    }
}

/// Whether `c` is a composed Hangul syllable (가–힣).
pub fn is_syllable(c: char) -> bool {
    (SYLLABLE_FIRST..=SYLLABLE_LAST).contains(&(c as u32))
}

/// Whether `c` is one of the 19 initial consonants as compatibility jamo (ㄱ, ㄲ, … ㅎ).
pub fn is_initial(c: char) -> bool {
    INITIALS.contains(&c)
}

/// The initial consonant of a syllable (ㅈ for 자); `None` for anything else.
pub fn initial_of(c: char) -> Option<char> {
    is_syllable(c).then(|| {
        let index = (c as u32 - SYLLABLE_FIRST) / SYLLABLES_PER_INITIAL;
        INITIALS[index as usize]
    })
}

/// The first and last syllable that begin with `initial` (가 and 깋 for ㄱ); `None` for
/// anything but an initial consonant.
pub fn syllables_of(initial: char) -> Option<(char, char)> {
    let index = INITIALS.iter().position(|c| *c == initial)? as u32;
    let first = SYLLABLE_FIRST + index * SYLLABLES_PER_INITIAL;
    Some((
        char::from_u32(first)?,
        char::from_u32(first + SYLLABLES_PER_INITIAL - 1)?,
    ))
}

/// The text's 초성: each syllable replaced by its initial consonant, everything else dropped
/// except spaces between words (자료구조 및 알고리즘 → ㅈㄹㄱㅈ ㅇㄱㄹㅈ).
pub fn chosung(text: &str) -> String {
    normalize(text)
        .split(' ')
        .map(|word| word.chars().filter_map(initial_of).collect::<String>())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a query is a 초성 pattern: it holds at least one initial consonant and otherwise only
/// syllables and spaces (ㅈㄹㄱㅈ, or mixed as 자ㄹ구조).
pub fn is_chosung_query(query: &str) -> bool {
    let query = normalize(query);
    query.chars().any(is_initial)
        && query
            .chars()
            .all(|c| is_initial(c) || is_syllable(c) || c == ' ')
}

/// Whether `text` contains `pattern`, where an initial consonant in the pattern stands for any
/// syllable that begins with it (자ㄹ구조 is found in 자료구조론). Spaces in either are ignored.
pub fn matches_chosung(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = normalize(text).chars().filter(|c| *c != ' ').collect();
    let pattern: Vec<char> = normalize(pattern).chars().filter(|c| *c != ' ').collect();
    if pattern.is_empty() || pattern.len() > text.len() {
        return pattern.is_empty();
    }
    let fits = |t: char, p: char| match is_initial(p) {
        true => initial_of(t) == Some(p),
        false => t == p,
    };
    text.windows(pattern.len())
        .any(|window| window.iter().zip(&pattern).all(|(t, p)| fits(*t, *p)))
}

/// The words of a text: normalised, split at anything that is not a letter or digit, and where
/// Hangul meets another script (C프로그래밍 is `c` and 프로그래밍, 5G이동통신 is `5g` and 이동통신).
pub fn words(text: &str) -> Vec<String> {
    let is_hangul = |c: char| is_syllable(c) || is_initial(c);
    let mut words = Vec::new();
    for piece in normalize(text).split(|c: char| !c.is_alphanumeric()) {
        let mut word = String::new();
        for c in piece.chars() {
            if word
                .chars()
                .last()
                .is_some_and(|last| is_hangul(last) != is_hangul(c))
            {
                words.push(std::mem::take(&mut word));
            }
            word.push(c);
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// Every pair of neighbouring characters of each run of Hangul syllables: 데이터베이스 gives
/// 데이, 이터, 터베, 베이, 이스, so a search for 베이스 (베이, 이스) finds it. A one-syllable
/// word is its own token.
pub fn hangul_bigrams(text: &str) -> Vec<String> {
    let mut grams = Vec::new();
    for word in words(text) {
        let chars: Vec<char> = word.chars().collect();
        for run in chars.split(|c| !is_syllable(*c)).filter(|r| !r.is_empty()) {
            match run.len() {
                1 => grams.push(run[0].to_string()),
                _ => grams.extend(run.windows(2).map(|pair| pair.iter().collect())),
            }
        }
    }
    grams
}

/// The prefixes of each word from `min` to `max` characters: what a student has typed so far
/// (운, 운영, 운영체 … for 운영체제).
pub fn edge_ngrams(text: &str, min: usize, max: usize) -> Vec<String> {
    let mut grams = Vec::new();
    for word in words(text) {
        let chars: Vec<char> = word.chars().collect();
        for len in min.max(1)..=max.min(chars.len()) {
            grams.push(chars[..len].iter().collect());
        }
    }
    grams
}

/// A course code's forms, as students type it: `CSE2010-01` is `cse2010-01`, `cse2010`, `cse`
/// and `2010`.
pub fn code_forms(code: &str) -> Vec<String> {
    let code = normalize(code).replace(' ', "");
    let subject = code.split('-').next().unwrap_or("").to_owned();
    let letters: String = subject
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let digits: String = subject.chars().skip(letters.len()).collect();
    let mut forms = vec![code.clone(), subject, letters, digits];
    forms.retain(|f| !f.is_empty());
    forms.dedup();
    forms
}

/// A query that looks like a course code typed loosely (`CSE2010`, `cse 2010`, `cse-2010`,
/// `cse2010-01`, `2010`), as the code form it should match; `None` when it does not look like
/// one.
pub fn code_query(query: &str) -> Option<String> {
    let query = normalize(query);
    // A section is a final `-NN` after a digit; any other dash or space only separates.
    let (subject, section) = match query.rsplit_once('-') {
        Some((head, tail))
            if tail.len() == 2
                && tail.chars().all(|c| c.is_ascii_digit())
                && head.ends_with(|c: char| c.is_ascii_digit()) =>
        {
            (head, Some(tail))
        }
        _ => (query.as_str(), None),
    };
    let squeezed: String = subject
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .collect();
    let letters = squeezed
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .count();
    let digits = &squeezed[letters..];
    let looks = (letters == 0 || (2..=4).contains(&letters))
        && (3..=4).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit());
    looks.then(|| match section {
        Some(section) => format!("{squeezed}-{section}"),
        None => squeezed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_folds_width_case_and_spaces() {
        for (raw, folded) in [
            ("ＣＳＥ２０１０", "cse2010"),
            ("  Data   Structures ", "data structures"),
            ("자료\u{3000}구조", "자료 구조"),
            // Decomposed jamo (as some keyboards and macOS file names send them) compose.
            ("\u{1100}\u{1161}", "가"),
            ("Ⅳ", "iv"),
            // A consonant typed alone stays the one a keyboard types.
            ("ㅈㄹ", "ㅈㄹ"),
            ("\u{110c}", "ㅈ"),
        ] {
            assert_eq!(normalize(raw), folded, "{raw:?}");
        }
    }

    #[test]
    fn chosung_takes_each_syllables_initial_consonant() {
        for (text, initials) in [
            ("자료구조", "ㅈㄹㄱㅈ"),
            ("자료구조 및 알고리즘", "ㅈㄹㄱㅈ ㅁ ㅇㄱㄹㅈ"),
            ("까치", "ㄲㅊ"),
            ("힣", "ㅎ"),
            ("C 프로그래밍", "ㅍㄹㄱㄹㅁ"),
            ("Operating Systems", ""),
        ] {
            assert_eq!(chosung(text), initials, "{text}");
        }
    }

    #[test]
    fn a_chosung_pattern_matches_whole_and_mixed() {
        for (text, pattern, found) in [
            ("자료구조", "ㅈㄹㄱㅈ", true),
            ("자료구조", "자ㄹ구조", true),
            ("고급 자료구조론", "ㅈㄹㄱㅈ", true),
            ("자료구조", "ㅈㄹ ㄱㅈ", true),
            ("자료구조", "ㅈㄱ", false),
            ("자료구조", "ㅈㄹㄱㅈㄹ", false),
            ("운영체제", "ㅇㅇㅊㅈ", true),
            ("운영체제", "운ㅇ체ㅈ", true),
            ("운영체제", "운ㅇ채ㅈ", false),
        ] {
            assert_eq!(matches_chosung(text, pattern), found, "{text} ~ {pattern}");
        }
        assert!(is_chosung_query("ㅈㄹㄱㅈ"));
        assert!(is_chosung_query("자ㄹ구조"));
        assert!(!is_chosung_query("자료구조"));
        assert!(!is_chosung_query("cseㄱ"));
    }

    #[test]
    fn bigrams_let_a_compound_match_its_parts() {
        let has_all = |text: &str, query: &str| {
            let indexed = hangul_bigrams(text);
            hangul_bigrams(query).iter().all(|g| indexed.contains(g))
        };
        assert!(has_all("자료구조", "구조"));
        assert!(has_all("데이터베이스", "베이스"));
        assert!(has_all("컴퓨터 네트워크", "네트워크"));
        assert!(!has_all("자료구조", "구조론"));
        assert_eq!(hangul_bigrams("법"), ["법"]);
        assert_eq!(hangul_bigrams("C언어"), ["언어"]);
    }

    #[test]
    fn edge_ngrams_are_what_was_typed_so_far() {
        assert_eq!(edge_ngrams("운영체제", 1, 3), ["운", "운영", "운영체"]);
        assert_eq!(edge_ngrams("OS 개론", 2, 10), ["os", "개론"]);
    }

    #[test]
    fn codes_are_found_however_they_are_typed() {
        assert_eq!(
            code_forms("CSE2010-01"),
            ["cse2010-01", "cse2010", "cse", "2010"]
        );
        for (typed, form) in [
            ("CSE2010", Some("cse2010")),
            ("cse 2010", Some("cse2010")),
            ("cse-2010", Some("cse2010")),
            ("ＣＳＥ２０１０", Some("cse2010")),
            ("cse2010-01", Some("cse2010-01")),
            ("2010", Some("2010")),
            ("cse", None),
            ("운영체제", None),
            ("20", None),
            ("c2010", None),
        ] {
            assert_eq!(code_query(typed).as_deref(), form, "{typed}");
        }
        // Every loosely typed form is one of the code's own forms.
        let forms = code_forms("CSE2010-01");
        for typed in ["CSE2010", "cse 2010", "cse-2010", "2010", "CSE2010-01"] {
            assert!(forms.contains(&code_query(typed).unwrap()), "{typed}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_texts_own_chosung_always_finds_it(text in "[가-힣]{1,8}( [가-힣]{1,8}){0,3}") {
            proptest::prop_assert!(matches_chosung(&text, &chosung(&text)));
        }

        #[test]
        fn any_part_of_a_compound_finds_it(word in "[가-힣]{2,12}", from in 0usize..12, len in 2usize..12) {
            let chars: Vec<char> = word.chars().collect();
            let from = from % (chars.len() - 1);
            let part: String = chars[from..(from + len).min(chars.len())].iter().collect();
            let indexed = hangul_bigrams(&word);
            proptest::prop_assert!(hangul_bigrams(&part).iter().all(|g| indexed.contains(g)));
        }
    }
}
