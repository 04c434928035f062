//! The Korean source lists of `seed-data/`, compiled into the binary so `classmate seed` works
//! from any directory.

use std::sync::LazyLock;

/// A department and where it teaches (the file's first column, the college, is for people).
pub struct Department {
    pub name: &'static str,
    /// Three letters: the subject prefix of its courses (`CSE`).
    pub code: &'static str,
    pub building: &'static str,
    /// Title stems with their usual year level.
    pub titles: Vec<(&'static str, u8)>,
}

/// Everything the generator draws from.
pub struct SeedData {
    pub departments: Vec<Department>,
    /// General-education (교양) titles, taught under `GEN`.
    pub general: Vec<(&'static str, u8)>,
    pub surnames: Vec<(&'static str, u32)>,
    pub syllables: Vec<&'static str>,
    pub prefixes: Vec<&'static str>,
    pub suffixes: Vec<&'static str>,
}

fn records(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
}

fn titles(text: &'static str) -> Vec<(&'static str, &'static str, u8)> {
    records(text)
        .map(|r| {
            (
                r[0],
                r[1],
                r[2].trim().parse().expect("a year level in seed-data"),
            )
        })
        .collect()
}

/// The lists, parsed once. The files are part of the source; a malformed line is a bug caught
/// by the tests.
pub static DATA: LazyLock<SeedData> = LazyLock::new(|| {
    let all_titles = titles(include_str!("../../../seed-data/courses.tsv"));
    let departments = records(include_str!("../../../seed-data/departments.tsv"))
        .map(|r| Department {
            name: r[1],
            code: r[2],
            building: r[3].trim(),
            titles: all_titles
                .iter()
                .filter(|(code, _, _)| *code == r[2])
                .map(|(_, title, year)| (*title, *year))
                .collect(),
        })
        .collect();
    let mut prefixes = Vec::new();
    let mut suffixes = Vec::new();
    for r in records(include_str!("../../../seed-data/title-modifiers.tsv")) {
        match r[0] {
            "prefix" => prefixes.push(r[1]),
            _ => suffixes.push(r[1]),
        }
    }
    SeedData {
        departments,
        general: titles(include_str!("../../../seed-data/general-courses.tsv"))
            .into_iter()
            .map(|(_, title, year)| (title, year))
            .collect(),
        surnames: records(include_str!("../../../seed-data/family-names.tsv"))
            .map(|r| (r[0], r[1].trim().parse().expect("a weight in seed-data")))
            .collect(),
        syllables: include_str!("../../../seed-data/given-syllables.txt")
            .lines()
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.starts_with('#'))
            .collect(),
        prefixes,
        suffixes,
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_well_formed_and_varied() {
        let data = &*DATA;
        assert!(data.departments.len() >= 50);
        for d in &data.departments {
            assert!(
                d.code.len() == 3 && d.code.bytes().all(|b| b.is_ascii_uppercase()),
                "{}",
                d.code
            );
            assert!(
                d.titles.len() >= 15,
                "{} has {} titles",
                d.name,
                d.titles.len()
            );
            assert!(!d.building.is_empty());
        }
        let mut codes: Vec<&str> = data.departments.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes.len(),
            data.departments.len(),
            "department codes are unique"
        );
        assert!(data.general.len() >= 30);
        assert!(data.surnames.len() >= 50 && data.syllables.len() >= 80);
        assert!(data.prefixes.len() >= 5 && data.suffixes.len() >= 5);
    }
}
